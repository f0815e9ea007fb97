package audit

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
)

func newStore(t *testing.T) (storage.Store, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tern.db")
	st, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st, path
}

// TestChain: entries appended (some at once) chain, Read filters by
// address, and Verify finds a removed entry and a changed one.
func TestChain(t *testing.T) {
	st, path := newStore(t)
	ctx := context.Background()
	l := &Log{Store: st.Archive()}
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := fmt.Sprintf("user%d@b.example", i%3)
			if err := l.Append(ctx, "b.example", Record{Event: Received, Address: addr, Peer: "drjones@a.example", MessageID: fmt.Sprintf("<%d@a.example>", i)}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if err := l.Append(ctx, "c.example", Record{Event: Sent, Address: "x@c.example"}); err != nil {
		t.Fatal(err)
	}
	n, last, err := Verify(ctx, st.Archive(), "b.example")
	if err != nil || n != 20 || len(last) != 64 {
		t.Fatalf("Verify: %d entries, last %q, %v", n, last, err)
	}
	// A new Log (a restart) links to what is stored.
	l2 := &Log{Store: st.Archive()}
	if err := l2.Append(ctx, "b.example", Record{Event: Rejected, Address: "user1@b.example", Rule: "untrusted"}); err != nil {
		t.Fatal(err)
	}
	if n, _, err := Verify(ctx, st.Archive(), "b.example"); err != nil || n != 21 {
		t.Fatalf("after a restart: %d, %v", n, err)
	}
	recs, err := Read(ctx, st.Archive(), "b.example", storage.Query{Peer: "user1@b.example"})
	if err != nil || len(recs) != 8 { // 7 received (i%3 == 1) and the rejection
		t.Fatalf("Read user1: %d, %v", len(recs), err)
	}
	if recs[len(recs)-1].Rule != "untrusted" {
		t.Errorf("last of user1: %+v", recs[len(recs)-1])
	}

	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Changed content: the hash no longer matches.
	if _, err := db.Exec(`UPDATE archive SET payload = replace(payload, 'untrusted', 'accepted') WHERE archive = ?`, Archive); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(ctx, st.Archive(), "b.example"); !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "entry 21") || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("after a change: %v", err)
	}
	// A removed entry: the next one links to nothing before it.
	if _, err := db.Exec(`DELETE FROM archive WHERE id = (SELECT id FROM archive WHERE archive = ? AND owner = 'b.example' ORDER BY id LIMIT 1 OFFSET 4)`, Archive); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Verify(ctx, st.Archive(), "b.example"); !errors.Is(err, ErrBroken) || !strings.Contains(err.Error(), "entry 5") || !strings.Contains(err.Error(), "removed or changed") {
		t.Errorf("after a removal: %v", err)
	}
	if n, _, err := Verify(ctx, st.Archive(), "c.example"); err != nil || n != 1 {
		t.Errorf("another domain's trail: %d, %v", n, err)
	}
}
