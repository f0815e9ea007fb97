package s2s

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newCA(t testing.TB) *testCA {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "tern test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	p := x509.NewCertPool()
	p.AddCert(c)
	return &testCA{c, k, p}
}

// issue makes a serverAuth-only certificate for names (nil ca: self-signed).
func issue(t testing.TB, ca *testCA, names ...string) *tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	n, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: n, Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	parent, pk := tmpl, any(k)
	if ca != nil {
		parent, pk = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &k.PublicKey, pk)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k, Leaf: leaf}
}

type fakeUsers struct{ storage.Users }

func (fakeUsers) GetUser(_ context.Context, domain, username string) (storage.User, error) {
	if username == "nobody" {
		return storage.User{}, storage.ErrNotFound
	}
	return storage.User{Domain: domain, Username: username}, nil
}

type inbox struct {
	ch chan *xml.Element
}

func (b *inbox) Send(el *xml.Element) bool   { b.ch <- el; return true }
func (b *inbox) Backlog() int                { return 0 }
func (b *inbox) NotifyDrained(fn func(bool)) { fn(true) }
func (b *inbox) Close(err *stream.Error)     {}
func (b *inbox) RemoteAddr() string          { return "test" }

func (b *inbox) next(t testing.TB) *xml.Element {
	t.Helper()
	select {
	case el := <-b.ch:
		return el
	case <-time.After(10 * time.Second):
		t.Fatal("nothing delivered in 10s")
		return nil
	}
}

type node struct {
	domain string
	r      *router.Router
	s      *Service
	l      net.Listener
	addr   string
	cfg    Config
	cancel context.CancelFunc
}

type nodeOpt func(*Config)

func newNode(t testing.TB, domain string, cert *tls.Certificate, roots *x509.CertPool, opts ...nodeOpt) *node {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("S2S_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := router.New(logger, []string{domain}, fakeUsers{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := Config{
		ServerTLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert},
			ClientAuth: tls.RequestClientCert, NextProtos: []string{"xmpp-server"}},
		Certificate:    func(string) (*tls.Certificate, bool) { return cert, true },
		Roots:          roots,
		Secret:         secret,
		Dialback:       true,
		Routes:         map[string]string{},
		Resolver:       noDNS{},
		ConnectTimeout: 5 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := New(ctx, cfg, r, logger)
	r.SetRemote(s)
	n := &node{domain: domain, r: r, s: s, l: l, addr: l.Addr().String(), cfg: cfg, cancel: cancel}
	go func() { _ = s.Serve(l, false) }()
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		s.Shutdown(sctx)
		cancel()
	})
	return n
}

// link makes a and b route to each other's listener.
func link(a, b *node) {
	a.s.SetRoute(b.domain, b.addr)
	b.s.SetRoute(a.domain, a.addr)
}

type noDNS struct{}

func (noDNS) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	return "", nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

// user binds an available resource of a local user.
func (n *node) user(t testing.TB, full string) *inbox {
	b := &inbox{ch: make(chan *xml.Element, 1024)}
	res := &router.Resource{JID: jid.MustParse(full), Session: b}
	n.r.Bind(context.Background(), res)
	res.SetPresence(xml.New(xml.NSClient, "presence"), 0)
	return b
}

func message(from, to, body string) *router.Stanza {
	el := xml.New(xml.NSClient, "message", "from", from, "to", to, "type", "chat", "id", "m1")
	el.Append(xml.New(xml.NSClient, "body").SetText(body))
	st, _ := router.NewStanza(el)
	return st
}
