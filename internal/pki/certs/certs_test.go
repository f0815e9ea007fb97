package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

type pair struct{ cert, key string }

// writePair generates a self-signed pair for domain under dir.
func writePair(t *testing.T, dir, domain string) pair {
	t.Helper()
	p := pair{filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")}
	c, k, err := SelfSigned(domain, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.cert, c, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.key, k, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func leafOf(t *testing.T, file string) *x509.Certificate {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSelfSigned(t *testing.T) {
	for _, kt := range []KeyType{ECDSAP256, RSA2048} {
		now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		c, k, err := SelfSigned("café.example", Options{Key: kt, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		pair, err := tls.X509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		leaf := pair.Leaf
		switch kt {
		case ECDSAP256:
			if _, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok {
				t.Errorf("key = %T, want ECDSA", leaf.PublicKey)
			}
		case RSA2048:
			if k, ok := leaf.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != 2048 {
				t.Errorf("key = %T, want RSA-2048", leaf.PublicKey)
			}
		}
		if !slices.Equal(leaf.DNSNames, []string{"xn--caf-dma.example", "*.xn--caf-dma.example"}) {
			t.Errorf("DNSNames = %q", leaf.DNSNames)
		}
		if got := XMPPAddrs(leaf); !slices.Equal(got, []string{"café.example"}) {
			t.Errorf("XMPPAddrs = %q", got)
		}
		if got := leaf.NotAfter.Sub(now); got != 365*24*time.Hour {
			t.Errorf("validity = %v, want one year", got)
		}
		for _, host := range []string{"xn--caf-dma.example", "muc.xn--caf-dma.example"} {
			if err := leaf.VerifyHostname(host); err != nil {
				t.Errorf("VerifyHostname(%s) = %v", host, err)
			}
		}
		if !IsSelfSigned(leaf) {
			t.Error("IsSelfSigned = false")
		}
		if !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) {
			t.Error("no serverAuth EKU")
		}
	}
}

func TestEnsureSelfSignedIdempotent(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	cert, key := filepath.Join(dir, "localhost.crt"), filepath.Join(dir, "localhost.key")
	made, err := EnsureSelfSigned(cert, key, "localhost", Options{})
	if err != nil || !made {
		t.Fatalf("first EnsureSelfSigned = %v, %v", made, err)
	}
	for file, want := range map[string]os.FileMode{cert: 0o644, key: 0o600} {
		st, err := os.Stat(file)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != want {
			t.Errorf("%s mode = %v, want %v", file, st.Mode().Perm(), want)
		}
	}
	before, _ := os.ReadFile(cert)
	made, err = EnsureSelfSigned(cert, key, "localhost", Options{})
	if err != nil || made {
		t.Fatalf("second EnsureSelfSigned = %v, %v; want reuse", made, err)
	}
	after, _ := os.ReadFile(cert)
	if !bytes.Equal(before, after) {
		t.Error("certificate rewritten on second call")
	}
	// Close to expiry: replaced.
	later := func() time.Time { return time.Now().Add(340 * 24 * time.Hour) }
	made, err = EnsureSelfSigned(cert, key, "localhost", Options{Now: later})
	if err != nil || !made {
		t.Fatalf("EnsureSelfSigned near expiry = %v, %v; want renewal", made, err)
	}
	// A lost key: regenerated.
	os.Remove(key)
	if made, err := EnsureSelfSigned(cert, key, "localhost", Options{}); err != nil || !made {
		t.Fatalf("EnsureSelfSigned without key = %v, %v", made, err)
	}
	// Garbage: an error naming the files, nothing overwritten.
	os.WriteFile(cert, []byte("junk"), 0o644)
	if _, err := EnsureSelfSigned(cert, key, "localhost", Options{}); err == nil || !strings.Contains(err.Error(), cert) {
		t.Errorf("EnsureSelfSigned(junk) = %v, want an error naming %s", err, cert)
	}
}

// handshake runs a real TLS handshake over net.Pipe and returns the leaf
// the client saw and the negotiated ALPN protocol.
func handshake(t *testing.T, srv *tls.Config, sni string, roots *x509.CertPool, alpn string) (*x509.Certificate, string) {
	t.Helper()
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	errc := make(chan error, 1)
	go func() {
		s := tls.Server(c1, srv)
		errc <- s.Handshake()
	}()
	cl := tls.Client(c2, &tls.Config{ServerName: sni, RootCAs: roots, NextProtos: []string{alpn},
		InsecureSkipVerify: sni == "", MinVersion: tls.VersionTLS12})
	if err := cl.Handshake(); err != nil {
		t.Fatalf("client handshake (SNI %q): %v", sni, err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	st := cl.ConnectionState()
	return st.PeerCertificates[0], st.NegotiatedProtocol
}

func TestSNISelection(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a.example")
	b := writePair(t, dir, "b.example")
	m, err := NewManager(nil, []Source{{Domain: "a.example", CertFile: a.cert, KeyFile: a.key}, {Domain: "b.example", CertFile: b.cert, KeyFile: b.key}})
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leafOf(t, a.cert))
	roots.AddCert(leafOf(t, b.cert))
	tests := []struct {
		sni, want string // want: the domain whose cert must be served
	}{
		{"a.example", "a.example"},
		{"b.example", "b.example"},
		{"B.Example", "b.example"},
		{"muc.b.example", "b.example"}, // wildcard
		{"", "a.example"},              // no SNI: default
	}
	for _, tt := range tests {
		t.Run(tt.sni, func(t *testing.T) {
			leaf, proto := handshake(t, ServerTLSConfig(m), tt.sni, roots, ALPNClient)
			if leaf.Subject.CommonName != tt.want {
				t.Errorf("SNI %q served %s, want %s", tt.sni, leaf.Subject.CommonName, tt.want)
			}
			if proto != ALPNClient {
				t.Errorf("ALPN = %q", proto)
			}
		})
	}
	// Unknown name: the default certificate, which the client rejects.
	hello := &tls.ClientHelloInfo{ServerName: "other.test"}
	c, _ := m.GetCertificate(hello)
	if c.Leaf.Subject.CommonName != "a.example" {
		t.Errorf("unknown SNI served %s, want the first domain", c.Leaf.Subject.CommonName)
	}
	if _, proto := handshake(t, S2STLSConfig(m), "b.example", roots, ALPNServer); proto != ALPNServer {
		t.Errorf("s2s ALPN = %q", proto)
	}
}

func TestTLSPolicy(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a.example")
	m, err := NewManager(nil, []Source{{Domain: "a.example", CertFile: a.cert, KeyFile: a.key}})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go tls.Server(c1, ServerTLSConfig(m)).Handshake()
	// TLS 1.1 is refused.
	cl := tls.Client(c2, &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11, MinVersion: tls.VersionTLS10})
	if err := cl.Handshake(); err == nil {
		t.Error("TLS 1.1 handshake succeeded")
	}
	cfg := ServerTLSConfig(m)
	for _, s := range cfg.CipherSuites {
		name := tls.CipherSuiteName(s)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !(strings.Contains(name, "GCM") || strings.Contains(name, "CHACHA20")) {
			t.Errorf("suite %s is not ECDHE+AEAD", name)
		}
	}
}

func TestReload(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a.example")
	m, err := NewManager(nil, []Source{{Domain: "a.example", CertFile: a.cert, KeyFile: a.key}})
	if err != nil {
		t.Fatal(err)
	}
	old, _ := m.Certificate("a.example")
	// A renewed certificate replaces the old one.
	writePair(t, dir, "a.example")
	if err := m.Reload(); err != nil {
		t.Fatal(err)
	}
	renewed, _ := m.Certificate("a.example")
	if renewed.Leaf.SerialNumber.Cmp(old.Leaf.SerialNumber) == 0 {
		t.Fatal("Reload kept the old certificate")
	}
	// A broken file: error naming it, the renewed one still served.
	if err := os.WriteFile(a.cert, []byte("-----BEGIN CERTIFICATE-----\nbroken\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = m.Reload()
	if err == nil || !strings.Contains(err.Error(), a.cert) || !strings.Contains(err.Error(), "previous") {
		t.Fatalf("Reload(broken) = %v, want an error naming %s", err, a.cert)
	}
	kept, _ := m.GetCertificate(&tls.ClientHelloInfo{ServerName: "a.example"})
	if kept.Leaf.SerialNumber.Cmp(renewed.Leaf.SerialNumber) != 0 {
		t.Error("a failed Reload replaced the certificate")
	}
	// Mismatched key: also refused.
	other := writePair(t, t.TempDir(), "a.example")
	writePair(t, dir, "a.example")
	keyBytes, _ := os.ReadFile(other.key)
	os.WriteFile(a.key, keyBytes, 0o600)
	if err := m.Reload(); err == nil {
		t.Error("Reload accepted a key not matching the certificate")
	}
}

func TestNewManagerErrors(t *testing.T) {
	if _, err := NewManager(nil, nil); err == nil {
		t.Error("NewManager(no sources) = nil error")
	}
	_, err := NewManager(nil, []Source{{Domain: "a.example", CertFile: "/nonexistent/a.crt", KeyFile: "/nonexistent/a.key"}})
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/a.crt") {
		t.Errorf("NewManager(missing) = %v", err)
	}
}

func TestInfos(t *testing.T) {
	dir := t.TempDir()
	a := writePair(t, dir, "a.example")
	m, err := NewManager(nil, []Source{{Domain: "a.example", CertFile: a.cert, KeyFile: a.key}})
	if err != nil {
		t.Fatal(err)
	}
	in := m.Infos()
	if len(in) != 1 || in[0].Domain != "a.example" || !in[0].SelfSigned || in[0].CertFile != a.cert || in[0].NotAfter.IsZero() {
		t.Errorf("Infos = %+v", in)
	}
}

func FuzzXMPPAddrs(f *testing.F) {
	c, _, _ := SelfSigned("a.example", Options{})
	blk, _ := pem.Decode(c)
	cert, _ := x509.ParseCertificate(blk.Bytes)
	for _, e := range cert.Extensions {
		f.Add(e.Value)
	}
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, v []byte) {
		XMPPAddrs(&x509.Certificate{Extensions: cert.Extensions[:0:0]})
		c := &x509.Certificate{}
		c.Extensions = append(c.Extensions, cert.Extensions...)
		for i := range c.Extensions {
			if c.Extensions[i].Id.Equal(oidSAN) {
				c.Extensions[i].Value = v
			}
		}
		_ = XMPPAddrs(c)
	})
}

// writeNamed writes a self-signed pair for cn carrying exactly the given
// SAN dNSNames.
func writeNamed(t *testing.T, dir, cn string, names ...string) pair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	p := pair{filepath.Join(dir, cn+".crt"), filepath.Join(dir, cn+".key")}
	if err := os.WriteFile(p.cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestDirectSNI: TIM+ (timplus.md §5 item 2) serves a Direct domain's
// names (the domain, groupchat.<d>, ftproxystream.<d>) only with a
// certificate whose SAN dNSName is that name exactly; none: no handshake
// (no wildcard, no default certificate). Plain domains keep the fallbacks.
func TestDirectSNI(t *testing.T) {
	dir := t.TempDir()
	plain := writePair(t, dir, "plain.example") // plain.example and *.plain.example
	d := writeNamed(t, dir, "d.example", "d.example", "ftproxystream.d.example", "*.d.example")
	bad := writeNamed(t, dir, "bad.example", "other.example", "*.bad.example")
	sub := writePair(t, dir, "chat.d.example") // a plain domain under the Direct one
	m, err := NewManager(nil, []Source{
		{Domain: "plain.example", CertFile: plain.cert, KeyFile: plain.key},
		{Domain: "d.example", CertFile: d.cert, KeyFile: d.key, Direct: true},
		{Domain: "bad.example", CertFile: bad.cert, KeyFile: bad.key, Direct: true},
		{Domain: "chat.d.example", CertFile: sub.cert, KeyFile: sub.key},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct{ sni, want string }{ // want: the CN served, "" = refused
		{"d.example", "d.example"},
		{"FTProxyStream.d.example", "d.example"},
		{"groupchat.d.example", ""}, // only the wildcard covers it
		{"a.b.d.example", ""},
		{"bad.example", ""}, // its own certificate lacks the name
		{"ftproxystream.bad.example", ""},
		{"chat.d.example", "chat.d.example"},     // plain: its own certificate
		{"muc.chat.d.example", "chat.d.example"}, // plain: wildcard
		{"muc.plain.example", "plain.example"},   // plain: wildcard
		{"unknown.example", "plain.example"},     // plain: default
	} {
		c, err := m.GetCertificate(&tls.ClientHelloInfo{ServerName: tt.sni})
		switch {
		case tt.want == "" && err == nil:
			t.Errorf("SNI %s: served %s; want no certificate", tt.sni, c.Leaf.Subject.CommonName)
		case tt.want == "" && !strings.Contains(err.Error(), "SAN dNSName "+strings.ToLower(tt.sni)):
			t.Errorf("SNI %s: error %q does not name the missing SAN", tt.sni, err)
		case tt.want != "" && err != nil:
			t.Errorf("SNI %s: %v; want %s", tt.sni, err, tt.want)
		case tt.want != "" && c.Leaf.Subject.CommonName != tt.want:
			t.Errorf("SNI %s: served %s; want %s", tt.sni, c.Leaf.Subject.CommonName, tt.want)
		}
	}
	// Through a real handshake: refused, the client sees an alert.
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	go func() { _ = tls.Server(c1, ServerTLSConfig(m)).Handshake(); c1.Close() }()
	if err := tls.Client(c2, &tls.Config{ServerName: "groupchat.d.example", InsecureSkipVerify: true}).Handshake(); err == nil {
		t.Error("handshake with SNI groupchat.d.example succeeded; want a failure")
	}
	// The s2s client certificate of a service name: the certificate that carries it.
	if c, ok := m.Certificate("ftproxystream.d.example"); !ok || c.Leaf.Subject.CommonName != "d.example" {
		t.Errorf("Certificate(ftproxystream.d.example) = %v, %v; want d.example's", c, ok)
	}
	if _, ok := m.Certificate("groupchat.d.example"); ok {
		t.Error("Certificate(groupchat.d.example) found one; no certificate carries it")
	}
}
