package messages

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
)

// TestPendingProgress: a message sent asking for timely and reliable
// delivery stays pending after "processed" (marked, the deadline kept) and
// ends with "dispatched" or a failure; one that did not ask ends with
// processed; answers for nothing pending change nothing.
func TestPendingProgress(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := &Module{Pending: st.Archive(), processedTimeout: time.Hour, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	entries := func() []pending {
		page, err := m.Pending.Query(ctx, "a.example", PendingArchive, storage.Query{})
		if err != nil {
			t.Fatal(err)
		}
		var out []pending
		for _, e := range page.Entries {
			var p pending
			json.Unmarshal(e.Payload, &p)
			out = append(out, p)
		}
		return out
	}
	const s, r = "drjones@a.example", "nurse@b.example"
	if err := m.track(ctx, s, r, "<1@a.example>", true, ""); err != nil {
		t.Fatal(err)
	}
	if err := m.track(ctx, s, r, "<2@a.example>", false, ""); err != nil {
		t.Fatal(err)
	}
	deadline := entries()[0].Deadline
	if ok, err := m.progress(ctx, s, r, "<1@a.example>", false); !ok || err != nil {
		t.Fatalf("processed of a reliable message: %v %v", ok, err)
	}
	if ok, _ := m.progress(ctx, s, r, "<2@a.example>", false); !ok {
		t.Fatal("processed of a plain message: not found")
	}
	e := entries()
	if len(e) != 1 || e[0].MessageID != "<1@a.example>" || !e[0].Processed || !e[0].Deadline.Equal(deadline) {
		t.Fatalf("after processed: %+v; want the reliable one only, marked, its deadline kept", e)
	}
	if ok, _ := m.progress(ctx, s, r, "<1@a.example>", false); ok {
		t.Error("a repeated processed counted")
	}
	if ok, _ := m.progress(ctx, s, "other@b.example", "<1@a.example>", true); ok {
		t.Error("an answer from another recipient completed the message")
	}
	if ok, _ := m.complete(ctx, s, r, "<1@a.example>"); !ok || len(entries()) != 0 {
		t.Errorf("dispatched: %v, %+v left", ok, entries())
	}
}

// TestForgetOwed: dispatched notifications owed are kept until they are a
// week old, then forgotten.
func TestForgetOwed(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	m := &Module{Pending: st.Archive(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	for _, id := range []string{"<old@a.example>", "<new@a.example>"} {
		if err := m.owe(ctx, "nurse@b.example", "drjones@a.example", id, "s"); err != nil {
			t.Fatal(err)
		}
	}
	m.forgetOwed(ctx, time.Now()) // nothing is a week old
	if n, _ := m.Pending.Count(ctx, "nurse@b.example", DispatchArchive); n != 2 {
		t.Fatalf("%d owed after a scan now; want 2", n)
	}
	m.forgetOwed(ctx, time.Now().Add(owedFor+time.Minute))
	if n, _ := m.Pending.Count(ctx, "nurse@b.example", DispatchArchive); n != 0 {
		t.Fatalf("%d owed a week later; want 0", n)
	}
}
