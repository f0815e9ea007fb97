package storage

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// countingHistory records the size of each Write and says when one is done.
type countingHistory struct {
	History
	mu     sync.Mutex
	sizes  []int
	writes chan int
}

func (h *countingHistory) Write(_ context.Context, es []Entry) error {
	h.mu.Lock()
	h.sizes = append(h.sizes, len(es))
	h.mu.Unlock()
	h.writes <- len(es)
	return nil
}

func (h *countingHistory) Latest(context.Context, string) (time.Time, error) { return time.Time{}, nil }

// waitWrite fails the test if no Write comes within a bound far above
// any linger but the test's (an hour).
func waitWrite(t *testing.T, h *countingHistory, what string) int {
	t.Helper()
	select {
	case n := <-h.writes:
		return n
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: no write", what)
		return 0
	}
}

func add(w *Writer, n int) {
	for i := range n {
		w.Add(Entry{Owner: "o@x", Archive: "mam", Peer: "p@x", Payload: fmt.Appendf(nil, "<m n='%d'/>", i)})
	}
}

// TestWriterLingerEnds: the writer waits before it takes a batch (to
// gather entries), but not past a Sync that waits for the batch, nor past
// half its bound queued (Add would soon wait).
func TestWriterLingerEnds(t *testing.T) {
	h := &countingHistory{writes: make(chan int, 16)}
	w := NewWriter(h, slog.New(slog.DiscardHandler))
	defer w.Close()
	w.linger, w.gather = time.Hour, time.Hour
	errs := make(chan error, 2)
	sync := func() { errs <- w.Sync(context.Background()) }
	add(w, busyBatch)
	go sync()
	if n := waitWrite(t, h, "a batch a Sync waits for"); n != busyBatch {
		t.Fatalf("write of %d entries, want %d", n, busyBatch)
	}
	// Lingering (a large batch). A Sync ends it.
	add(w, 3)
	go sync()
	if n := waitWrite(t, h, "a batch a Sync waits for, while lingering"); n != 3 {
		t.Fatalf("write of %d entries, want 3", n)
	}
	// Gathering (a small batch): half the bound queued ends it.
	add(w, maxQueued/2)
	for n := 0; n < maxQueued/2; { // (in writes of maxChunk at most)
		n += waitWrite(t, h, "half the bound queued")
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if len(h.writes) != 0 {
		t.Fatalf("%d writes more than the entries", len(h.writes))
	}
}

// downHistory fails every Write (a database restarting, for good here).
type downHistory struct {
	History
	mu    sync.Mutex
	tries int
}

func (h *downHistory) Write(context.Context, []Entry) error {
	h.mu.Lock()
	h.tries++
	h.mu.Unlock()
	return fmt.Errorf("connection refused")
}

// TestWriterLost: entries the store keeps refusing are tried writeTries
// times, then given up; SyncKept says so (ErrLost) rather than let a
// stream management ack tell the client they are kept; Sync (the writes
// are finished) does not.
func TestWriterLost(t *testing.T) {
	h := &downHistory{}
	w := NewWriter(h, slog.New(slog.DiscardHandler))
	w.retry = time.Millisecond
	defer w.Close()
	w.Add(Entry{Owner: "o@x", Archive: "mam", Peer: "p@x", Payload: []byte("<m/>")})
	if err := w.Sync(context.Background()); err != nil {
		t.Fatalf("Sync (the writes finished, given up): %v", err)
	}
	if err := w.SyncKept(context.Background()); err != ErrLost {
		t.Fatalf("SyncKept after the entries were given up: %v, want ErrLost", err)
	}
	h.mu.Lock()
	tries := h.tries
	h.mu.Unlock()
	if tries != writeTries {
		t.Errorf("%d tries, want %d", tries, writeTries)
	}
	if err := w.SyncKept(context.Background()); err != ErrLost {
		t.Errorf("a later SyncKept with nothing queued: %v, want ErrLost (an ack would cover the lost entries)", err)
	}
}
