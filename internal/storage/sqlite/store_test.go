package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/migration"
	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(t.Context(), filepath.Join(t.TempDir(), "tern.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestSuiteSharedFile runs the suite with every subtest on one file, as
// storagetest promises to allow.
func TestSuiteSharedFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "shared.db")
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := Open(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestOpenCreatesPrivateDirAndFile(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "b")
	path := filepath.Join(dir, "tern.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for p, want := range map[string]os.FileMode{dir: 0o700, path: 0o600} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got&^want != 0 {
			t.Errorf("%s has mode %v, want at most %v", p, got, want)
		}
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func TestOpenRejectsBadArguments(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		path string
		o    Options
	}{
		{"", Options{}},
		{":memory:", Options{}},
		{"file:" + filepath.Join(dir, "x.db"), Options{}},
		{filepath.Join(dir, "x.db?mode=ro"), Options{}},
		{filepath.Join(dir, "y.db"), Options{Synchronous: "OFF"}},
	} {
		if s, err := OpenWith(t.Context(), c.path, c.o); err == nil {
			s.Close()
			t.Errorf("OpenWith(%q, %+v) succeeded, want an error", c.path, c.o)
		}
	}
}

func TestPragmas(t *testing.T) {
	for _, c := range []struct {
		opt      Options
		wantSync int // PRAGMA synchronous: 1 NORMAL, 2 FULL
	}{{Options{}, 1}, {Options{Synchronous: "full"}, 2}} {
		s, err := OpenWith(t.Context(), filepath.Join(t.TempDir(), "p.db"), c.opt)
		if err != nil {
			t.Fatal(err)
		}
		var mode string
		var sync, fk, to int
		row := s.w.QueryRowContext(t.Context(), `SELECT * FROM pragma_journal_mode, pragma_synchronous, pragma_foreign_keys, pragma_busy_timeout`)
		if err := row.Scan(&mode, &sync, &fk, &to); err != nil {
			t.Fatal(err)
		}
		if mode != "wal" || sync != c.wantSync || fk != 1 || to <= 0 {
			t.Errorf("%+v: journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d; want wal, %d, 1, >0",
				c.opt, mode, sync, fk, to, c.wantSync)
		}
		// The read pool must refuse writes.
		if _, err := s.r.ExecContext(t.Context(), `INSERT INTO vcards (owner, vcard) VALUES ('x', x'00')`); err == nil {
			t.Error("write through the read pool succeeded; it must be query_only")
		}
		s.Close()
	}
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Offline().Store(t.Context(), "a@b.example", []byte("<message/>"), 0); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(t.Context(), path) // migrations already applied: no-op
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if n, err := s.Offline().Count(t.Context(), "a@b.example"); err != nil || n != 1 {
		t.Fatalf("Count after reopen = %d, %v; want 1", n, err)
	}
	var v int
	if err := s.r.QueryRowContext(t.Context(), `SELECT max(version) FROM schema_version`).Scan(&v); err != nil {
		t.Fatal(err)
	}
	ms, _ := migration.Load(migrationFiles, "migrations")
	if v != len(ms) {
		t.Errorf("schema_version = %d, want %d", v, len(ms))
	}
}

func TestNewerSchemaRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.w.ExecContext(t.Context(), `INSERT INTO schema_version (version, name, applied) VALUES (999, '0999_future.sql', 0)`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, err = Open(t.Context(), path)
	if err == nil || !strings.Contains(err.Error(), "newer") {
		t.Fatalf("Open of a database from a newer tern: got %v, want an error saying it is newer", err)
	}
}

func TestConcurrentOpenMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.db")
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			s, err := Open(context.Background(), path)
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
