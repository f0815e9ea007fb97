package s2s

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// rawServer is a hand-driven peer server that a node dials.
type rawServer struct {
	t   *testing.T
	c   net.Conn
	dec *xml.Decoder
}

// listenRaw listens for a node's outbound streams.
func listenRaw(t *testing.T) net.Listener {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// silentListener accepts connections and never speaks.
func silentListener(t *testing.T) string {
	l := listenRaw(t)
	go func() {
		var cs []net.Conn
		defer func() {
			for _, c := range cs {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			cs = append(cs, c)
		}
	}()
	return l.Addr().String()
}

// acceptRaw accepts a stream from a node (to: its domain), runs STARTTLS
// as domain with cert, and sends features after the TLS restart.
func acceptRaw(t *testing.T, l net.Listener, domain, to string, cert *tls.Certificate, features string) *rawServer {
	t.Helper()
	_ = l.(*net.TCPListener).SetDeadline(time.Now().Add(10 * time.Second))
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	p := &rawServer{t: t, c: c}
	p.open(domain, to, "rs1", `<stream:features><starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls></stream:features>`)
	if el := p.read(); el.Space != stream.NSTLS || el.Name != "starttls" {
		t.Fatalf("got %s, want <starttls/>", el)
	}
	p.write(`<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	tc := tls.Server(c, &tls.Config{Certificates: []tls.Certificate{*cert}, ClientAuth: tls.RequestClientCert})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	p.c = tc
	p.open(domain, to, "rs2", features)
	return p
}

// open reads the node's stream header and answers with ours and features.
func (p *rawServer) open(from, to, id, features string) {
	p.t.Helper()
	p.dec = xml.NewDecoder(bufio.NewReader(p.c), xml.DefaultLimits)
	if _, err := p.dec.ReadHeader(); err != nil {
		p.t.Fatal(err)
	}
	p.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' from='` + from + `' to='` + to + `' id='` + id + `'>` + features)
}

func (p *rawServer) write(s string) {
	if _, err := p.c.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawServer) read() *xml.Element {
	p.t.Helper()
	el, err := p.dec.ReadElement()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return el
}

// until reads up to the first {space}name element.
func (p *rawServer) until(space, name string) *xml.Element {
	p.t.Helper()
	for {
		if el := p.read(); el.Space == space && el.Name == name {
			return el
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func errorCondition(t *testing.T, el *xml.Element) string {
	t.Helper()
	e := el.Child("", "error")
	if el.Attr("type") != "error" || e == nil || e.FirstElement() == nil {
		t.Fatalf("got %s, want an error", el)
	}
	return e.FirstElement().Name
}

// TestVerifyAnswerFromAnotherPeer: b checks victim.test's dialback key
// with victim.test's server; evil.test, to which b has a stream, answers
// that check. Only the stream the db:verify went out on may answer it.
func TestVerifyAnswerFromAnotherPeer(t *testing.T) {
	ca := newCA(t)
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, func(c *Config) { c.ConnectTimeout = 2 * time.Second })
	evilL := listenRaw(t)
	b.s.SetRoute("evil.test", evilL.Addr().String())
	b.s.SetRoute("victim.test", silentListener(t))
	b.user(t, "bob@b.test/r")
	b.r.Route(context.Background(), message("bob@b.test/r", "x@evil.test", "hi"))
	ev := acceptRaw(t, evilL, "evil.test", "b.test", issue(t, ca, "evil.test"), `<stream:features><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`)

	p := dialRaw(t, b, "victim.test", "b.test", issue(t, nil, "victim.test"))
	p.read()
	p.write(`<db:result from='victim.test' to='b.test'>0123456789abcdef</db:result>`)
	waitFor(t, "b to check the key", func() bool {
		b.s.mu.Lock()
		defer b.s.mu.Unlock()
		return len(b.s.verifies) == 1
	})
	ev.write(`<db:verify from='victim.test' to='b.test' id='` + p.id + `' type='valid'/>`)
	if el := p.expect(NSDialback, "result"); el.Attr("type") == "valid" {
		t.Fatalf("evil.test authenticated victim.test: %s", el)
	}
}

// TestUnrequestedSASLSuccess: a peer whose certificate does not verify
// sends <success/> though b never tried SASL EXTERNAL.
func TestUnrequestedSASLSuccess(t *testing.T) {
	ca := newCA(t)
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, func(c *Config) { c.RequireValidCerts = true })
	l := listenRaw(t)
	b.s.SetRoute("victim.test", l.Addr().String())
	b.user(t, "bob@b.test/r")
	b.r.Route(context.Background(), message("bob@b.test/r", "x@victim.test", "secret"))
	ev := acceptRaw(t, l, "victim.test", "b.test", issue(t, nil, "victim.test"), "")
	ev.write(`<success xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>`)
	// Read raw bytes: after <success/>, b may restart the stream.
	_ = ev.c.SetReadDeadline(time.Now().Add(3 * time.Second))
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := ev.c.Read(buf)
		got = append(got, buf[:n]...)
		if strings.Contains(string(got), "<stream:stream") {
			// b took <success/>: open the new stream, as the impostor would.
			ev.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' version='1.0' from='victim.test' to='b.test' id='rs3'><stream:features/>`)
			got = got[:0]
		}
		if err != nil {
			break
		}
	}
	if s := string(got); strings.Contains(s, "secret") || !strings.Contains(s, "policy-violation") {
		t.Fatalf("b answered an unrequested <success/> with %q, want a policy-violation stream error", s)
	}
}

// TestDialbackChecksBounded: one stream may have maxPendingChecks
// verifications under way, and the server maxVerifyDials connects.
func TestDialbackChecksBounded(t *testing.T) {
	ca := newCA(t)
	start := func(t *testing.T) (*node, *atomic.Int32) {
		var dials atomic.Int32
		n := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, func(c *Config) {
			c.ConnectTimeout = 3 * time.Second
			c.Dial = func(ctx context.Context, _, _ string) (net.Conn, error) {
				dials.Add(1)
				<-ctx.Done()
				return nil, ctx.Err()
			}
		})
		return n, &dials
	}
	ask := func(p *rawPeer, prefix string, lo, hi int) {
		for i := lo; i <= hi; i++ {
			p.write(fmt.Sprintf(`<db:result from='%s%d.test' to='b.test'>abc</db:result>`, prefix, i))
		}
	}
	refused := func(t *testing.T, p *rawPeer, from string) {
		t.Helper()
		_ = p.c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
		el := p.expect(NSDialback, "result")
		if el.Attr("to") != from || errorCondition(t, el) != "resource-constraint" {
			t.Fatalf("got %s, want a resource-constraint error for %s", el, from)
		}
	}
	t.Run("per stream", func(t *testing.T) {
		n, dials := start(t)
		p := dialRaw(t, n, "evil.test", "b.test", issue(t, nil, "evil.test"))
		p.read()
		ask(p, "x", 1, maxPendingChecks+1)
		refused(t, p, fmt.Sprintf("x%d.test", maxPendingChecks+1))
		if d := dials.Load(); d > maxPendingChecks {
			t.Fatalf("%d dials for one stream", d)
		}
	})
	t.Run("per server", func(t *testing.T) {
		n, dials := start(t)
		n.s.mu.Lock()
		n.s.maxVerifyDials = 3
		n.s.mu.Unlock()
		p1 := dialRaw(t, n, "evil.test", "b.test", issue(t, nil, "evil.test"))
		p1.read()
		ask(p1, "x", 1, 2)
		waitFor(t, "the first dials", func() bool { return dials.Load() == 2 })
		p2 := dialRaw(t, n, "evil.test", "b.test", issue(t, nil, "evil.test"))
		p2.read()
		ask(p2, "y", 1, 1)
		waitFor(t, "the third dial", func() bool { return dials.Load() == 3 })
		ask(p2, "y", 2, 3)
		// Both are refused; the answers may come in either order.
		got := map[string]bool{}
		for i := 0; i < 2; i++ {
			_ = p2.c.SetReadDeadline(time.Now().Add(1500 * time.Millisecond))
			el := p2.expect(NSDialback, "result")
			if errorCondition(t, el) != "resource-constraint" {
				t.Fatalf("got %s, want a resource-constraint error", el)
			}
			got[el.Attr("to")] = true
		}
		if !got["y2.test"] || !got["y3.test"] {
			t.Fatalf("refused %v, want y2.test and y3.test", got)
		}
		waitFor(t, "the dials", func() bool { return dials.Load() == 3 })
		time.Sleep(50 * time.Millisecond)
		if d := dials.Load(); d != 3 {
			t.Fatalf("%d verification dials, want 3", d)
		}
	})
}

// TestDialbackRefusalsBounded: a stream whose dialback requests keep
// being refused ends; a stream remembers few certificate checks.
func TestDialbackRefusalsBounded(t *testing.T) {
	ca := newCA(t)
	t.Run("refusals close the stream", func(t *testing.T) {
		n := newNode(t, "c.test", issue(t, ca, "c.test"), ca.pool, func(c *Config) { c.RequireValidCerts = true })
		p := dialRaw(t, n, "a.test", "c.test", issue(t, nil, "a.test"))
		p.read()
		_ = p.c.SetReadDeadline(time.Now().Add(3 * time.Second))
		for i := 1; i <= maxRefused; i++ {
			p.write(fmt.Sprintf(`<db:result from='a%d.test' to='c.test'>abc</db:result>`, i))
			if el := p.expect(NSDialback, "result"); el.Attr("type") != "error" {
				t.Fatalf("got %s, want type=error", el)
			}
		}
		if got := p.streamError(); got != "policy-violation" {
			t.Fatalf("stream error %s, want policy-violation", got)
		}
	})
	t.Run("certificate cache", func(t *testing.T) {
		n := newNode(t, "c.test", issue(t, ca, "c.test"), ca.pool)
		x, y := net.Pipe()
		defer x.Close()
		defer y.Close()
		c := newConn(n.s, x, false, false)
		c.peerCerts = []*x509.Certificate{issue(t, ca, "a.test").Leaf}
		for i := range 4 * maxCertCache {
			if err := c.certFor(fmt.Sprintf("d%d.test", i)); err == nil {
				t.Fatal("a certificate for a.test covers another domain")
			}
		}
		if err := c.certFor("a.test"); err != nil {
			t.Fatalf("a.test: %v", err)
		}
		if len(c.certCache) > maxCertCache {
			t.Fatalf("%d domains cached, want at most %d", len(c.certCache), maxCertCache)
		}
	})
}

// TestOutboundLimits: what waits for a peer is bounded, in bytes per
// route, in routes, and in unwritten output per stream.
func TestOutboundLimits(t *testing.T) {
	ca := newCA(t)
	body := strings.Repeat("x", 1000000)
	t.Run("queued bytes", func(t *testing.T) {
		a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, func(c *Config) { c.ConnectTimeout = 3 * time.Second })
		alice := a.user(t, "alice@a.test/r")
		a.s.SetRoute("slow.test", silentListener(t))
		for range 5 {
			a.s.Send(context.Background(), message("alice@a.test/r", "bob@slow.test", body))
		}
		if got := errorCondition(t, alice.next(t)); got != "resource-constraint" {
			t.Fatalf("fifth megabyte: %s", got)
		}
	})
	t.Run("routes", func(t *testing.T) {
		a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, func(c *Config) { c.ConnectTimeout = 3 * time.Second })
		alice := a.user(t, "alice@a.test/r")
		a.s.mu.Lock()
		a.s.maxRoutes = 2
		a.s.mu.Unlock()
		silent := silentListener(t)
		// All routes first: dialers read the table while later sends go on.
		for i := range 3 {
			a.s.SetRoute(fmt.Sprintf("r%d.test", i), silent)
		}
		for i := range 3 {
			a.s.Send(context.Background(), message("alice@a.test/r", "bob@"+fmt.Sprintf("r%d.test", i), "x"))
		}
		el := alice.next(t)
		if got := errorCondition(t, el); got != "remote-server-not-found" || el.Attr("from") != "bob@r2.test" {
			t.Fatalf("third route: %s", el)
		}
		a.s.mu.Lock()
		nr := len(a.s.routes)
		a.s.mu.Unlock()
		if nr != 2 {
			t.Fatalf("%d routes", nr)
		}
	})
	t.Run("unwritten output", func(t *testing.T) {
		n := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool)
		x, y := net.Pipe() // nobody reads y
		defer x.Close()
		defer y.Close()
		c := newConn(n.s, x, true, false)
		big := xml.New(xml.NSServer, "message", "to", "bob@b.test").Append(xml.New(xml.NSServer, "body").SetText(strings.Repeat("y", 1<<20)))
		for range 2 * maxOutQueue >> 20 {
			ok := c.send(big)
			n := c.output.Backlog()
			if n > maxOutQueue {
				t.Fatalf("%d bytes queued, over %d", n, maxOutQueue)
			}
			if !ok {
				break
			}
		}
		if !c.isClosing() {
			t.Fatal("the stream does not close when its peer stops reading")
		}
	})
}

// TestOutboundBidiNeedsCertificate: on our stream to a peer whose
// certificate does not verify, dialback authenticates us, not the peer:
// its stanzas are refused there.
func TestOutboundBidiNeedsCertificate(t *testing.T) {
	ca := newCA(t)
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
	l := listenRaw(t)
	b.s.SetRoute("evil.test", l.Addr().String())
	bob := b.user(t, "bob@b.test/r")
	b.r.Route(context.Background(), message("bob@b.test/r", "x@evil.test", "hi"))
	ev := acceptRaw(t, l, "evil.test", "b.test", issue(t, nil, "evil.test"),
		`<stream:features><bidi xmlns='urn:xmpp:features:bidi'/><dialback xmlns='urn:xmpp:features:dialback'><errors/></dialback></stream:features>`)
	ev.until(NSDialback, "result")
	ev.write(`<db:result from='evil.test' to='b.test' type='valid'/>`)
	if el := ev.until(xml.NSServer, "message"); el.ChildText("", "body") != "hi" {
		t.Fatalf("got %s", el)
	}
	ev.write(`<message from='u@evil.test' to='bob@b.test/r' type='chat'><body>spoof</body></message>`)
	select {
	case el := <-bob.ch:
		t.Fatalf("bob got a stanza from a peer that never proved it is evil.test: %s", el)
	case <-time.After(500 * time.Millisecond):
	}
	for {
		el, err := ev.dec.ReadElement()
		if err != nil {
			t.Fatalf("stream ended without a stream error: %v", err)
		}
		if el.Space == xml.NSStream && el.Name == "error" {
			break
		}
	}
}

// TestBidiAfterAuthentication: <bidi/> counts only before authentication
// (XEP-0288 §2.2).
func TestBidiAfterAuthentication(t *testing.T) {
	ca := newCA(t)
	n := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
	p := dialRaw(t, n, "evil.test", "b.test", issue(t, ca, "evil.test"))
	p.external("evil.test", "b.test")
	p.write(`<bidi xmlns='urn:xmpp:bidi'/>`)
	_ = p.c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if got := p.streamError(); got != "policy-violation" {
		t.Fatalf("stream error %s, want policy-violation", got)
	}
}
