package s2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"io"
	"log/slog"
	"net"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
)

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// countedListener makes n also accept on a new listener that counts what
// it accepts (directTLS: XEP-0368 on it).
func countedListener(t testing.TB, n *node, directTLS bool) *countingListener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &countingListener{Listener: l}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = n.s.Serve(cl, directTLS)
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	return cl
}

// newMultiNode is newNode for a server with several local domains, each
// with its own certificate (certs[domain]).
func newMultiNode(t testing.TB, domains []string, certs map[string]*tls.Certificate, roots *x509.CertPool, opts ...nodeOpt) *node {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("S2S_DEBUG") != "" {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	r := router.New(logger, domains, fakeUsers{})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var all []tls.Certificate
	for _, d := range domains {
		all = append(all, *certs[d])
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	cfg := Config{
		ServerTLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: all,
			ClientAuth: tls.RequestClientCert, NextProtos: []string{"xmpp-server"}},
		Certificate: func(d string) (*tls.Certificate, bool) {
			c, ok := certs[d]
			return c, ok
		},
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
	n := &node{domain: domains[0], r: r, s: s, l: l, addr: l.Addr().String(), cfg: cfg, cancel: cancel}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = s.Serve(l, false)
	}()
	t.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		s.Shutdown(sctx)
		cancel()
		<-done
	})
	return n
}

// outConn is the stream a uses for the pair, or nil.
func (n *node) outConn(local, remote string) *conn {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	if rt := n.s.routes[pair{local, remote}]; rt != nil {
		return rt.conn
	}
	return nil
}

// dialed reports whether n has an outbound stream to remote.
func (n *node) dialed(remote string) bool {
	n.s.mu.Lock()
	defer n.s.mu.Unlock()
	for c := range n.s.conns {
		c.mu.Lock()
		r := c.remote
		c.mu.Unlock()
		if c.out && r == remote {
			return true
		}
	}
	return false
}

// TestPiggyback: a server with two domains reaches a peer for the second
// over the stream it opened for the first, with a second <db:result/>
// (XEP-0220 §2.5, XEP-0344), and opens a new stream when the peer refuses.
func TestPiggyback(t *testing.T) {
	ca := newCA(t)
	for _, tc := range []struct {
		name string
		// one certificate for both domains, or one each
		shared bool
		// peer policy: valid certificates only
		strict bool
		// TCP connections b accepts from a
		wantConns int32
		// b asks a2.test's authoritative server (db:verify)
		wantVerify bool
	}{
		{"certificate covers both domains", true, true, 1, false},
		{"dialback for the second domain", false, false, 1, true},
		{"peer refuses the second domain", false, true, 2, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			certs := map[string]*tls.Certificate{"a1.test": issue(t, ca, "a1.test"), "a2.test": issue(t, ca, "a2.test")}
			if tc.shared {
				both := issue(t, ca, "a1.test", "a2.test")
				certs["a1.test"], certs["a2.test"] = both, both
			}
			a := newMultiNode(t, []string{"a1.test", "a2.test"}, certs, ca.pool)
			b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, func(c *Config) { c.RequireValidCerts = tc.strict })
			bl := countedListener(t, b, false)
			a.s.SetRoute("b.test", bl.Addr().String())
			b.s.SetRoute("a1.test", a.addr) // dialback verification goes there
			b.s.SetRoute("a2.test", a.addr)
			bob := b.user(t, "bob@b.test/r")

			a.r.Route(context.Background(), message("alice@a1.test/r", "bob@b.test", "from a1"))
			if got := bob.next(t); got.ChildText("", "body") != "from a1" || got.Attr("from") != "alice@a1.test/r" {
				t.Fatalf("first message: bob got %s", got)
			}
			a.r.Route(context.Background(), message("carol@a2.test/r", "bob@b.test", "from a2"))
			if got := bob.next(t); got.ChildText("", "body") != "from a2" || got.Attr("from") != "carol@a2.test/r" {
				t.Fatalf("second message: bob got %s", got)
			}
			if n := bl.n.Load(); n != tc.wantConns {
				t.Fatalf("b accepted %d connections from a, want %d", n, tc.wantConns)
			}
			c1, c2 := a.outConn("a1.test", "b.test"), a.outConn("a2.test", "b.test")
			if c1 == nil || c2 == nil {
				t.Fatalf("routes not set: a1 %v, a2 %v", c1, c2)
			}
			if same := c1 == c2; same != (tc.wantConns == 1) {
				t.Fatalf("both pairs on one stream: %v, want %v", same, tc.wantConns == 1)
			}
			if v := b.dialed("a2.test"); v != tc.wantVerify {
				t.Fatalf("b opened a stream to a2.test to verify a key: %v, want %v", v, tc.wantVerify)
			}
			// Both pairs keep working on their streams.
			a.r.Route(context.Background(), message("alice@a1.test/r", "bob@b.test", "again a1"))
			a.r.Route(context.Background(), message("carol@a2.test/r", "bob@b.test", "again a2"))
			got := map[string]string{}
			for range 2 {
				el := bob.next(t)
				got[el.ChildText("", "body")] = el.Attr("from")
			}
			if got["again a1"] != "alice@a1.test/r" || got["again a2"] != "carol@a2.test/r" {
				t.Fatalf("later messages: %v", got)
			}
			if n := bl.n.Load(); n != tc.wantConns {
				t.Fatalf("b accepted %d connections from a after more traffic, want %d", n, tc.wantConns)
			}
		})
	}
}
