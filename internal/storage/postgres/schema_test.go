package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tern-xmpp/tern/internal/storage/migration"
	"github.com/tern-xmpp/tern/internal/storage/schema"
	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

// catalog lists the tables of the store's schema and their columns.
func catalog(t *testing.T, pool *pgxpool.Pool) map[string][]string {
	t.Helper()
	rows, _ := pool.Query(t.Context(), `SELECT c.table_name, c.column_name FROM information_schema.columns AS c
		JOIN information_schema.tables AS t USING (table_schema, table_name)
		WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE'`)
	out := map[string][]string{}
	var tbl, col string
	if _, err := pgx.ForEachRow(rows, []any{&tbl, &col}, func() error {
		out[tbl] = append(out[tbl], col)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestOwnerTables fails when a table of the migrated schema holding
// per-user rows is missing from schema.OwnerTables, which account
// deletion wipes.
func TestOwnerTables(t *testing.T) {
	s := open(t, testDSN(t))
	defer s.Close()
	if err := schema.CheckOwnerTables(catalog(t, s.pool)); err != nil {
		t.Error(err)
	}
	if _, err := s.pool.Exec(t.Context(), `CREATE TABLE bookmarks2 (owner text NOT NULL, data bytea)`); err != nil {
		t.Fatal(err)
	}
	if err := schema.CheckOwnerTables(catalog(t, s.pool)); err == nil {
		t.Error("CheckOwnerTables accepts a per-user table missing from OwnerTables")
	}
}

// TestMigration0003KeepsOffline starts from a database at migration 0002
// holding offline messages and checks they are delivered in order, with
// their times, once 0003 has moved them into the archive.
func TestMigration0003KeepsOffline(t *testing.T) {
	dsn := testDSN(t)
	pool, err := pgxpool.New(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if err := migrate(t.Context(), pool, ms[:2]); err != nil {
		t.Fatal(err)
	}
	for _, r := range storagetest.OfflineRows() {
		if _, err := pool.Exec(t.Context(), `INSERT INTO offline (owner, stanza, stored) VALUES ($1, $2, $3)`,
			r.Owner, r.Stanza, r.Stored); err != nil {
			t.Fatal(err)
		}
	}
	pool.Close()
	s := open(t, dsn)
	defer s.Close()
	storagetest.CheckMigratedOffline(t, s)
}
