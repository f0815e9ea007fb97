package check

import (
	"context"
	"errors"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
)

// Control says whether a server runs on this data directory (its control
// socket answers), which is what `tern user del` and `tern unban` reach.
func (c *Checker) Control(ctx context.Context, cfg *config.Config) []Result {
	path := cfg.ControlSocket()
	if len(path) > control.MaxPath {
		return []Result{{Warning, "control socket", path + " is longer than a Unix socket path may be: a running server has no control socket, so tern user del cannot tell contacts or end sessions and tern unban cannot work; use a shorter data_dir"}}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout())
	defer cancel()
	text, err := control.Call(ctx, path, "status", nil)
	switch {
	case err == nil:
		return []Result{{Info, "control socket", "a server runs on this data directory: " + text}}
	case errors.Is(err, control.ErrNotRunning):
		return []Result{{Info, "control socket", "no server runs on this data directory (" + path + ")"}}
	}
	return []Result{{Warning, "control socket", err.Error()}}
}
