package blocking

import (
	"context"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage/cache"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
	"github.com/tern-xmpp/tern/internal/wire/jid"
)

// BenchmarkBlocked: the block check one stanza costs, the owner blocking
// three JIDs none of which matches, over the cached store the server runs.
func BenchmarkBlocked(b *testing.B) {
	st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "t.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	if err := st.Blocking().Block(ctx, "alice@example.org", []string{"spam@example.net", "example.com", "carol@example.org"}); err != nil {
		b.Fatal(err)
	}
	s := &Service{store: cache.Wrap(st, cache.Options{}).Blocking(), log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	j := jid.MustParse("bob@example.org/pc")
	b.ReportAllocs()
	for b.Loop() {
		if s.Blocked(ctx, "alice@example.org", j) {
			b.Fatal("bob is not blocked")
		}
	}
}
