package sqlite

import (
	"testing"

	"github.com/tern-xmpp/tern/internal/storage/migration"
)

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %v (%d files)", err, len(ms))
	}
}
