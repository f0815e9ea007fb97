package sqlite

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/migration"
	"github.com/tern-xmpp/tern/internal/storage/schema"
	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

// catalog lists the tables of the database and their columns.
func catalog(t *testing.T, db *sql.DB) map[string][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), `SELECT m.name, p.name FROM sqlite_master AS m, pragma_table_info(m.name) AS p
		WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var tbl, col string
		if err := rows.Scan(&tbl, &col); err != nil {
			t.Fatal(err)
		}
		out[tbl] = append(out[tbl], col)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOwnerTables fails when a table of the migrated schema holding
// per-user rows is missing from schema.OwnerTables, which account
// deletion wipes.
func TestOwnerTables(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := schema.CheckOwnerTables(catalog(t, s.w)); err != nil {
		t.Error(err)
	}
	// The check itself: a new per-user table it is not told about fails it.
	if _, err := s.w.ExecContext(t.Context(), `CREATE TABLE bookmarks2 (owner TEXT NOT NULL, data BLOB)`); err != nil {
		t.Fatal(err)
	}
	if err := schema.CheckOwnerTables(catalog(t, s.w)); err == nil {
		t.Error("CheckOwnerTables accepts a per-user table missing from OwnerTables")
	}
}

// TestMigration0003KeepsOffline starts from a database at migration 0002
// holding offline messages and checks they are delivered in order, with
// their times, once 0003 has moved them into the archive.
func TestMigration0003KeepsOffline(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", path+"?_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), db, ms[:2]); err != nil {
		t.Fatal(err)
	}
	for _, r := range storagetest.OfflineRows() {
		if _, err := db.ExecContext(t.Context(), `INSERT INTO offline (owner, stanza, stored) VALUES (?, ?, ?)`,
			r.Owner, r.Stanza, r.Stored.UnixNano()); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storagetest.CheckMigratedOffline(t, s)
}

// TestArchiveQueryPlans checks the statements use the indexes meant for
// them, the partial time indexes included (only if a query repeats their
// WHERE term does SQLite use them).
func TestArchiveQueryPlans(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	plan := func(q string, args ...any) string {
		rows, err := s.r.QueryContext(t.Context(), "EXPLAIN QUERY PLAN "+q, args...)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var b strings.Builder
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			b.WriteString(detail + "; ")
		}
		return b.String()
	}
	for _, c := range []struct {
		name, index string
		archive     string
		q           storage.Query
	}{
		{"page", "archive_owner_id", "mam", storage.Query{Max: 10, AfterID: storage.EncodeID(5)}},
		{"time range", "archive_owner_at", "mam", storage.Query{Start: at, End: at.Add(time.Hour)}},
		{"peer", "archive_owner_peer_at", "direct-pending", storage.Query{Peer: "drjones@a.example", ByTime: true}},
		{"mam page", "archive_owner_at", "mam", storage.Query{Max: 10, Start: at, ByTime: true}},
		{"mam last page", "archive_owner_at", "mam", storage.Query{Max: 10, Last: true, ByTime: true}},
		{"mam with", "archive_owner_peer_at", "mam", storage.Query{Max: 10, Peer: "bob@b.example", Start: at, ByTime: true}},
		{"mam ids", "archive_owner_at", "mam", storage.Query{Times: []time.Time{at, at.Add(time.Second)}, ByTime: true}},
		{"offline fetch", "archive_offline", storage.ArchiveOffline, storage.Query{Max: 100}},
	} {
		q, args, err := dialect.ArchiveQuery("a@b.example", c.archive, c.q)
		if err != nil {
			t.Fatal(err)
		}
		if p := plan(q, args...); !strings.Contains(p, c.index) {
			t.Errorf("%s: plan %q does not use %s", c.name, p, c.index)
		}
	}
	asSelect := func(q string) string { return strings.Replace(q, "DELETE", "SELECT id", 1) }
	for _, c := range []struct {
		name, q, index string
		args           []any
	}{
		{"offline count", stmts.For(storage.ArchiveOffline).Count, "archive_offline", []any{"a@b", storage.ArchiveOffline}},
		{"count", stmts.For("mam").Count, "archive_owner_", []any{"a@b", "mam"}},
		{"offline quota", strings.Replace(stmts.For(storage.ArchiveOffline).Insert, "INSERT INTO archive (owner, archive, at, peer, payload) ", "", 1), "archive_offline",
			[]any{"a@b", storage.ArchiveOffline, 0, "", []byte{}, 10}},
		{"offline delete up to", asSelect(stmts.For(storage.ArchiveOffline).DeleteUpTo), "archive_offline", []any{"a@b", storage.ArchiveOffline, 5}},
		{"expire", asSelect(stmts.For("mam").ExpireBefore), "archive_expire", []any{"mam", 0}},
		{"delete all archives 1", asSelect(stmts.DeleteOwnerAll[0]), "archive_offline", []any{"a@b"}},
		{"delete all archives 2", asSelect(stmts.DeleteOwnerAll[1]), "archive_owner_", []any{"a@b"}},
	} {
		if p := plan(c.q, c.args...); !strings.Contains(p, c.index) {
			t.Errorf("%s: plan %q does not use %s", c.name, p, c.index)
		}
	}
	// Account deletion must not scan a table.
	for _, d := range deleteOwner {
		if p := plan(strings.Replace(d.SQL, "DELETE", "SELECT 1", 1), d.Args("a@b")...); strings.Contains(p, "SCAN") {
			t.Errorf("%s: plan %q scans", d.SQL, p)
		}
	}
}
