package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/migration"
	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

// defaultDSN is the server the development machine and CI run.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// testDSN returns a DSN whose search_path is a fresh schema, dropped when
// tb ends, so concurrent runs never see each other's tables. It skips when
// no server is reachable, unless CI=true or TERN_TEST_POSTGRES was set.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn, explicit := os.LookupEnv("TERN_TEST_POSTGRES")
	if !explicit || dsn == "" {
		dsn, explicit = defaultDSN, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		if explicit || os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL required (CI=true or TERN_TEST_POSTGRES set) but not reachable: %v", err)
		}
		tb.Skipf("PostgreSQL not reachable at the default DSN (%v); start it or set TERN_TEST_POSTGRES to a DSN", err)
	}
	defer conn.Close(context.Background())
	b := make([]byte, 6)
	rand.Read(b)
	schema := "tern_test_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatalf("create test schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			tb.Errorf("drop test schema %s: %v", schema, err)
		}
	})
	return withSearchPath(tb, dsn, schema)
}

func withSearchPath(tb testing.TB, dsn, schema string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatal(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

func open(tb testing.TB, dsn string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), dsn)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestSuite(t *testing.T) {
	dsn := testDSN(t)
	storagetest.Run(t, func(t *testing.T) storage.Store { return open(t, dsn) })
}

func TestMigrationsRecorded(t *testing.T) {
	dsn := testDSN(t)
	open(t, dsn).Close()
	s := open(t, dsn) // second open: nothing to apply
	defer s.Close()
	var v int
	if err := s.pool.QueryRow(t.Context(), `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	ms, _ := migration.Load(migrationFiles, "migrations")
	if v != len(ms) {
		t.Errorf("schema_version = %d, want %d", v, len(ms))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	dsn := testDSN(t)
	s := open(t, dsn)
	if _, err := s.pool.Exec(t.Context(), `INSERT INTO schema_version (version, name) VALUES (999, '0999_future.sql')`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err := Open(t.Context(), dsn)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a database from a newer tern: got %v, want an error saying it is newer", err)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	dsn := testDSN(t)
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := Open(context.Background(), dsn)
			if err == nil {
				s.Close()
			}
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

func TestOpenErrorHidesPassword(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	_, err := Open(ctx, "postgres://tern:s3cret-pw@127.0.0.1:1/x?sslmode=disable&connect_timeout=2")
	if err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if strings.Contains(err.Error(), "s3cret-pw") {
		t.Errorf("error reveals the password: %v", err)
	}
}
