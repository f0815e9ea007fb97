package stream

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NotifyDrained: at once when nothing is queued (ok) or the stream is
// closing (!ok); otherwise after the flush (ok), or when the stream
// closes or fails first (!ok).
func TestOutputDrained(t *testing.T) {
	t.Run("idle", func(t *testing.T) {
		o := newOutput(&fakeConn{}, nil)
		if !drained(t, o) {
			t.Error("idle stream: not ok")
		}
	})
	t.Run("after the flush", func(t *testing.T) {
		c := &fakeConn{gate: make(chan struct{})}
		o := newOutput(c, nil)
		o.Send(msg("a", 0), xml.NSClient)
		var called atomic.Bool
		ch := make(chan bool, 1)
		o.NotifyDrained(func(ok bool) { called.Store(true); ch <- ok })
		time.Sleep(10 * time.Millisecond)
		if called.Load() {
			t.Fatal("called while the write is held")
		}
		close(c.gate)
		if ok := <-ch; !ok || !strings.Contains(c.String(), "<message") {
			t.Errorf("ok %v, written %q", ok, c.String())
		}
	})
	t.Run("closing", func(t *testing.T) {
		c := &fakeConn{}
		o := newOutput(c, nil)
		o.Close(nil)
		if drained(t, o) {
			t.Error("closing stream: ok")
		}
		o.WaitFlushed(time.Second)
	})
	t.Run("closed before the flush", func(t *testing.T) {
		c := &fakeConn{gate: make(chan struct{})}
		o := newOutput(c, nil)
		o.Send(msg("a", 0), xml.NSClient)
		ch := make(chan bool, 1)
		o.NotifyDrained(func(ok bool) { ch <- ok })
		o.Close(nil)
		close(c.gate)
		if <-ch {
			t.Error("closed before the flush ended: ok")
		}
	})
	t.Run("write error", func(t *testing.T) {
		c := &fakeConn{gate: make(chan struct{}), fail: errors.New("reset")}
		o := newOutput(c, nil)
		o.Send(msg("a", 0), xml.NSClient)
		ch := make(chan bool, 1)
		o.NotifyDrained(func(ok bool) { ch <- ok })
		close(c.gate)
		if <-ch {
			t.Error("failed write: ok")
		}
	})
}

// A write error closes the stream and its connection.
func TestOutputWriteError(t *testing.T) {
	c := &fakeConn{fail: errors.New("connection reset")}
	o := newOutput(c, nil)
	o.Send(msg("a", 0), xml.NSClient)
	o.WaitFlushed(5 * time.Second)
	if !o.Closing() || o.Backlog() != -1 || !c.isClosed() {
		t.Fatalf("after a write error: closing %v, backlog %d, conn closed %v", o.Closing(), o.Backlog(), c.isClosed())
	}
	if o.Send(msg("a", 1), xml.NSClient) {
		t.Error("Send accepted after a write error")
	}
	if !idle(o) {
		t.Error("a failed output keeps a flusher or a buffer")
	}
}

// keeper keeps the stream after a write error, as XEP-0198 hibernation does.
type keeper struct {
	failed, closing atomic.Int32
}

func (k *keeper) WriteFailed(closing bool) bool { k.failed.Add(1); return !closing }
func (k *keeper) Closing()                      { k.closing.Add(1) }

// An owner may keep a stream whose connection failed: it is detached
// (nothing written, Send refused) until SetConnLocked gives it a new one.
func TestOutputDetachAndResume(t *testing.T) {
	k := &keeper{}
	old := &fakeConn{fail: errors.New("broken pipe")}
	o := newOutput(old, k)
	o.Send(msg("a", 0), xml.NSClient)
	o.WaitFlushed(5 * time.Second)
	o.Lock()
	detached, closing := o.DetachedLocked(), o.ClosingLocked()
	o.Unlock()
	if k.failed.Load() != 1 || !detached || closing || !old.isClosed() {
		t.Fatalf("after the write error: WriteFailed %d times, detached %v, closing %v, old conn closed %v", k.failed.Load(), detached, closing, old.isClosed())
	}
	if o.Send(msg("a", 1), xml.NSClient) {
		t.Error("Send accepted while detached")
	}
	if !drained(t, o) {
		t.Error("detached, nothing queued: not ok")
	}
	nc := &fakeConn{}
	o.Lock()
	o.SetConnLocked(nc, nc)
	o.AppendLocked(msg("a", 2), xml.NSClient)
	o.Unlock()
	o.Close(nil)
	o.WaitFlushed(5 * time.Second)
	if got, want := nc.String(), `<message from="a" id="2"/></stream:stream>`; got != want {
		t.Errorf("new connection got %q, want %q", got, want)
	}
	if k.closing.Load() != 1 {
		t.Errorf("Closing called %d times", k.closing.Load())
	}
}

// A connection replaced while its write hangs fails late: that error
// belongs to it, and the stream goes on on the new one.
func TestOutputLateErrorOfReplacedConn(t *testing.T) {
	k := &keeper{}
	old := &fakeConn{gate: make(chan struct{}), entered: make(chan struct{}, 1), fail: errors.New("closed")}
	o := newOutput(old, k)
	o.Send(msg("a", 0), xml.NSClient)
	<-old.entered // the flusher hangs in old.Write
	nc := &fakeConn{}
	o.Lock()
	o.SetConnLocked(nc, nc)
	o.AppendLocked(msg("a", 1), xml.NSClient)
	o.Unlock()
	close(old.gate) // old's write fails now
	if !drained(t, o) {
		t.Fatal("not ok")
	}
	if k.failed.Load() != 0 || o.Closing() {
		t.Errorf("the late error counted: WriteFailed %d, closing %v", k.failed.Load(), o.Closing())
	}
	if got := nc.String(); got != `<message from="a" id="1"/>` {
		t.Errorf("new connection got %q", got)
	}
}

// A slow reader: output piles up while a write is under way and goes out
// in few, larger writes; Backlog falls back to 0 and the flusher ends.
func TestOutputSlowReader(t *testing.T) {
	c := &fakeConn{delay: 20 * time.Millisecond}
	o := newOutput(c, nil)
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Add(1)
		go func() { defer wg.Done(); o.Send(msg("a", i), xml.NSClient) }()
		time.Sleep(time.Millisecond)
	}
	wg.Wait()
	if !drained(t, o) {
		t.Fatal("not ok")
	}
	if n := strings.Count(c.String(), "<message"); n != 50 {
		t.Errorf("%d stanzas written, want 50", n)
	}
	if c.writes > 10 {
		t.Errorf("%d writes for 50 stanzas behind 20 ms writes", c.writes)
	}
	if o.Backlog() != 0 || !idle(o) {
		t.Errorf("after draining: backlog %d, idle %v", o.Backlog(), idle(o))
	}
}

// WaitFlushed gives up after its bound on a peer that does not read.
func TestOutputWaitFlushedBounded(t *testing.T) {
	c := &fakeConn{gate: make(chan struct{})}
	o := newOutput(c, nil)
	o.Close(nil)
	start := time.Now()
	o.WaitFlushed(50 * time.Millisecond)
	if d := time.Since(start); d < 50*time.Millisecond || d > 2*time.Second {
		t.Errorf("waited %v for a 50 ms bound", d)
	}
	close(c.gate)
	o.WaitFlushed(5 * time.Second)
}

// WriteNow bypasses the queue (negotiation) and clears an owed header.
func TestOutputWriteNow(t *testing.T) {
	c := &fakeConn{}
	o := newOutput(c, nil)
	o.OweHeader(&Header{NS: xml.NSClient, ID: "owed"})
	if err := o.WriteHeaderNow(&Header{NS: xml.NSClient, ID: "1"}); err != nil {
		t.Fatal(err)
	}
	if err := o.WriteNow(xml.New(NSTLS, "proceed"), xml.NSClient); err != nil {
		t.Fatal(err)
	}
	if !idle(o) {
		t.Error("WriteNow started a flusher or kept a buffer")
	}
	o.Close(NewError("system-shutdown", ""))
	o.WaitFlushed(5 * time.Second)
	got := c.String()
	if strings.Contains(got, "owed") || strings.Count(got, "<stream:stream") != 1 || !strings.Contains(got, `<proceed xmlns="urn:ietf:params:xml:ns:xmpp-tls"/><stream:error>`) {
		t.Errorf("written: %s", got)
	}
}
