package stream

import "time"

// NotifyDrained calls fn once the output queued so far is written (ok)
// or the stream closed first (!ok). fn runs on the flusher's or the
// caller's goroutine, without the lock.
func (o *Output) NotifyDrained(fn func(ok bool)) {
	o.mu.Lock()
	switch {
	case o.closing:
		o.mu.Unlock()
		fn(false)
	case o.queued() == 0 && !o.writing:
		o.mu.Unlock()
		fn(true)
	default:
		o.addWaiter(fn)
		o.mu.Unlock()
	}
}

// WaitFlushed waits, at most d, for the flusher to stop (after a Close:
// for the final flush).
func (o *Output) WaitFlushed(d time.Duration) {
	o.mu.Lock()
	if !o.writing {
		o.mu.Unlock()
		return
	}
	done := make(chan struct{})
	o.addWaiter(func(bool) { close(done) })
	o.mu.Unlock()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
	}
}

// transient is what a stream holds only for a while.
type transient struct {
	owed    *Header         // sent before a stream error while ours has not gone out
	waiters []func(ok bool) // run when the flusher stops: NotifyDrained, WaitFlushed
}

func (o *Output) owed() *Header {
	if o.t == nil {
		return nil
	}
	return o.t.owed
}

func (o *Output) setOwed(h *Header) {
	if h == nil && o.t == nil {
		return
	}
	o.tr().owed = h
	o.tidy()
}

func (o *Output) addWaiter(fn func(ok bool)) { o.tr().waiters = append(o.tr().waiters, fn) }

// takeWaiters returns and forgets the waiters.
func (o *Output) takeWaiters() []func(ok bool) {
	if o.t == nil {
		return nil
	}
	w := o.t.waiters
	o.t.waiters = nil
	o.tidy()
	return w
}

func (o *Output) tr() *transient {
	if o.t == nil {
		o.t = &transient{}
	}
	return o.t
}

func (o *Output) tidy() {
	if o.t.owed == nil && len(o.t.waiters) == 0 {
		o.t = nil
	}
}
