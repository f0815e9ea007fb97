package ratelimit

import (
	"sync"
	"time"
)

// Window allows at most Max events per key per Period. The zero Max
// disables it. Memory is bounded by pruning keys that have gone quiet.
type Window struct {
	Max    int
	Period time.Duration

	mu    sync.Mutex
	keys  map[string]*entry
	prune time.Time
}

type entry struct {
	start time.Time // window start
	prev  int       // count in the previous window
	count int       // count in the current window
}

// NewWindow returns a limiter of max events per period.
func NewWindow(max int, period time.Duration) *Window {
	return &Window{Max: max, Period: period, keys: map[string]*entry{}}
}

// estimate weighs the previous window by how much of it still overlaps.
func (w *Window) estimate(e *entry, now time.Time) float64 {
	w.roll(e, now)
	frac := 1 - float64(now.Sub(e.start))/float64(w.Period)
	return float64(e.prev)*frac + float64(e.count)
}

func (w *Window) roll(e *entry, now time.Time) {
	for now.Sub(e.start) >= w.Period {
		if now.Sub(e.start) >= 2*w.Period {
			e.prev, e.count, e.start = 0, 0, now
			return
		}
		e.prev, e.count = e.count, 0
		e.start = e.start.Add(w.Period)
	}
}

// Allowed reports whether key is under its limit, without counting.
func (w *Window) Allowed(key string) bool {
	if w == nil || w.Max <= 0 {
		return true
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	e := w.keys[key]
	if e == nil {
		return true
	}
	return w.estimate(e, time.Now()) < float64(w.Max)
}

// Add counts one event for key and reports whether it stays within the limit.
func (w *Window) Add(key string) bool {
	if w == nil || w.Max <= 0 {
		return true
	}
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	if now.After(w.prune) {
		for k, e := range w.keys {
			if now.Sub(e.start) >= 2*w.Period {
				delete(w.keys, k)
			}
		}
		w.prune = now.Add(w.Period)
	}
	e := w.keys[key]
	if e == nil {
		e = &entry{start: now}
		w.keys[key] = e
	}
	w.roll(e, now)
	e.count++
	return w.estimate(e, now) <= float64(w.Max)
}

// Reset forgets key (an admin's unban, or a successful login) and reports
// whether it was counted.
func (w *Window) Reset(key string) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.keys[key]
	delete(w.keys, key)
	return ok
}

// ResetAll forgets every key and returns how many there were.
func (w *Window) ResetAll() int {
	if w == nil {
		return 0
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.keys)
	clear(w.keys)
	return n
}
