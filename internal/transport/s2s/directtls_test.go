package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// negotiatedProtocol is the ALPN protocol of c's TLS layer ("" without TLS).
func negotiatedProtocol(c *conn) (string, bool) {
	tc, ok := c.rd.conn.Load().Conn.(*tls.Conn)
	if !ok {
		return "", false
	}
	return tc.ConnectionState().NegotiatedProtocol, true
}

// TestDirectTLS: a static route cannot ask for direct TLS (targets()
// marks only _xmpps-server SRV records direct), so a finds b through DNS:
// an _xmpps-server record pointing at b's XEP-0368 listener, and nothing
// else. TLS starts at once with ALPN xmpp-server (XEP-0368 §3).
func TestDirectTLS(t *testing.T) {
	ca := newCA(t)
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
	bl := countedListener(t, b, true)
	_, port, _ := net.SplitHostPort(bl.Addr().String())
	p, _ := strconv.Atoi(port)
	dnsAddr := dnsServer(t, map[string][]*dns.SRV{
		"_xmpps-server._tcp.b.test.": {{Priority: 0, Weight: 0, Port: uint16(p), Target: "tls.b.test."}},
	})
	var dialled atomic.Value
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, func(c *Config) {
		c.Resolver = NewResolver(dnsAddr)
		// tls.b.test is the loopback; nothing else may be dialled.
		c.Dial = func(ctx context.Context, network, addr string) (net.Conn, error) {
			dialled.Store(addr)
			host, port, err := net.SplitHostPort(addr)
			if err != nil || host != "tls.b.test" {
				return nil, errors.New("unexpected address " + addr)
			}
			var d net.Dialer
			return d.DialContext(ctx, network, net.JoinHostPort("127.0.0.1", port))
		}
	})
	if _, ok := a.s.route("b.test"); ok {
		t.Fatal("a has a static route to b.test")
	}
	b.s.SetRoute("a.test", a.addr)
	bob := b.user(t, "bob@b.test/r")
	alice := a.user(t, "alice@a.test/r")

	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "over direct TLS"))
	if got := bob.next(t); got.ChildText("", "body") != "over direct TLS" || got.Attr("from") != "alice@a.test/r" {
		t.Fatalf("bob got %s", got)
	}
	if got, _ := dialled.Load().(string); got != "tls.b.test:"+port {
		t.Fatalf("a dialled %q, want tls.b.test:%s", got, port)
	}
	if n := bl.n.Load(); n != 1 {
		t.Fatalf("b's direct TLS listener accepted %d connections, want 1", n)
	}
	out := a.outConn("a.test", "b.test")
	if out == nil || !out.out || !out.direct {
		t.Fatalf("a's stream to b (found: %v) is not an outbound direct TLS stream", out != nil)
	}
	if proto, ok := negotiatedProtocol(out); !ok || proto != "xmpp-server" {
		t.Fatalf("a's side: TLS %v, ALPN %q, want xmpp-server", ok, proto)
	}
	var in *conn
	b.s.mu.Lock()
	for c := range b.s.conns {
		if !c.out {
			in = c
		}
	}
	b.s.mu.Unlock()
	if in == nil || !in.direct {
		t.Fatalf("b's stream from a (found: %v) is not an inbound direct TLS stream", in != nil)
	}
	if proto, ok := negotiatedProtocol(in); !ok || proto != "xmpp-server" {
		t.Fatalf("b's side: TLS %v, ALPN %q, want xmpp-server", ok, proto)
	}
	// The answer comes back (over the same stream when bidirectional).
	b.r.Route(context.Background(), message("bob@b.test/r", "alice@a.test/r", "back"))
	if got := alice.next(t); got.ChildText("", "body") != "back" {
		t.Fatalf("alice got %s", got)
	}
}
