package stream

import (
	"bytes"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeConn records what is written. gate, when set, holds each write
// until it is closed; fail makes writes fail; delay slows them.
type fakeConn struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	closed bool
	fail   error
	delay  time.Duration
	gate   chan struct{}
	// entered, when set, hears of each write as it starts.
	entered chan struct{}
}

func (c *fakeConn) Write(p []byte) (int, error) {
	if c.entered != nil {
		select {
		case c.entered <- struct{}{}:
		default:
		}
	}
	if c.gate != nil {
		<-c.gate
	}
	time.Sleep(c.delay)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes++
	return c.buf.Write(p)
}

func (c *fakeConn) SetWriteDeadline(time.Time) error { return nil }

func (c *fakeConn) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return nil
}

func (c *fakeConn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

func (c *fakeConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

var testConfig = OutputConfig{NS: xml.NSClient, MaxQueued: 1 << 16}

func newOutput(c *fakeConn, ev OutputEvents) *Output {
	o := &Output{}
	o.Init(&testConfig, c, c, ev)
	return o
}

func msg(from string, n int) *xml.Element {
	return xml.New(xml.NSClient, "message", "from", from, "id", strconv.Itoa(n))
}

// drained waits until everything queued is written (or the stream closed).
func drained(t *testing.T, o *Output) bool {
	t.Helper()
	ch := make(chan bool, 1)
	o.NotifyDrained(func(ok bool) { ch <- ok })
	select {
	case ok := <-ch:
		return ok
	case <-time.After(5 * time.Second):
		t.Fatal("no drained notification in 5 s")
		return false
	}
}

// idle: no flusher, no buffer, no transient state (what keeps idle streams cheap).
func idle(o *Output) bool {
	o.Lock()
	defer o.Unlock()
	return !o.writing && o.buf == nil && o.t == nil
}

// Stanzas from many goroutines arrive whole and each sender's in order.
func TestOutputConcurrentSendKeepsOrder(t *testing.T) {
	c := &fakeConn{delay: 50 * time.Microsecond}
	o := newOutput(c, nil)
	const senders, each = 8, 200
	var wg sync.WaitGroup
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if !o.Send(msg("s"+strconv.Itoa(s), i), xml.NSClient) {
					t.Error("Send refused on an open stream")
					return
				}
			}
		}()
	}
	wg.Wait()
	if !drained(t, o) {
		t.Fatal("drained: not ok on an open stream")
	}
	next := map[string]int{}
	d := xml.NewDecoder(strings.NewReader("<s xmlns='jabber:client'>"+c.String()+"</s>"), xml.DefaultLimits)
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	for range senders * each {
		el, err := d.ReadElement()
		if err != nil {
			t.Fatal(err)
		}
		from, id := el.Attr("from"), el.Attr("id")
		if id != strconv.Itoa(next[from]) {
			t.Fatalf("%s: got id %s, want %d", from, id, next[from])
		}
		next[from]++
	}
	if c.writes >= senders*each {
		t.Errorf("%d writes for %d stanzas: a busy stream should batch", c.writes, senders*each)
	}
	if !idle(o) {
		t.Error("after draining, the output keeps a flusher or a buffer")
	}
}

// A peer that stops reading: the queue never passes the bound; the
// stanza that would pass it is refused and the stream closes with
// <policy-violation/>, written once the peer reads again.
func TestOutputBound(t *testing.T) {
	c := &fakeConn{gate: make(chan struct{})}
	o := newOutput(c, nil)
	big := xml.New(xml.NSClient, "message").SetText(strings.Repeat("x", 10_000))
	sent := 0
	for o.Send(big, xml.NSClient) {
		if n := o.Backlog(); n > testConfig.MaxQueued {
			t.Fatalf("%d bytes queued, over %d", n, testConfig.MaxQueued)
		}
		if sent++; sent > 100 {
			t.Fatal("the bound never closed the stream")
		}
	}
	if !o.Closing() || o.Backlog() != -1 {
		t.Fatalf("after the bound: closing %v, backlog %d", o.Closing(), o.Backlog())
	}
	if o.Send(msg("a", 0), xml.NSClient) {
		t.Error("Send accepted on a closing stream")
	}
	close(c.gate) // the peer reads again
	o.WaitFlushed(5 * time.Second)
	got := c.String()
	if n := strings.Count(got, "<message"); n != sent {
		t.Errorf("%d stanzas written, %d accepted", n, sent)
	}
	if !strings.HasSuffix(got, "too much unread output</text></stream:error></stream:stream>") || !strings.Contains(got, "<policy-violation") {
		t.Errorf("the end of the output is not <policy-violation/> then the close: %q", got[max(0, len(got)-200):])
	}
	if !c.isClosed() {
		t.Error("connection not closed after the final flush")
	}
}

// Close writes what is queued, the error, the close, then closes the
// connection; a header still owed comes first (RFC 6120 §4.9.1.1).
func TestOutputCloseAfterFlush(t *testing.T) {
	const (
		m   = `<message from="a" id="0"/>`
		hdr = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' from='example.org' id='x' version='1.0'>"
	)
	for _, tc := range []struct {
		name       string
		send, owed bool
		err        *Error
		want       string
	}{
		{"plain", true, false, nil, m + "</stream:stream>"},
		{"error", true, false, NewError("system-shutdown", ""),
			m + `<stream:error><system-shutdown xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>`},
		{"header owed", false, true, NewError("connection-timeout", ""),
			hdr + `<stream:error><connection-timeout xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error></stream:stream>`},
		{"header owed, no error", false, true, nil, ""}, // a stream we never opened gets no close tag: TCP closes
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &fakeConn{gate: make(chan struct{})}
			o := newOutput(c, nil)
			if tc.owed {
				o.OweHeader(&Header{NS: xml.NSClient, From: "example.org", ID: "x", Version: "1.0"})
			}
			if tc.send && !o.Send(msg("a", 0), xml.NSClient) {
				t.Fatal("Send refused")
			}
			o.Close(tc.err)
			o.Close(NewError("conflict", ""))  // a second close changes nothing
			if tc.want != "" && c.isClosed() { // with nothing to write, closing at once is the final flush
				t.Fatal("closed before the final flush")
			}
			close(c.gate)
			o.WaitFlushed(5 * time.Second)
			if got := c.String(); got != tc.want {
				t.Errorf("written:\n%s\nwant:\n%s", got, tc.want)
			}
			if !c.isClosed() {
				t.Error("connection not closed after the final flush")
			}
			if !idle(o) {
				t.Error("a closed output keeps a flusher or a buffer")
			}
		})
	}
}
