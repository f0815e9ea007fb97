package stream

import (
	"sync"
	"time"
)

// kick starts the flusher if there is none; the lock is held.
func (o *Output) kick() {
	if !o.writing && !o.closed {
		o.writing = true
		go o.flush()
	}
}

// flush writes the queue until it is empty, then closes the connection if
// a close is queued, and tells the waiters.
func (o *Output) flush() {
	o.mu.Lock()
	for o.queued() > 0 && !o.closed && o.w != nil {
		buf, w, gen := o.buf, o.w, o.gen
		o.buf = nil
		o.mu.Unlock()
		_ = w.SetWriteDeadline(time.Now().Add(o.timeout()))
		_, err := w.Write(*buf)
		o.mu.Lock()
		if err != nil && o.gen == gen {
			putBuf(buf)
			o.failed()
			return
		}
		// After an error of a connection replaced meanwhile (a
		// resumption), what it had taken is lost with it (XEP-0198
		// sends it again) and the rest goes to the new one.
		if o.buf == nil {
			*buf = (*buf)[:0]
			o.buf = buf
		} else {
			putBuf(buf)
		}
	}
	o.writing = false
	if o.closing && !o.closed {
		o.closed = true
		if o.c != nil {
			o.c.Close() // after the final flush
		}
	}
	putBuf(o.buf) // an idle stream keeps no buffer
	o.buf = nil
	o.wake(!o.closing)
}

// failed handles a write error: the owner may keep the stream detached,
// or it is closed. The lock is held; failed releases it.
func (o *Output) failed() {
	keep := o.ev != nil && o.ev.WriteFailed(o.closing)
	putBuf(o.buf)
	o.buf = nil
	o.writing = false
	c := o.c
	if keep {
		o.w, o.c = nil, nil
	} else {
		o.closing, o.closed = true, true
	}
	// The connection is closed before the waiters run (outside the lock:
	// a close may block), so whoever waited sees it closed, as after a
	// final flush.
	w := o.takeWaiters()
	o.mu.Unlock()
	if c != nil {
		c.Close()
	}
	for _, fn := range w {
		fn(false)
	}
}

// wake releases the lock and runs the waiters.
func (o *Output) wake(ok bool) {
	w := o.takeWaiters()
	o.mu.Unlock()
	for _, fn := range w {
		fn(ok)
	}
}

// Output buffers are pooled: streams take one only while they have
// output, so thousands of idle streams share a handful. The pool holds
// the *[]byte the queue is, so that putting one back allocates nothing.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if b == nil || cap(*b) > 64<<10 {
		return // let a burst's big buffer go
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}
