package server

import (
	"context"
	"fmt"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/postgres"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
)

// OpenStore opens the configured backend. There is no fallback: a backend
// that cannot open stops the start (never silently run on memory).
func OpenStore(ctx context.Context, cfg *config.Config) (storage.Store, error) {
	switch cfg.Storage.Backend {
	case "", "sqlite":
		s, err := sqlite.Open(ctx, cfg.StoragePath())
		if err != nil {
			return nil, fmt.Errorf("storage: cannot open SQLite database %s: %w", cfg.StoragePath(), err)
		}
		return s, nil
	case "postgres":
		s, err := postgres.Open(ctx, cfg.Storage.DSN)
		if err != nil {
			return nil, fmt.Errorf("storage: cannot connect to PostgreSQL: %w (check [storage] dsn)", err)
		}
		return s, nil
	}
	return nil, fmt.Errorf("storage: unknown backend %q (use sqlite or postgres)", cfg.Storage.Backend)
}
