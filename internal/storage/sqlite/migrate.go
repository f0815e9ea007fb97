package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

// migrationFiles holds the schema history. Add a file, never edit one that
// has shipped: a database records which versions it has applied.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// parseMigrationName returns the version of a file named NNNN_what.sql
// (digits, underscore, a description, .sql).
func parseMigrationName(name string) (int, error) {
	base, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return 0, fmt.Errorf("migration %q: name must end in .sql", name)
	}
	digits, desc, ok := strings.Cut(base, "_")
	if !ok || desc == "" || digits == "" {
		return 0, fmt.Errorf("migration %q: name must be NNNN_description.sql", name)
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("migration %q: version %q is not a decimal number", name, digits)
		}
	}
	v, err := strconv.Atoi(digits)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %q: version must be a positive number", name)
	}
	return v, nil
}

// loadMigrations reads dir of fsys, sorted by version. Versions must run
// 1, 2, 3... without gaps or duplicates, so a missing file fails the build's
// tests instead of a production upgrade.
func loadMigrations(fsys fs.FS, dir string) ([]migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		v, err := parseMigrationName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: e.Name(), sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %q: expected version %d (versions must be contiguous from 1)", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies every migration newer than the database, each in its own
// transaction together with its schema_version row, so a crash leaves the
// schema at a recorded version. db must be the writer pool: BEGIN
// IMMEDIATE serialises two processes migrating the same file.
func migrate(ctx context.Context, db *sql.DB, ms []migration) error {
	if _, err := db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version INTEGER PRIMARY KEY,
		name    TEXT    NOT NULL,
		applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: create schema_version: %w", err)
	}
	latest := len(ms)
	for _, m := range ms {
		if err := applyMigration(ctx, db, m, latest); err != nil {
			return err
		}
	}
	// A database without pending migrations still must not be newer.
	var cur int
	if err := db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if cur > latest {
		return newerSchemaError(cur, latest)
	}
	return nil
}

func applyMigration(ctx context.Context, db *sql.DB, m migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.name, err)
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if cur > latest {
		return newerSchemaError(cur, latest)
	}
	if cur >= m.version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.sql); err != nil {
		return fmt.Errorf("sqlite: migration %s failed, schema left at version %d: %w", m.name, cur, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)`,
		m.version, m.name, time.Now().UTC().UnixNano()); err != nil {
		return fmt.Errorf("sqlite: record migration %s: %w", m.name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit migration %s: %w", m.name, err)
	}
	return nil
}

func newerSchemaError(cur, latest int) error {
	return fmt.Errorf("sqlite: database schema version %d is newer than this tern binary supports (%d): "+
		"run a newer tern, or restore a backup taken before the upgrade", cur, latest)
}
