package storagetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// OfflineRow is one row of the offline table of schema 0002, which the
// 0003 migration moves into the archive.
type OfflineRow struct {
	Owner  string
	Stanza []byte
	Stored time.Time
}

// OfflineRows returns rows for two owners, interleaved, with stored times
// not in id order (a clock step back), so the migration must keep the id
// order and the times as they were.
func OfflineRows() []OfflineRow {
	var rows []OfflineRow
	t0 := time.Date(2026, 2, 3, 4, 5, 6, 7000, time.UTC)
	for i := range 6 {
		owner := []string{"ann@old.example", "ben@old.example"}[i%2]
		at := t0.Add(time.Duration(i) * time.Second)
		if i == 4 {
			at = t0.Add(-time.Hour)
		}
		rows = append(rows, OfflineRow{owner, fmt.Appendf(nil, "<message id='old%d'/>", i), at})
	}
	return rows
}

// CheckMigratedOffline checks that s, opened on a database holding
// OfflineRows under schema 0002, delivers them per owner in their old
// order with their stored times, and that a message stored now comes
// after them and is deleted only with them.
func CheckMigratedOffline(t *testing.T, s storage.Store) {
	t.Helper()
	want := map[string][]OfflineRow{}
	for _, r := range OfflineRows() {
		want[r.Owner] = append(want[r.Owner], r)
	}
	for owner, rows := range want {
		must(t, s.Offline().Store(ctx(t), owner, []byte("<message id='new'/>"), 0))
		got, err := s.Offline().Fetch(ctx(t), owner, 0)
		must(t, err)
		if len(got) != len(rows)+1 {
			t.Fatalf("%s: %d messages after migration, want %d", owner, len(got), len(rows)+1)
		}
		for i, r := range rows {
			if string(got[i].Stanza) != string(r.Stanza) || !got[i].Stored.Equal(r.Stored) {
				t.Errorf("%s: message %d = %q stored %v, want %q stored %v", owner, i, got[i].Stanza, got[i].Stored, r.Stanza, r.Stored)
			}
		}
		if string(got[len(rows)].Stanza) != "<message id='new'/>" {
			t.Errorf("%s: the message stored after the migration is not last: %q", owner, got[len(rows)].Stanza)
		}
		must(t, s.Offline().Delete(ctx(t), owner, got[len(rows)-1].ID))
		rest, err := s.Offline().Fetch(ctx(t), owner, 0)
		must(t, err)
		if len(rest) != 1 || string(rest[0].Stanza) != "<message id='new'/>" {
			t.Errorf("%s: after delivering the migrated messages, left %d messages, want only the new one", owner, len(rest))
		}
	}
}
