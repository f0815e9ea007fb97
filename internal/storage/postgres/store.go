package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/migration"
)

// Store is the PostgreSQL backend over a pgx connection pool.
type Store struct {
	pool    *pgxpool.Pool
	where   string          // host/database for error messages, never the password
	offline storage.Offline // on archive, built once: Offline() is on the hot path
}

var _ storage.Store = (*Store)(nil)

// Open connects to dsn (a libpq URL or key=value string; pool settings
// such as pool_max_conns and runtime parameters such as search_path are
// accepted), and migrates the schema of the first schema of search_path.
func Open(ctx context.Context, dsn string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse DSN (postgres://user@host:5432/db?sslmode=...): %w", err)
	}
	where := fmt.Sprintf("%s:%d/%s", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect to %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s (is the server running and the DSN right?): %w", where, err)
	}
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: embedded migrations: %w", err)
	}
	if err := migrate(ctx, pool, ms); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, where: where}
	s.offline = storage.OfflineArchive(archive{s})
	return s, nil
}

func (s *Store) Users() storage.Users               { return users{s} }
func (s *Store) Roster() storage.Roster             { return roster{s} }
func (s *Store) Offline() storage.Offline           { return s.offline }
func (s *Store) Archive() storage.Archive           { return archive{s} }
func (s *Store) History() storage.History           { return history{s} }
func (s *Store) VCards() storage.VCards             { return vcards{s} }
func (s *Store) Blocking() storage.Blocking         { return blocking{s} }
func (s *Store) LastActivity() storage.LastActivity { return lastActivity{s} }
func (s *Store) PrivateXML() storage.PrivateXML     { return privateXML{s} }
func (s *Store) Tracking() storage.Tracking         { return tracking{s} }
func (s *Store) DirectCerts() storage.DirectCerts   { return directCerts{s} }

// Ping checks the server answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping %s: %w", s.where, err)
	}
	return nil
}

// Close closes the pool, waiting for connections in use to be released.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// inTx runs fn in a transaction and commits it; what describes the
// operation for the error.
func (s *Store) inTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, s.pool, fn)
	if err == nil || isSentinel(err) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

// inSnapshot is inTx at REPEATABLE READ: every statement of fn sees the
// same rows (history deletes copy entries to the rows that refer to the
// rows they then delete: a chunk committed between the two must not be
// seen by one only). A serialization failure (another transaction
// changed the same rows) is tried again.
func (s *Store) inSnapshot(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	var err error
	for range 5 {
		err = pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead}, fn)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "40001" {
			break
		}
	}
	if err == nil || isSentinel(err) {
		return err
	}
	return fmt.Errorf("postgres: %s: %w", what, err)
}

func isSentinel(err error) bool {
	return err == storage.ErrNotFound || err == storage.ErrConflict || err == storage.ErrQuotaExceeded
}

// wrap adds context to a driver error, leaving nil alone.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: "+format+": %w", append(args, err)...)
}

func notFound(err error) bool { return errors.Is(err, pgx.ErrNoRows) }

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
