package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/tern-xmpp/tern/internal/storage/migration"
)

// migrationFiles holds the schema history. Add a file, never edit one that
// has shipped: a database records which versions it has applied.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrate applies every migration newer than the database, each in its own
// transaction together with its schema_version row, so a crash leaves the
// schema at a recorded version. db must be the writer pool: BEGIN
// IMMEDIATE serialises two processes migrating the same file.
func migrate(ctx context.Context, db *sql.DB, ms []migration.Migration) error {
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

func applyMigration(ctx context.Context, db *sql.DB, m migration.Migration, latest int) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	defer tx.Rollback()
	var cur int
	if err := tx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("sqlite: read schema version: %w", err)
	}
	if cur > latest {
		return newerSchemaError(cur, latest)
	}
	if cur >= m.Version {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: migration %s failed, schema left at version %d: %w", m.Name, cur, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_version (version, name, applied) VALUES (?, ?, ?)`,
		m.Version, m.Name, time.Now().UTC().UnixNano()); err != nil {
		return fmt.Errorf("sqlite: record migration %s: %w", m.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit migration %s: %w", m.Name, err)
	}
	return nil
}

func newerSchemaError(cur, latest int) error {
	return fmt.Errorf("sqlite: database schema version %d is newer than this tern binary supports (%d): "+
		"run a newer tern, or restore a backup taken before the upgrade", cur, latest)
}
