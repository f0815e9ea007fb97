package keypair

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Keys are generated once per test binary: RSA generation is the slow part.
var (
	keysOnce sync.Once
	rsaKeys  []*rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
)

func keys(t testing.TB) {
	keysOnce.Do(func() {
		for range 3 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			rsaKeys = append(rsaKeys, k)
		}
		ecKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
}

// mint issues a certificate from tmpl (defaults filled in) signed by
// parent/parentKey, or self-signed when parent is nil.
func mint(t testing.TB, tmpl *x509.Certificate, key crypto.Signer, parent *x509.Certificate, parentKey crypto.Signer) *x509.Certificate {
	t.Helper()
	if tmpl.SerialNumber == nil {
		tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	}
	if tmpl.NotBefore.IsZero() {
		tmpl.NotBefore = time.Now().Add(-time.Hour)
	}
	if tmpl.NotAfter.IsZero() {
		tmpl.NotAfter = time.Now().Add(365 * 24 * time.Hour)
	}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type lab struct {
	root, inter, leaf         *x509.Certificate
	rootKey, interKey, leafKy crypto.Signer
}

func domainTemplate(domain string) *x509.Certificate {
	return &x509.Certificate{
		Subject:               pkix.Name{CommonName: domain},
		DNSNames:              []string{domain, "groupchat." + domain, "ftproxystream." + domain},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		CRLDistributionPoints: []string{"http://127.0.0.1:5280/pki/lab/crl.der"},
		IssuingCertificateURL: []string{"http://127.0.0.1:5280/pki/lab/ca.der"},
	}
}

func newLab(t testing.TB, leafTmpl *x509.Certificate) *lab {
	keys(t)
	l := &lab{rootKey: rsaKeys[0], interKey: ecKey, leafKy: rsaKeys[1]}
	caTmpl := func(cn string) *x509.Certificate {
		return &x509.Certificate{Subject: pkix.Name{CommonName: cn}, IsCA: true, BasicConstraintsValid: true,
			KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	l.root = mint(t, caTmpl("Lab Root"), l.rootKey, nil, nil)
	l.inter = mint(t, caTmpl("Lab Intermediate"), l.interKey, l.root, l.rootKey)
	l.leaf = mint(t, leafTmpl, l.leafKy, l.inter, l.interKey)
	return l
}

func pemCerts(cs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return b
}

func write(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadPEMKeyFormats(t *testing.T) {
	l := newLab(t, domainTemplate("a.example"))
	dir := t.TempDir()
	rsaK := l.leafKy.(*rsa.PrivateKey)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(rsaK)
	// Chain out of order on purpose: intermediate first.
	certFile := write(t, dir, "chain.pem", pemCerts(l.inter, l.leaf))
	for name, block := range map[string]*pem.Block{
		"pkcs1": {Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaK)},
		"pkcs8": {Type: "PRIVATE KEY", Bytes: pkcs8},
	} {
		keyFile := write(t, dir, name+".key", pem.EncodeToMemory(block))
		p, err := LoadPEMFiles(certFile, keyFile, time.Now())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(p.Chain) != 2 || p.Leaf() != p.Chain[0] || p.Chain[0].Subject.CommonName != "a.example" || p.Chain[1].Subject.CommonName != "Lab Intermediate" {
			t.Errorf("%s: chain = %v", name, p.Chain)
		}
		if tc := p.TLSCertificate(); len(tc.Certificate) != 2 {
			t.Errorf("%s: tls chain of %d", name, len(tc.Certificate))
		}
	}

	// SEC1 EC key, and cert+key in one file.
	ecLeaf := mint(t, domainTemplate("b.example"), ecKey, l.inter, l.interKey)
	sec1, _ := x509.MarshalECPrivateKey(ecKey)
	both := write(t, dir, "both.pem", append(pemCerts(ecLeaf, l.inter), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...))
	if p, err := LoadPEMFiles(both, both, time.Now()); err != nil || p.Leaf().Subject.CommonName != "b.example" {
		t.Errorf("combined SEC1 file: %v", err)
	}
}

func TestLoadPEMErrors(t *testing.T) {
	l := newLab(t, domainTemplate("a.example"))
	dir := t.TempDir()
	certFile := write(t, dir, "cert.pem", pemCerts(l.leaf, l.inter))
	goodKey := write(t, dir, "good.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(l.leafKy.(*rsa.PrivateKey))}))
	otherKey := write(t, dir, "other.key", pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKeys[2])}))
	encKey := write(t, dir, "enc.key", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1, 2}}))
	empty := write(t, dir, "empty.pem", nil)
	garbage := write(t, dir, "garbage.pem", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	expired := mint(t, &x509.Certificate{Subject: pkix.Name{CommonName: "old"}, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}, l.leafKy, l.inter, l.interKey)
	expiredFile := write(t, dir, "expired.pem", pemCerts(expired))
	for _, tt := range []struct {
		name, cert, key string
		err             error
		want            []string
	}{
		{"mismatch", certFile, otherKey, ErrKeyMismatch, []string{"cert.pem", "other.key", "belongs to none"}},
		{"key as cert", goodKey, goodKey, ErrNoCertificate, []string{"good.key", "is it the key file?"}},
		{"cert as key", certFile, certFile, ErrNoKey, []string{"cert.pem", "PKCS#1, PKCS#8 or SEC1"}},
		{"encrypted", certFile, encKey, ErrEncryptedKey, []string{"enc.key", "openssl pkey"}},
		{"empty", empty, goodKey, ErrNoCertificate, []string{"empty.pem", "empty"}},
		{"garbage", garbage, goodKey, ErrMalformed, []string{"garbage.pem", "block 1"}},
		{"expired", expiredFile, goodKey, ErrExpired, []string{"expired.pem", "expired on", "renew"}},
	} {
		_, err := LoadPEMFiles(tt.cert, tt.key, time.Now())
		if !errors.Is(err, tt.err) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tt.name, err, w)
			}
		}
	}
	if _, err := LoadPEMFiles(filepath.Join(dir, "missing.pem"), goodKey, time.Now()); err == nil || !strings.Contains(err.Error(), "missing.pem") {
		t.Errorf("missing file: %v", err)
	}
}

func requireOpenSSL(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl is not installed; CI must have it (apt-get install openssl)")
		}
		t.Skip("openssl not installed: skipping the PKCS#12 interop test (install openssl to run it)")
	}
	return p
}

// TestPKCS12OpenSSL loads files made by the real `openssl pkcs12 -export`
// in the forms CAs and admin consoles hand out.
func TestPKCS12OpenSSL(t *testing.T) {
	openssl := requireOpenSSL(t)
	l := newLab(t, domainTemplate("a.example"))
	dir := t.TempDir()
	certFile := write(t, dir, "leaf.pem", pemCerts(l.leaf))
	interFile := write(t, dir, "inter.pem", pemCerts(l.inter))
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(l.leafKy)
	keyFile := write(t, dir, "leaf.key", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	for _, tt := range []struct {
		name, password string
		args           []string
	}{
		{"openssl3-default-aes", "s3cret", nil},
		{"legacy", "s3cret", []string{"-legacy"}},
		{"legacy-3des-sha1", "s3cret", []string{"-legacy", "-certpbe", "PBE-SHA1-3DES", "-keypbe", "PBE-SHA1-3DES", "-macalg", "sha1"}},
		{"empty-password", "", nil},
		{"no-encryption", "", []string{"-keypbe", "NONE", "-certpbe", "NONE", "-nomac"}},
	} {
		out := filepath.Join(dir, tt.name+".p12")
		args := append([]string{"pkcs12", "-export", "-in", certFile, "-inkey", keyFile, "-certfile", interFile, "-out", out, "-passout", "pass:" + tt.password}, tt.args...)
		if b, err := exec.Command(openssl, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s: openssl %v: %v\n%s", tt.name, args, err, b)
		}
		p, err := LoadPKCS12File(out, tt.password, time.Now())
		if err != nil {
			t.Errorf("%s: %v", tt.name, err)
			continue
		}
		if len(p.Chain) != 2 || !p.Chain[0].Equal(l.leaf) || !p.Chain[1].Equal(l.inter) {
			t.Errorf("%s: chain %v", tt.name, p.Chain)
		}
		if tt.name == "no-encryption" {
			if _, err := LoadPKCS12File(out, "x", time.Now()); !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), "has no password") {
				t.Errorf("%s: with a password: %v", tt.name, err)
			}
		}
		if tt.password != "" {
			_, err := LoadPKCS12File(out, "wrong", time.Now())
			if !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), out) || !strings.Contains(err.Error(), "password file") {
				t.Errorf("%s: wrong password: %v", tt.name, err)
			}
			if _, err := LoadPKCS12File(out, "", time.Now()); !errors.Is(err, ErrWrongPassword) || !strings.Contains(err.Error(), "give it a password file") {
				t.Errorf("%s: no password: %v", tt.name, err)
			}
		}
	}
}

func TestPKCS12Errors(t *testing.T) {
	dir := t.TempDir()
	pemFile := write(t, dir, "x.p12", []byte("-----BEGIN CERTIFICATE-----\n"))
	if _, err := LoadPKCS12File(pemFile, "", time.Now()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "PEM file") {
		t.Errorf("PEM as p12: %v", err)
	}
	junk := write(t, dir, "junk.p12", []byte{0x30, 0x03, 0x02, 0x01, 0x03})
	if _, err := LoadPKCS12File(junk, "", time.Now()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "junk.p12") {
		t.Errorf("junk: %v", err)
	}
}

func TestCheckDirectDomainCertGood(t *testing.T) {
	l := newLab(t, domainTemplate("a.example"))
	if ps := CheckDirectDomainCert([]*x509.Certificate{l.leaf, l.inter}, "a.example", []string{"groupchat", "ftproxystream.a.example"}, time.Now()); len(ps) != 0 {
		t.Errorf("problems with a good certificate: %v", ps)
	}
	// ECDSA P-256 needs no keyEncipherment.
	tm := domainTemplate("a.example")
	tm.KeyUsage = x509.KeyUsageDigitalSignature
	ec := mint(t, tm, ecKey, l.inter, l.interKey)
	if ps := CheckDirectDomainCert([]*x509.Certificate{ec, l.inter}, "A.Example.", nil, time.Now()); len(ps) != 0 {
		t.Errorf("problems with a good ECDSA certificate: %v", ps)
	}
}

func TestCheckDirectDomainCertProblems(t *testing.T) {
	keys(t)
	l := newLab(t, domainTemplate("a.example"))
	now := time.Now()
	for _, tt := range []struct {
		name   string
		modify func(*x509.Certificate)
		chain  func(leaf *x509.Certificate) []*x509.Certificate
		want   []string // Severity: substring
	}{
		{name: "cn only", modify: func(c *x509.Certificate) { c.DNSNames = nil },
			want: []string{"error: no subjectAltName dNSName (the subject CN \"a.example\" is not used", "lacks dNSName groupchat.a.example", "lacks dNSName ftproxystream.a.example"}},
		{name: "wildcard", modify: func(c *x509.Certificate) { c.DNSNames = []string{"*.a.example"} },
			want: []string{"error: subjectAltName lacks dNSName a.example (the wildcard *.a.example does not count", "lacks dNSName groupchat.a.example (the wildcard", "lacks dNSName ftproxystream.a.example (the wildcard", "warning: wildcard dNSName"}},
		{name: "services missing", modify: func(c *x509.Certificate) { c.DNSNames = []string{"a.example"} },
			want: []string{"lacks dNSName groupchat.a.example", "lacks dNSName ftproxystream.a.example"}},
		{name: "no crl dp", modify: func(c *x509.Certificate) { c.CRLDistributionPoints = nil },
			want: []string{"error: no CRL distribution point"}},
		{name: "ldap crl dp", modify: func(c *x509.Certificate) { c.CRLDistributionPoints = []string{"ldap://x/cn=crl"} },
			want: []string{"error: CRL distribution point ldap://x/cn=crl is not an http(s) URL"}},
		{name: "expired", modify: func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(-48*time.Hour), now.Add(-time.Hour) },
			want: []string{"error: expired on"}},
		{name: "not yet", modify: func(c *x509.Certificate) { c.NotBefore, c.NotAfter = now.Add(time.Hour), now.Add(48*time.Hour) },
			want: []string{"error: not valid before"}},
		{name: "expiring", modify: func(c *x509.Certificate) { c.NotAfter = now.Add(10 * 24 * time.Hour) },
			want: []string{"warning: expires on"}},
		{name: "no key usage", modify: func(c *x509.Certificate) { c.KeyUsage = 0 },
			want: []string{"error: no keyUsage extension: the profile needs digitalSignature and keyEncipherment"}},
		{name: "no keyEncipherment", modify: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageDigitalSignature },
			want: []string{"error: keyUsage lacks keyEncipherment"}},
		{name: "no digitalSignature", modify: func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment },
			want: []string{"error: keyUsage lacks digitalSignature"}},
		{name: "server only", modify: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth} },
			want: []string{"warning: extendedKeyUsage lacks clientAuth"}},
		{name: "client only", modify: func(c *x509.Certificate) { c.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth} },
			want: []string{"error: extendedKeyUsage lacks serverAuth"}},
		{name: "ca", modify: func(c *x509.Certificate) { c.IsCA = true },
			want: []string{"error: the certificate is a CA"}},
		{name: "sha1", modify: func(c *x509.Certificate) { c.SignatureAlgorithm = x509.SHA1WithRSA },
			want: []string{"error: the certificate is signed with SHA1-RSA"}},
		{name: "wrong order", chain: func(leaf *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{leaf, l.root} },
			want: []string{"error: the certificate is not issued by the next certificate"}},
		{name: "no intermediate", modify: func(c *x509.Certificate) { c.IssuingCertificateURL = nil },
			chain: func(leaf *x509.Certificate) []*x509.Certificate { return []*x509.Certificate{leaf} },
			want:  []string{"warning: the file holds no intermediate"}},
	} {
		tm := domainTemplate("a.example")
		if tt.modify != nil {
			tt.modify(tm)
		}
		parent, pk := l.inter, l.interKey
		if tt.name == "sha1" {
			parent, pk = l.root, l.rootKey // ECDSA cannot sign SHA1-RSA
		}
		c := mint(t, tm, l.leafKy, parent, pk)
		chain := []*x509.Certificate{c, parent}
		if tt.chain != nil {
			chain = tt.chain(c)
		}
		ps := CheckDirectDomainCert(chain, "a.example", []string{"groupchat", "ftproxystream"}, now)
		var got []string
		for _, p := range ps {
			got = append(got, p.String())
		}
		all := strings.Join(got, "\n")
		for _, w := range tt.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: problems lack %q:\n%s", tt.name, w, all)
			}
		}
		if len(ps) != len(tt.want) {
			t.Errorf("%s: %d problems, want %d:\n%s", tt.name, len(ps), len(tt.want), all)
		}
	}

	// Small RSA key and a foreign curve.
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	c := mint(t, domainTemplate("a.example"), small, l.inter, l.interKey)
	if ps := CheckDirectDomainCert([]*x509.Certificate{c, l.inter}, "a.example", nil, now); len(ps) != 1 || !strings.Contains(ps[0].Text, "RSA key of 1024 bits") {
		t.Errorf("1024-bit key: %v", ps)
	}
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	tm := domainTemplate("a.example")
	tm.KeyUsage = x509.KeyUsageDigitalSignature
	c = mint(t, tm, p224, l.inter, l.interKey)
	if ps := CheckDirectDomainCert([]*x509.Certificate{c, l.inter}, "a.example", nil, now); len(ps) != 1 || !strings.Contains(ps[0].Text, "P-224") {
		t.Errorf("P-224 key: %v", ps)
	}
	if ps := CheckDirectDomainCert(nil, "a.example", nil, now); len(ps) != 1 {
		t.Errorf("empty chain: %v", ps)
	}
}

func TestSource(t *testing.T) {
	l := newLab(t, domainTemplate("a.example"))
	dir := t.TempDir()
	certFile := write(t, dir, "c.pem", pemCerts(l.leaf, l.inter))
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(l.leafKy)
	keyFile := write(t, dir, "k.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	if p, err := (Source{CertFile: certFile, KeyFile: keyFile}).Load(time.Time{}); err != nil || len(p.Chain) != 2 {
		t.Errorf("PEM source: %v", err)
	}
	empty := write(t, dir, "empty.pw", []byte("\n"))
	pw := write(t, dir, "pw", []byte("s3cret\r\n"))
	if got, err := ReadPasswordFile(pw); err != nil || got != "s3cret" {
		t.Errorf("ReadPasswordFile = %q, %v", got, err)
	}
	for _, tt := range []struct {
		s    Source
		want string
	}{
		{Source{}, "no certificate configured"},
		{Source{CertFile: certFile}, "no certificate configured"},
		{Source{CertFile: certFile, KeyFile: keyFile, PKCS12File: "x.p12"}, "not both"},
		{Source{CertFile: certFile, KeyFile: keyFile, PasswordFile: pw}, "PEM keys must be unencrypted"},
		{Source{PKCS12File: "x.p12", PasswordFile: empty}, "first line is empty"},
		{Source{PKCS12File: filepath.Join(dir, "none.p12")}, "none.p12"},
	} {
		if _, err := tt.s.Load(time.Time{}); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: %v, want %q", tt.s, err, tt.want)
		}
	}
}

// FuzzParsePEM: whatever the files hold, parsing returns a pair or an
// error, never panics. (PKCS#12 is not fuzzed here: a mutated iteration
// count makes go-pkcs12 run PBKDF2 for minutes; its input is the
// operator's own file, not a peer's.)
func FuzzParsePEM(f *testing.F) {
	// ECDSA only: RSA key generation under fuzzing instrumentation takes
	// minutes per worker.
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tm := domainTemplate("a.example")
	tm.KeyUsage = x509.KeyUsageDigitalSignature
	leaf := mint(f, tm, k, nil, nil)
	sec1, _ := x509.MarshalECPrivateKey(k)
	key := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})
	f.Add(pemCerts(leaf), key)
	f.Add(leaf.Raw, []byte("-----BEGIN EC PRIVATE KEY-----\nMAA=\n-----END EC PRIVATE KEY-----\n"))
	f.Fuzz(func(t *testing.T, certPEM, keyPEM []byte) {
		p, err := ParsePEM(certPEM, keyPEM)
		if (p == nil) == (err == nil) {
			t.Fatalf("ParsePEM = %v, %v", p, err)
		}
		if p != nil {
			CheckDirectDomainCert(p.Chain, "a.example", []string{"groupchat"}, time.Now())
		}
	})
}

func TestCheckDirectDomain(t *testing.T) {
	l := newLab(t, domainTemplate("a.example"))
	dir := t.TempDir()
	certFile := write(t, dir, "c.pem", pemCerts(l.leaf, l.inter))
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(l.leafKy)
	keyFile := write(t, dir, "k.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}))
	src := Source{CertFile: certFile, KeyFile: keyFile}
	if ps := CheckDirectDomain(src, "a.example", []string{"groupchat"}, time.Now()); len(ps) != 0 {
		t.Errorf("good: %v", ps)
	}
	os.Chmod(keyFile, 0o644)
	ps := CheckDirectDomain(src, "b.example", nil, time.Now())
	if len(ps) != 2 || ps[0].Severity != Warning || !strings.Contains(ps[0].Text, "chmod 600 "+keyFile) || !strings.Contains(ps[1].Text, "lacks dNSName b.example") {
		t.Errorf("readable key, other domain: %v", ps)
	}
	// Expired: loaded anyway, so every problem is listed.
	if ps := CheckDirectDomain(src, "a.example", nil, time.Now().Add(2*365*24*time.Hour)); len(ps) < 2 || !strings.Contains(ps[1].Text, "expired on") {
		t.Errorf("expired: %v", ps)
	}
	if ps := CheckDirectDomain(Source{CertFile: keyFile, KeyFile: keyFile}, "a.example", nil, time.Now()); len(ps) != 1 || !strings.Contains(ps[0].Text, "is it the key file?") {
		t.Errorf("load error: %v", ps)
	}
}
