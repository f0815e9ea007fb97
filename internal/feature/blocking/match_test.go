package blocking

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
)

type listStore struct {
	storage.Blocking
	l []string
}

func (s listStore) BlockList(context.Context, string) ([]string, error) { return s.l, nil }

// Blocked compares canonical strings instead of parsing items: it must
// agree with matches (XEP-0191 §3 via XEP-0016 §2.1) on every pairing.
func TestBlockedAgreesWithMatches(t *testing.T) {
	forms := []string{"u@x.example/r", "u@x.example/other", "u@x.example", "v@x.example", "x.example/r",
		"x.example", "y.example", "sub.x.example", "u@sub.x.example/r", "x.example/other"}
	ctx := context.Background()
	for _, it := range forms {
		item := jid.MustParse(it)
		s := &Service{store: listStore{l: []string{item.String()}}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		for _, js := range forms {
			j := jid.MustParse(js)
			if got, want := s.Blocked(ctx, "o@x.example", j), matches(item, j); got != want {
				t.Errorf("item %s, JID %s: Blocked = %v, matches = %v", it, js, got, want)
			}
		}
	}
}
