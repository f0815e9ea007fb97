package s2s

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func TestKeyVectors(t *testing.T) {
	for _, v := range []struct{ secret, recv, orig, id, want string }{
		// XEP-0185 §3 example.
		{"s3cr3tf0rd14lb4ck", "xmpp.example.com", "example.org", "D60000229F", "37c69b1cf07a3f67c04a5ef5902fa5114f2c76fe4a2686482ba5b89323075643"},
		// Twisted Words' test vector of the same recipe.
		{"s3cr3tf0rd14lb4ck", "example.net", "example.com", "D60000229F", "008c689ff366b50c63d69a3e2d2c0e0e1f8404b0118eb688a0102c87cb691bdc"},
	} {
		if got := Key([]byte(v.secret), v.recv, v.orig, v.id); got != v.want {
			t.Errorf("Key(%s, %s, %s) = %s, want %s", v.recv, v.orig, v.id, got, v.want)
		}
		if !keyValid([]byte(v.secret), v.recv, v.orig, v.id, v.want) || keyValid([]byte(v.secret), v.orig, v.recv, v.id, v.want) {
			t.Error("keyValid disagrees with Key or ignores the field order")
		}
	}
}

func TestNames(t *testing.T) {
	ca := newCA(t)
	c := issue(t, ca, "example.org", "*.example.net").Leaf
	for _, tc := range []struct {
		domain string
		want   bool
	}{{"example.org", true}, {"EXAMPLE.org", true}, {"chat.example.net", true}, {"example.net", false},
		{"a.b.example.net", false}, {"evil.org", false}, {"", false}} {
		if got := Names(c, tc.domain); got != tc.want {
			t.Errorf("Names(%q) = %v, want %v", tc.domain, got, tc.want)
		}
	}
	if err := VerifyPeer([]*x509.Certificate{c}, "example.org", ca.pool, time.Now()); err != nil {
		t.Errorf("serverAuth-only CA cert rejected: %v", err)
	}
	if err := VerifyPeer([]*x509.Certificate{c}, "example.org", x509.NewCertPool(), time.Now()); err == nil {
		t.Error("cert accepted without its CA")
	}
	if err := VerifyPeer(nil, "example.org", ca.pool, time.Now()); err == nil {
		t.Error("no certificate accepted")
	}
}

// rawPeer is a hand-driven peer server talking to a node's listener.
type rawPeer struct {
	t   *testing.T
	c   net.Conn
	dec *xml.Decoder
	id  string
}

func dialRaw(t *testing.T, n *node, from, to string, cert *tls.Certificate) *rawPeer {
	t.Helper()
	c, err := net.Dial("tcp", n.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	p := &rawPeer{t: t, c: c}
	p.open(from, to)
	p.expect(xml.NSStream, "features")
	p.write(`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>`)
	p.expect(stream.NSTLS, "proceed")
	tc := tls.Client(c, &tls.Config{InsecureSkipVerify: true, Certificates: []tls.Certificate{*cert}})
	if err := tc.Handshake(); err != nil {
		t.Fatal(err)
	}
	p.c = tc
	p.open(from, to)
	return p
}

func (p *rawPeer) open(from, to string) {
	p.write(`<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' version='1.0' from='` + from + `' to='` + to + `'>`)
	p.dec = xml.NewDecoder(bufio.NewReader(p.c), xml.DefaultLimits)
	h, err := p.dec.ReadHeader()
	if err != nil {
		p.t.Fatal(err)
	}
	p.id = h.Attr("id")
}

func (p *rawPeer) write(s string) {
	if _, err := p.c.Write([]byte(s)); err != nil {
		p.t.Fatal(err)
	}
}

func (p *rawPeer) read() *xml.Element {
	p.t.Helper()
	el, err := p.dec.ReadElement()
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	return el
}

func (p *rawPeer) expect(space, name string) *xml.Element {
	p.t.Helper()
	el := p.read()
	if el.Space != space || el.Name != name {
		p.t.Fatalf("got %s, want {%s}%s", el, space, name)
	}
	return el
}

// streamError reads until a stream error and returns its condition.
func (p *rawPeer) streamError() string {
	p.t.Helper()
	for {
		el := p.read()
		if el.Space == xml.NSStream && el.Name == "error" {
			return el.FirstElement().Name
		}
	}
}

// external authenticates with SASL EXTERNAL and restarts.
func (p *rawPeer) external(from, to string) {
	p.expect(xml.NSStream, "features")
	p.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`)
	p.expect(stream.NSSASL, "success")
	p.open(from, to)
	p.expect(xml.NSStream, "features")
}

func TestInboundRules(t *testing.T) {
	ca := newCA(t)
	n := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
	evil := issue(t, ca, "evil.test")
	self := issue(t, nil, "a.test")
	msg := func(from, to string) string {
		return `<message from='` + from + `' to='` + to + `' type='chat'><body>x</body></message>`
	}
	for _, tc := range []struct {
		name string
		run  func(p *rawPeer)
		want string
	}{
		{"stanza before authentication", func(p *rawPeer) { p.write(msg("u@evil.test", "bob@b.test")) }, "not-authorized"},
		{"spoofed from", func(p *rawPeer) { p.external("evil.test", "b.test"); p.write(msg("u@other.test", "bob@b.test")) }, "invalid-from"},
		{"to a domain not served", func(p *rawPeer) { p.external("evil.test", "b.test"); p.write(msg("u@evil.test", "bob@elsewhere.test")) }, "host-unknown"},
		{"unknown top-level element", func(p *rawPeer) { p.external("evil.test", "b.test"); p.write(`<foo xmlns='urn:example'/>`) }, "unsupported-stanza-type"},
		{"missing addresses", func(p *rawPeer) { p.external("evil.test", "b.test"); p.write(`<message><body>x</body></message>`) }, "improper-addressing"},
		{"unsolicited valid dialback result", func(p *rawPeer) {
			p.read()
			p.write(`<db:result from='b.test' to='evil.test' type='valid'/>`)
		}, "invalid-id"},
		{"dialback for a domain not served", func(p *rawPeer) {
			p.read()
			p.write(`<db:result from='evil.test' to='nothere.test'>abc</db:result>`)
		}, "host-unknown"},
		{"malformed XML", func(p *rawPeer) { p.read(); p.write(`<message><a></b></message>`) }, "not-well-formed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dialRaw(t, n, "evil.test", "b.test", evil)
			tc.run(p)
			if got := p.streamError(); got != tc.want {
				t.Fatalf("stream error %s, want %s", got, tc.want)
			}
		})
	}
	t.Run("dialback key that does not verify", func(t *testing.T) {
		// a.test (self-signed) claims a key; b asks a's authoritative
		// server, here a real node that never made that key.
		a := newNode(t, "a.test", self, x509.NewCertPool())
		n.s.SetRoute("a.test", a.addr)
		p := dialRaw(t, n, "a.test", "b.test", self)
		p.read()
		p.write(`<db:result from='a.test' to='b.test'>0123456789abcdef</db:result>`)
		el := p.expect(NSDialback, "result")
		if el.Attr("type") != "invalid" {
			t.Fatalf("got %s, want type=invalid", el)
		}
		if got := p.streamError(); got != "not-authorized" {
			t.Fatalf("stream error %s", got)
		}
	})
	t.Run("verify request answered", func(t *testing.T) {
		p := dialRaw(t, n, "evil.test", "b.test", evil)
		p.read()
		key := Key(n.s.cfg.Secret, "evil.test", "b.test", "sid1")
		p.write(`<db:verify from='evil.test' to='b.test' id='sid1'>` + key + `</db:verify>`)
		if el := p.expect(NSDialback, "verify"); el.Attr("type") != "valid" {
			t.Fatalf("own key judged %s", el)
		}
		p.write(`<db:verify from='evil.test' to='b.test' id='sid2'>` + key + `</db:verify>`)
		if el := p.expect(NSDialback, "verify"); el.Attr("type") != "invalid" {
			t.Fatalf("key for another stream judged %s", el)
		}
	})
	t.Run("policy refuses dialback", func(t *testing.T) {
		m := newNode(t, "c.test", issue(t, ca, "c.test"), ca.pool, func(c *Config) { c.RequireValidCerts = true })
		p := dialRaw(t, m, "a.test", "c.test", self)
		p.read()
		p.write(`<db:result from='a.test' to='c.test'>abc</db:result>`)
		if el := p.expect(NSDialback, "result"); el.Attr("type") != "error" {
			t.Fatalf("got %s, want type=error", el)
		}
	})
}

func TestOutboundFailuresBounce(t *testing.T) {
	ca := newCA(t)
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, func(c *Config) { c.ConnectTimeout = 500 * time.Millisecond })
	alice := a.user(t, "alice@a.test/r")
	cond := func() string {
		el := alice.next(t)
		if el.Attr("type") != "error" {
			t.Fatalf("got %s, want an error", el)
		}
		return el.Child("", "error").FirstElement().Name
	}
	// Peer down: nothing listens there.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	down := l.Addr().String()
	l.Close()
	a.s.SetRoute("down.test", down)
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@down.test", "x"))
	if c := cond(); c != "remote-server-not-found" {
		t.Fatalf("peer down: %s", c)
	}
	// Back-off: the next stanza bounces at once, without a new attempt.
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@down.test", "y"))
	if c := cond(); c != "remote-server-not-found" {
		t.Fatalf("during back-off: %s", c)
	}
	// An error stanza is never bounced.
	st := message("alice@a.test/r", "bob@down.test", "z")
	st.Type = "error"
	a.s.Send(context.Background(), st)
	select {
	case el := <-alice.ch:
		t.Fatalf("an error was bounced: %s", el)
	case <-time.After(100 * time.Millisecond):
	}
	// Silent peer: accepts and never speaks.
	sl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer sl.Close()
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	a.s.SetRoute("silent.test", sl.Addr().String())
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@silent.test", "x"))
	if c := cond(); c != "remote-server-timeout" {
		t.Fatalf("silent peer: %s", c)
	}
}

func TestQueueOverflow(t *testing.T) {
	ca := newCA(t)
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, func(c *Config) { c.QueueMax = 2; c.ConnectTimeout = 2 * time.Second })
	alice := a.user(t, "alice@a.test/r")
	sl, _ := net.Listen("tcp", "127.0.0.1:0")
	defer sl.Close()
	go func() {
		for {
			c, err := sl.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	a.s.SetRoute("slow.test", sl.Addr().String())
	for i := 0; i < 3; i++ {
		a.r.Route(context.Background(), message("alice@a.test/r", "bob@slow.test", "x"))
	}
	el := alice.next(t)
	if got := el.Child("", "error").FirstElement().Name; got != "resource-constraint" {
		t.Fatalf("third stanza: %s", got)
	}
	for i := 0; i < 2; i++ {
		if got := alice.next(t).Child("", "error").FirstElement().Name; got != "remote-server-timeout" {
			t.Fatalf("queued stanza: %s", got)
		}
	}
}

func TestIdleStreamCloses(t *testing.T) {
	ca := newCA(t)
	idle := func(c *Config) { c.IdleTimeout = 200 * time.Millisecond }
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, idle)
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, idle)
	link(a, b)
	bob := b.user(t, "bob@b.test/r")
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "1"))
	bob.next(t)
	deadline := time.Now().Add(10 * time.Second)
	for {
		a.s.mu.Lock()
		n := len(a.s.conns)
		a.s.mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams still open", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// A new stanza opens a new stream.
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "2"))
	if got := bob.next(t).ChildText("", "body"); got != "2" {
		t.Fatalf("after idle close: %q", got)
	}
}

// XEP-0478: once TLS is up, the features say how large a stanza this side
// accepts, before and after SASL.
func TestLimitsAdvertised(t *testing.T) {
	ca := newCA(t)
	n := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
	p := dialRaw(t, n, "a.test", "b.test", issue(t, ca, "a.test"))
	check := func(when string, f *xml.Element) {
		t.Helper()
		lim := f.Child(stream.NSLimits, "limits")
		if lim == nil {
			t.Fatalf("%s: features %s carry no <limits xmlns='%s'/>", when, f, stream.NSLimits)
		}
		if got, want := lim.ChildText(stream.NSLimits, "max-bytes"), strconv.Itoa(xml.DefaultLimits.MaxStanzaBytes); got != want {
			t.Errorf("%s: max-bytes %q, want %s (the stream's limit)", when, got, want)
		}
	}
	check("after STARTTLS", p.expect(xml.NSStream, "features"))
	p.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>=</auth>`)
	p.expect(stream.NSSASL, "success")
	p.open("a.test", "b.test")
	check("after SASL", p.expect(xml.NSStream, "features"))
}
