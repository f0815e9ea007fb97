package storage

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// A Writer appends archive entries behind the stanzas they record: Add
// names the entry at once (its time, unique in the process, is its id) and
// returns, and one goroutine writes what was added meanwhile in batches
// (History.Write). So a message is not held for its copy (later stanzas of
// its sender cannot overtake it, and nothing waits for a commit per
// message), and its stanza-id is known before it is delivered. Sync waits
// until what was added before it is durable: the server answers a stream
// management <r/>, a ping and an offline store only after it, so what a
// client was told is stored survives a kill -9. Entries of one process are
// written in the order of their times.
type Writer struct {
	h     History
	log   *slog.Logger
	clock Clock

	mu     sync.Mutex
	space  *sync.Cond // Add waits while maxQueued entries are queued
	cur    *batch     // filling
	busy   *batch     // being written
	queued int
	closed bool // Close was called: Add writes at once
	wake   chan struct{}
	hurry  chan struct{} // somebody waits (a Sync for the batch filling, Add at half the bound): no pausing
	quit   chan struct{}
	ended  chan struct{}
	spare  []Entry // a written batch's array, for the next (no regrowing per batch)
	// linger and gather: busyLinger and gather (tests set them before
	// the first Add).
	linger, gather time.Duration
	retry          time.Duration // retryPause (tests shorten it)
	lostAt         atomic.Int64  // when entries were last given up (unix ns), 0: never
}

// batch is entries written together; done is closed once they are
// durable (or given up).
type batch struct {
	entries []Entry
	done    chan struct{}
	slab    []byte // the entries' payloads, copied in (one allocation for many)
}

// slabSize is the payload memory a batch takes at a time.
const slabSize = 256 << 10

// keep copies p into the batch's slab (large payloads on their own).
func (b *batch) keep(p []byte) []byte {
	if len(p) > slabSize/8 {
		return append([]byte(nil), p...)
	}
	if cap(b.slab)-len(b.slab) < len(p) {
		b.slab = make([]byte, 0, slabSize)
	}
	start := len(b.slab)
	b.slab = append(b.slab, p...)
	return b.slab[start:len(b.slab):len(b.slab)]
}

const (
	// maxQueued bounds the entries waiting: past it Add waits (the
	// storage is slower than the traffic; the streams slow down rather
	// than the server's memory grow).
	maxQueued = 1 << 16
	// maxChunk bounds one Write: the larger, the fewer rows and pages per
	// entry under load (it decides the chunk sizes).
	maxChunk = 16384
	// busyBatch and busyLinger: after a batch that large the writer waits
	// that long before it takes the next (see run).
	busyBatch  = 256
	busyLinger = 250 * time.Millisecond
	// mirrorWindow: an entry is mirrored only that soon after its time,
	// so that the recipient's ids keep the order of arrival within it
	// (a message held on its way gets an entry of its own).
	mirrorWindow = 10 * time.Millisecond
	// gather: a write starts that long after the first Add from idle or
	// the end of a small write.
	gather = 10 * time.Millisecond
	// writeTries: a failed chunk is tried again after pauses that double
	// from retryPause (1+2+4+8+16 s: a database restart or fail-over), then
	// given up (logged) so that a broken store cannot stop every stream
	// (nor one entry it refuses, the archive). SyncKept then fails for
	// lostWindow: a stream management ack waiting for it does not tell a
	// client its message is kept.
	writeTries = 6
	retryPause = time.Second
	lostWindow = time.Minute
)

// ErrLost is SyncKept's answer when archive entries were given up lately.
var ErrLost = errors.New("storage: archive entries could not be written lately (see the log); nothing is acknowledged as kept until the store works again")

// NewWriter starts a writer to h.
func NewWriter(h History, log *slog.Logger) *Writer {
	w := &Writer{h: h, log: log, linger: busyLinger, gather: gather, retry: retryPause, cur: newBatch(), wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), quit: make(chan struct{}), ended: make(chan struct{})}
	w.space = sync.NewCond(&w.mu)
	go w.run()
	return w
}

func newBatch() *batch { return &batch{done: make(chan struct{})} }

// next is the batch after the one being taken (under mu): it fills the
// array of the last written batch, grown as the batches were.
func (w *Writer) next() *batch {
	b := newBatch()
	b.entries, w.spare = w.spare, nil
	return b
}

// Add queues e, with e.Time made unique (the next microsecond after the
// last one given if it is not later), and returns its id (TimeID). It
// copies e.Payload: the caller may reuse its buffer.
func (w *Writer) Add(e Entry) string {
	id, _ := w.AddTicket(e)
	return id
}

// A Ticket names an entry still queued, for Mirror.
type Ticket struct {
	b       *batch
	i       int
	Payload []byte // the entry's payload as queued (not to be changed)
}

// Mirror puts the entry of t into its peer's archive too (with the same
// id), if it is still queued: a local message archived for its sender,
// then found unchanged on its way in to its recipient. It reports
// whether it did; if not, the caller adds the recipient's own entry.
func (w *Writer) Mirror(t Ticket) bool {
	if t.b == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if t.b != w.cur || t.i >= len(t.b.entries) {
		return false
	}
	e := &t.b.entries[t.i]
	if e.Mirror || e.Peer == e.Owner || time.Since(e.Time) > mirrorWindow {
		return false
	}
	e.Mirror = true
	return true
}

// AddTicket is Add, also returning the entry's Ticket (zero if it was
// written at once).
func (w *Writer) AddTicket(e Entry) (string, Ticket) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	w.mu.Lock()
	for w.queued >= maxQueued && !w.closed {
		w.space.Wait()
	}
	e.Time = w.clock.Next(e.Time)
	if w.closed {
		w.mu.Unlock()
		e.Payload = append([]byte(nil), e.Payload...)
		w.write([]Entry{e})
		return TimeID(e.Time), Ticket{}
	}
	e.Payload = w.cur.keep(e.Payload)
	e.Mirror = false // (only through Mirror: the writer knows when it is still possible)
	t := Ticket{b: w.cur, i: len(w.cur.entries), Payload: e.Payload}
	w.cur.entries = append(w.cur.entries, e)
	w.queued++
	full := w.queued >= maxQueued/2
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	if full {
		// Half the bound queued: the writer stops lingering, before Add
		// would have to wait.
		select {
		case w.hurry <- struct{}{}:
		default:
		}
	}
	return TimeID(e.Time), t
}

// Sync returns once every entry added before it is written (or given up
// after errors, which are logged: see SyncKept), or when ctx ends.
func (w *Writer) Sync(ctx context.Context) error {
	w.mu.Lock()
	var done chan struct{}
	switch {
	case len(w.cur.entries) > 0:
		done = w.cur.done // written after busy
	case w.busy != nil:
		done = w.busy.done
	}
	waitCur := done != nil && done == w.cur.done
	w.mu.Unlock()
	if done == nil {
		return nil
	}
	if waitCur {
		select {
		case w.hurry <- struct{}{}:
		default:
		}
	}
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// SyncKept is Sync for what tells a client its stanzas are kept (a
// stream management ack, an offline store): ErrLost when entries were
// given up within lostWindow, as some of the client's may have been.
func (w *Writer) SyncKept(ctx context.Context) error {
	if err := w.Sync(ctx); err != nil {
		return err
	}
	return w.lost()
}

// lost is ErrLost within lostWindow of entries given up.
func (w *Writer) lost() error {
	if t := w.lostAt.Load(); t != 0 && time.Since(time.Unix(0, t)) < lostWindow {
		return ErrLost
	}
	return nil
}

// Above makes every id from now on later than t (the newest entry
// stored: a clock set back across a restart gives no ids below those
// already handed out).
func (w *Writer) Above(t time.Time) {
	us := t.UnixMicro()
	for {
		last := w.clock.last.Load()
		if last >= us || w.clock.last.CompareAndSwap(last, us) {
			return
		}
	}
}

// StartAbove makes the ids start above the newest entry of archive in
// the store (see Above); the writer's owner calls it at start-up.
func (w *Writer) StartAbove(archive string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	t, err := w.h.Latest(ctx, archive)
	if err != nil {
		return fmt.Errorf("the newest entry of the %s archive could not be read: %w", archive, err)
	}
	w.Above(t)
	return nil
}

// Close writes what is queued and stops the writer.
func (w *Writer) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.quit)
		w.space.Broadcast()
	}
	w.mu.Unlock()
	<-w.ended
}

func (w *Writer) run() {
	defer close(w.ended)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	// pause waits d, or less if somebody waits (a Sync, or half the bound
	// queued) or the writer closes.
	pause := func(d time.Duration) {
		timer.Reset(d)
		select {
		case <-timer.C:
		case <-w.hurry:
			timer.Stop()
		case <-w.quit:
			timer.Stop()
		}
	}
	for {
		// Idle until an Add; then let the message that woke the writer
		// finish its routing first (its recipient's Mirror finds the
		// entry still queued).
		select {
		case <-w.wake:
		case <-w.quit:
		}
		pause(w.gather)
		for {
			w.mu.Lock()
			b := w.cur
			got := len(b.entries) > 0 // read under the lock: Add appends to cur
			if got {
				w.cur, w.busy = w.next(), b
			} else if w.closed {
				w.mu.Unlock()
				return // no Add queues after this
			}
			w.mu.Unlock()
			if !got {
				break
			}
			n := w.writeBatch(b)
			// Let the next batch gather (its recipients' Mirror, and
			// under load, chunks of more entries each: fewer rows, pages
			// and commits per message), longer when busy.
			if n >= busyBatch {
				pause(w.linger)
			} else {
				pause(w.gather)
			}
		}
	}
}

// writeBatch writes b, lets Sync callers and Add go on, and returns the
// number of entries.
func (w *Writer) writeBatch(b *batch) int {
	for es := b.entries; len(es) > 0; {
		n := min(len(es), maxChunk)
		if w.write(es[:n]) != nil {
			w.lostAt.Store(time.Now().UnixNano()) // before done: Sync callers of b see it
		}
		es = es[n:]
	}
	n := len(b.entries)
	clear(b.entries) // the payloads and names go with the batch
	w.mu.Lock()
	w.busy = nil
	w.queued -= n
	if w.spare == nil && n >= cap(b.entries)/4 { // (a burst's array is let go as the load falls)
		w.spare = b.entries[:0]
	}
	w.space.Broadcast()
	w.mu.Unlock()
	close(b.done)
	return n
}

func (w *Writer) write(es []Entry) error {
	var err error
	pause := w.retry
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		err = w.h.Write(ctx, es)
		cancel()
		if err == nil {
			return nil
		}
		if try == writeTries {
			break
		}
		w.log.Warn("archive write failed; trying again", "entries", len(es), "in", pause, "err", err)
		select {
		case <-time.After(pause):
		case <-w.quit:
			try = writeTries - 1 // shutting down: one more try, not the whole series
		}
		pause *= 2
	}
	w.log.Error("archive entries lost: check the storage; acknowledgements wait until it works", "entries", len(es), "first_owner", es[0].Owner, "err", err)
	return err
}

// Clock gives strictly increasing microsecond times: unique names for the
// entries of one process. The zero value is ready.
type Clock struct{ last atomic.Int64 }

// Next returns t truncated to the microsecond, or the microsecond after
// the last time it gave if t is not later.
func (c *Clock) Next(t time.Time) time.Time {
	us := t.UnixMicro()
	for {
		last := c.last.Load()
		n := max(us, last+1)
		if c.last.CompareAndSwap(last, n) {
			return time.UnixMicro(n).UTC()
		}
	}
}

// TimeID names an entry by its time (microseconds): an archive id of the
// same form as EncodeID's, ordered like the times.
func TimeID(t time.Time) string { return EncodeID(t.UnixMicro()) }

// ParseTimeID is the inverse of TimeID.
func ParseTimeID(id string) (time.Time, error) {
	us, err := DecodeID(id)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMicro(us).UTC(), nil
}
