package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tern-xmpp/tern/internal/storage/migration"
)

// migrationFiles holds the schema history. Add a file, never edit one that
// has shipped: a database records which versions it has applied.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrationLock is the pg_advisory_lock key (single bigint form) that
// serialises nodes migrating one database at start-up.
const migrationLock = 0x7465726e_6d696772 // "tern" "migr"

// migrate applies every migration newer than the database, each in its own
// transaction with its schema_version row, under a session advisory lock
// so that nodes starting together migrate once.
func migrate(ctx context.Context, pool *pgxpool.Pool, ms []migration.Migration) error {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migrate: take lock: %w", err)
	}
	defer conn.Exec(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))

	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_version (
		version integer PRIMARY KEY,
		name    text NOT NULL,
		applied timestamptz NOT NULL DEFAULT now())`); err != nil {
		return fmt.Errorf("postgres: create schema_version: %w", err)
	}
	var cur int
	if err := conn.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_version`).Scan(&cur); err != nil {
		return fmt.Errorf("postgres: read schema version: %w", err)
	}
	if cur > len(ms) {
		return fmt.Errorf("postgres: database schema version %d is newer than this tern binary supports (%d): "+
			"run a newer tern, or restore a backup taken before the upgrade", cur, len(ms))
	}
	for _, m := range ms[cur:] {
		tx, err := conn.Begin(ctx)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("postgres: migration %s failed, schema left at version %d: %w", m.Name, cur, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_version (version, name) VALUES ($1, $2)`, m.Version, m.Name); err != nil {
			tx.Rollback(ctx)
			return fmt.Errorf("postgres: record migration %s: %w", m.Name, err)
		}
		if err := tx.Commit(ctx); err != nil {
			return fmt.Errorf("postgres: commit migration %s: %w", m.Name, err)
		}
		cur = m.Version
	}
	return nil
}
