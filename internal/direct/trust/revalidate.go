package trust

import (
	"context"
	"crypto/x509"
	"log/slog"
	"sync"
	"time"
)

// DefaultRevalidateInterval is how often live s2s streams are checked again
// (TIM+ §4.2.1; the RI runs hourly).
const DefaultRevalidateInterval = time.Hour

// Session is one live authenticated s2s domain pair.
type Session struct {
	Local, Peer string
	// Chain is the whole chain the peer presented (leaf first), not only
	// the leaf: re-validation must find the same intermediates the
	// handshake had (the reference server's bug was re-checking the leaf
	// alone).
	Chain []*x509.Certificate
	// Close ends the stream (or the domain pair) with the failed Result;
	// called from the revalidator's goroutine, it must not block long.
	Close func(*Result)
}

// Sessions is a set of live sessions the s2s layer keeps: Track on a
// trusted handshake, the returned func when the stream ends.
type Sessions struct {
	mu   sync.Mutex
	next uint64
	m    map[uint64]*Session
}

// Track adds s and returns the func that removes it.
func (ss *Sessions) Track(s Session) (untrack func()) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.m == nil {
		ss.m = map[uint64]*Session{}
	}
	ss.next++
	id := ss.next
	ss.m[id] = &s
	return func() {
		ss.mu.Lock()
		delete(ss.m, id)
		ss.mu.Unlock()
	}
}

// TrackPair is Track in plain types, for a transport that cannot import
// this package (internal/transport and internal/direct are neighbours; the
// server wiring passes this method value down): closeStream is called with
// the *UntrustedError that ends the pair.
func (ss *Sessions) TrackPair(local, peer string, chain []*x509.Certificate, closeStream func(error)) (untrack func()) {
	return ss.Track(Session{Local: local, Peer: peer, Chain: append([]*x509.Certificate(nil), chain...), Close: func(r *Result) {
		detail := ""
		if n := len(r.Steps); n > 0 {
			detail = r.Steps[n-1].Detail
		}
		closeStream(&UntrustedError{Local: r.Local, Peer: r.Peer, Reason: r.Reason, Detail: detail})
	}})
}

// List returns the live sessions.
func (ss *Sessions) List() []Session {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out := make([]Session, 0, len(ss.m))
	for _, s := range ss.m {
		out = append(out, *s)
	}
	return out
}

// Len is the number of live sessions.
func (ss *Sessions) Len() int {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return len(ss.m)
}

// Revalidator re-runs Validate over the live sessions on an interval, with
// the current circles and CRLs, and closes the failing ones.
type Revalidator struct {
	Validator *Validator
	List      func() []Session // e.g. (*Sessions).List
	Interval  time.Duration    // default 1 h
	// Workers bounds concurrent validations (CRL fetches); default 4.
	Workers int
	// Timeout bounds one session's validation; default 30 s.
	Timeout time.Duration
	Logger  *slog.Logger
	Now     func() time.Time
}

// Report is the outcome of one round.
type Report struct {
	Checked int
	Closed  int
	Reasons map[Reason]int // of the closed ones
	Took    time.Duration
}

// Run checks the sessions every Interval until ctx ends.
func (rv *Revalidator) Run(ctx context.Context) {
	iv := rv.Interval
	if iv <= 0 {
		iv = DefaultRevalidateInterval
	}
	t := time.NewTicker(iv)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			rv.RunOnce(ctx)
		}
	}
}

// RunOnce checks every live session now and closes those no longer
// trusted (expired, revoked, CRL unobtainable, anchor or circle gone).
func (rv *Revalidator) RunOnce(ctx context.Context) Report {
	start := time.Now()
	now := time.Now
	if rv.Now != nil {
		now = rv.Now
	}
	log := rv.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	sessions := rv.List()
	workers := rv.Workers
	if workers <= 0 {
		workers = 4
	}
	timeout := rv.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rep := Report{Checked: len(sessions), Reasons: map[Reason]int{}}
	var mu sync.Mutex
	work := make(chan Session)
	var wg sync.WaitGroup
	for range min(workers, max(len(sessions), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for s := range work {
				if ctx.Err() != nil {
					continue // shutting down: nobody is closed for that
				}
				vctx, cancel := context.WithTimeout(ctx, timeout)
				res, err := rv.Validator.Recheck(vctx, s.Local, s.Peer, s.Chain, now())
				cancel()
				if err == nil || ctx.Err() != nil {
					continue
				}
				log.Warn("s2s session no longer trusted; closing", "local", s.Local, "peer", s.Peer, "reason", string(res.Reason), "err", err)
				if s.Close != nil {
					s.Close(res)
				}
				mu.Lock()
				rep.Closed++
				rep.Reasons[res.Reason]++
				mu.Unlock()
			}
		}()
	}
	for _, s := range sessions {
		if ctx.Err() != nil {
			break
		}
		work <- s
	}
	close(work)
	wg.Wait()
	rep.Took = time.Since(start)
	return rep
}
