package check

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

// Storage opens the configured backend and pings it. A SQLite file that
// does not exist yet is not created.
func (c *Checker) Storage(ctx context.Context, cfg *config.Config) []Result {
	name := "storage " + cfg.Storage.Backend
	if c.OpenStore == nil {
		return []Result{{Info, name, "not checked"}}
	}
	if cfg.Storage.Backend == "sqlite" {
		path := cfg.StoragePath()
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			return []Result{{Info, name, path + " does not exist yet: tern serve will create it"}}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*c.timeout())
	defer cancel()
	st, err := c.OpenStore(ctx, cfg)
	if err != nil {
		return []Result{{Error, name, fmt.Sprintf("cannot open: %v", err)}}
	}
	defer st.Close()
	if err := st.Ping(ctx); err != nil {
		return []Result{{Error, name, fmt.Sprintf("opened but ping failed: %v", err)}}
	}
	where := cfg.StoragePath()
	if cfg.Storage.Backend == "postgres" {
		where = "the database of storage.dsn"
	}
	return []Result{{OK, name, where + " opens and answers"}}
}
