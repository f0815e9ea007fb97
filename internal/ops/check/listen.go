package check

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

type listener struct {
	key, addr string
	tls       bool   // direct TLS
	alpn      string // for direct TLS
	xmppNS    string // stream namespace for STARTTLS ports; "" for HTTP
}

// Listeners checks that each listen address is free, or held by a running
// tern serving this configuration.
func (c *Checker) Listeners(ctx context.Context, cfg *config.Config) []Result {
	var ls []listener
	for _, a := range cfg.C2S.Listen {
		ls = append(ls, listener{"c2s.listen", a, false, "", "jabber:client"})
	}
	for _, a := range cfg.C2S.ListenTLS {
		ls = append(ls, listener{"c2s.listen_tls", a, true, certs.ALPNClient, ""})
	}
	for _, a := range cfg.S2S.Listen {
		ls = append(ls, listener{"s2s.listen", a, false, "", "jabber:server"})
	}
	for _, a := range cfg.S2S.ListenTLS {
		ls = append(ls, listener{"s2s.listen_tls", a, true, certs.ALPNServer, ""})
	}
	if cfg.HTTP.Listen != "" {
		ls = append(ls, listener{"http.listen", cfg.HTTP.Listen, false, "", ""})
	}
	var rs []Result
	ternRunning := false
	var deferred []listener // in use, not identified: judged once we know whether tern runs
	for _, l := range ls {
		name := "listen " + l.addr
		if _, port, _ := net.SplitHostPort(l.addr); port == "0" {
			rs = append(rs, Result{Info, name, l.key + ": port 0, a free port is picked at start"})
			continue
		}
		ln, err := net.Listen("tcp", l.addr)
		if err == nil {
			ln.Close()
			rs = append(rs, Result{OK, name, l.key + ": free"})
			continue
		}
		switch {
		case errors.Is(err, syscall.EADDRINUSE):
		case errors.Is(err, syscall.EACCES) || errors.Is(err, os.ErrPermission):
			rs = append(rs, Result{Error, name, l.key + ": permission denied: ports below 1024 need root or `setcap cap_net_bind_service=+ep $(which tern)`; or use a port above 1024"})
			continue
		case errors.Is(err, syscall.EADDRNOTAVAIL):
			rs = append(rs, Result{Error, name, l.key + ": this machine has no such address: listen on one of its IPs or 0.0.0.0"})
			continue
		default:
			rs = append(rs, Result{Error, name, fmt.Sprintf("%s: cannot listen: %v", l.key, err)})
			continue
		}
		switch who := c.probe(ctx, cfg, l); who {
		case "tern":
			ternRunning = true
			rs = append(rs, Result{Info, name, l.key + ": in use by a running tern serving this configuration's certificate"})
		case "xmpp":
			ternRunning = true
			rs = append(rs, Result{Warning, name, l.key + ": in use by a running XMPP server (tern already running? if not, stop the other server or change " + l.key + ")"})
		default:
			deferred = append(deferred, l)
		}
	}
	for _, l := range deferred {
		name := "listen " + l.addr
		if ternRunning && l.xmppNS == "" && !l.tls {
			rs = append(rs, Result{Info, name, l.key + ": in use, probably by the tern running on the other ports"})
			continue
		}
		rs = append(rs, Result{Error, name, l.key + ": in use by another program: stop it (`ss -ltnp` shows which) or change " + l.key})
	}
	return rs
}

// probe says who holds an address: "tern" (same certificate), "xmpp" (an
// XMPP stream answers), or "".
func (c *Checker) probe(ctx context.Context, cfg *config.Config, l listener) string {
	if l.xmppNS == "" && !l.tls {
		return ""
	}
	dctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", l.addr)
	if err != nil {
		return ""
	}
	defer conn.Close()
	if dl, ok := dctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	domain := cfg.Domains[0]
	if l.tls {
		tc := tls.Client(conn, &tls.Config{
			ServerName:         asciiDomain(domain.Name),
			InsecureSkipVerify: true, // we compare the certificate ourselves
			NextProtos:         []string{l.alpn},
		})
		if err := tc.HandshakeContext(dctx); err != nil {
			return ""
		}
		st := tc.ConnectionState()
		if len(st.PeerCertificates) > 0 && ourCert(cfg, domain, st.PeerCertificates[0].Raw) {
			return "tern"
		}
		if st.NegotiatedProtocol == l.alpn {
			return "xmpp"
		}
		return ""
	}
	fmt.Fprintf(conn, "<?xml version='1.0'?><stream:stream to='%s' version='1.0' xmlns='%s' xmlns:stream='http://etherx.jabber.org/streams'>", domain.Name, l.xmppNS)
	got, ok := readUntil(conn, "</stream:features>")
	if !bytes.Contains(got, []byte("http://etherx.jabber.org/streams")) {
		return ""
	}
	if !ok || !bytes.Contains(got, []byte("urn:ietf:params:xml:ns:xmpp-tls")) {
		return "xmpp"
	}
	// STARTTLS (RFC 6120 §5.4.2), then compare the certificate.
	fmt.Fprint(conn, "<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	if _, ok := readUntil(conn, "<proceed"); !ok {
		return "xmpp"
	}
	tc := tls.Client(conn, &tls.Config{ServerName: asciiDomain(domain.Name), InsecureSkipVerify: true})
	if err := tc.HandshakeContext(dctx); err != nil {
		return "xmpp"
	}
	st := tc.ConnectionState()
	if len(st.PeerCertificates) > 0 && ourCert(cfg, domain, st.PeerCertificates[0].Raw) {
		return "tern"
	}
	return "xmpp"
}

// readUntil reads until marker appears (true), or up to 16 KiB, an error or
// the deadline (false). The peer's bytes are not parsed as XML: the probe
// only needs to recognise a stream.
func readUntil(conn net.Conn, marker string) ([]byte, bool) {
	var got []byte
	buf := make([]byte, 2048)
	for len(got) < 16<<10 {
		n, err := conn.Read(buf)
		got = append(got, buf[:n]...)
		if bytes.Contains(got, []byte(marker)) {
			return got, true
		}
		if err != nil {
			return got, false
		}
	}
	return got, false
}

// ourCert reports whether raw is the leaf certificate configured (or
// generated) for domain: a PEM file, or a PKCS#12 file.
func ourCert(cfg *config.Config, domain config.Domain, raw []byte) bool {
	if domain.PKCS12 != "" {
		p, err := keypair.Source{PKCS12File: domain.PKCS12, PasswordFile: domain.PasswordFile}.Load(time.Time{})
		return p != nil && (err == nil || errors.Is(err, keypair.ErrExpired)) && bytes.Equal(p.Leaf().Raw, raw)
	}
	certFile, _, _ := cfg.CertFiles(domain)
	return sameCert(certFile, raw)
}

func sameCert(certFile string, raw []byte) bool {
	b, err := os.ReadFile(certFile)
	if err != nil {
		return false
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			return bytes.Equal(blk.Bytes, raw)
		}
	}
}
