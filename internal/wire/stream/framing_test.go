package stream

import (
	"bytes"
	"encoding/binary"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// What a WebSocket transport (RFC 7395) would add: a Framing that makes
// each element one message, with <open/> and <close/> for the header and
// the close. A length prefix stands in for the WebSocket frame header.
type messageFraming struct{}

const nsFraming = "urn:ietf:params:xml:ns:xmpp-framing"

func frame(dst []byte, body func([]byte) []byte) []byte {
	n := len(dst)
	dst = body(append(dst, 0, 0, 0, 0))
	binary.BigEndian.PutUint32(dst[n:], uint32(len(dst)-n-4))
	return dst
}

func (messageFraming) AppendHeader(dst []byte, h *Header) []byte {
	return frame(dst, func(b []byte) []byte {
		return xml.Append(b, xml.New(nsFraming, "open", "from", h.From, "id", h.ID, "version", h.Version), "")
	})
}

// AppendElement writes each element as a document of its own: every
// namespace declared, none inherited from a stream header.
func (messageFraming) AppendElement(dst []byte, el *xml.Element, _ string) []byte {
	return frame(dst, func(b []byte) []byte {
		n := len(b)
		b = xml.Append(b, el, "")
		if el.Space == xml.NSStream { // <stream:error/>: declare the prefix
			at := n + len("<stream:") + len(el.Name)
			b = append(b[:at], append([]byte(" xmlns:stream='"+xml.NSStream+"'"), b[at:]...)...)
		}
		return b
	})
}

func (messageFraming) AppendClose(dst []byte) []byte {
	return frame(dst, func(b []byte) []byte { return xml.Append(b, xml.New(nsFraming, "close"), "") })
}

// messageConn collects the messages the framing made.
type messageConn struct {
	mu   sync.Mutex
	msgs []string
}

func (c *messageConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for b := p; len(b) > 0; {
		n := binary.BigEndian.Uint32(b)
		c.msgs = append(c.msgs, string(b[4:4+n]))
		b = b[4+n:]
	}
	return len(p), nil
}

func (c *messageConn) SetWriteDeadline(time.Time) error { return nil }
func (c *messageConn) Close() error                     { return nil }

func TestOutputMessageFraming(t *testing.T) {
	c := &messageConn{}
	o := &Output{}
	o.Init(&OutputConfig{NS: xml.NSClient, Framing: messageFraming{}}, c, c, nil)
	if err := o.WriteHeaderNow(&Header{From: "example.org", ID: "s1", Version: "1.0"}); err != nil {
		t.Fatal(err)
	}
	o.Send(msg("a", 0), xml.NSClient)
	o.Send(msg("a", 1), xml.NSClient)
	if !drained(t, o) {
		t.Fatal("not ok")
	}
	o.Close(NewError("system-shutdown", ""))
	o.WaitFlushed(5 * time.Second)
	want := []string{
		`<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" from="example.org" id="s1" version="1.0"/>`,
		`<message xmlns="jabber:client" from="a" id="0"/>`,
		`<message xmlns="jabber:client" from="a" id="1"/>`,
		`<stream:error xmlns:stream='http://etherx.jabber.org/streams'><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
		`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`,
	}
	if strings.Join(c.msgs, "\n") != strings.Join(want, "\n") {
		t.Errorf("messages:\n%s\nwant:\n%s", strings.Join(c.msgs, "\n"), strings.Join(want, "\n"))
	}
	for _, m := range c.msgs { // each one a document of its own
		if _, err := xml.Parse([]byte(m)); err != nil {
			t.Errorf("%s: %v", m, err)
		}
	}
}

// What BOSH (XEP-0124/0206) would add: a Conn whose Write waits for the
// client's next request (bounded by the write deadline: the session's
// inactivity limit) and answers it with one <body/> holding that flush.
// There is no stream header or close in band (they are body attributes).
type boshFraming struct{ TCP }

func (boshFraming) AppendHeader(dst []byte, _ *Header) []byte { return dst }
func (boshFraming) AppendClose(dst []byte) []byte             { return dst }

type boshConn struct {
	requests   chan chan string // a held request, answered with a body
	mu         sync.Mutex
	deadline   time.Time
	terminated bool
}

func (b *boshConn) SetWriteDeadline(t time.Time) error {
	b.mu.Lock()
	b.deadline = t
	b.mu.Unlock()
	return nil
}

func (b *boshConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	wait := time.Until(b.deadline)
	b.mu.Unlock()
	select {
	case resp := <-b.requests:
		resp <- "<body xmlns='http://jabber.org/protocol/httpbind'>" + string(p) + "</body>"
		return len(p), nil
	case <-time.After(wait):
		return 0, os.ErrDeadlineExceeded
	}
}

func (b *boshConn) Close() error {
	b.mu.Lock()
	b.terminated = true // a real one answers with <body type='terminate'/>
	b.mu.Unlock()
	return nil
}

// request is the client's next HTTP request: it returns the body.
func (b *boshConn) request(t *testing.T) string {
	t.Helper()
	resp := make(chan string, 1)
	select {
	case b.requests <- resp:
	case <-time.After(5 * time.Second):
		t.Fatal("no output waiting for the request")
	}
	return <-resp
}

func TestOutputHeldUntilRequest(t *testing.T) {
	c := &boshConn{requests: make(chan chan string)}
	o := &Output{}
	o.Init(&OutputConfig{NS: xml.NSClient, Framing: boshFraming{}}, c, c, nil)
	o.Lock() // one batch, so that one body is expected
	o.AppendLocked(msg("a", 0), xml.NSClient)
	o.AppendLocked(msg("a", 1), xml.NSClient)
	o.Unlock()
	time.Sleep(20 * time.Millisecond) // nothing can go out without a request
	if got, want := c.request(t), `<body xmlns='http://jabber.org/protocol/httpbind'><message from="a" id="0"/><message from="a" id="1"/></body>`; got != want {
		t.Errorf("first response:\n%s\nwant:\n%s", got, want)
	}
	if !drained(t, o) {
		t.Fatal("not ok")
	}
	o.Send(msg("a", 2), xml.NSClient)
	if got := c.request(t); !bytes.Contains([]byte(got), []byte(`id="2"`)) {
		t.Errorf("second response: %s", got)
	}
	o.Close(nil)
	o.WaitFlushed(5 * time.Second)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.terminated {
		t.Error("the session is not terminated after the close")
	}
}
