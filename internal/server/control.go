package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"github.com/tern-xmpp/tern/internal/config"
	"github.com/tern-xmpp/tern/internal/control"
	"github.com/tern-xmpp/tern/internal/jid"
	"github.com/tern-xmpp/tern/internal/register"
	"github.com/tern-xmpp/tern/internal/storage"
)

// listenControl binds the control socket early, so a second server on the
// same data directory stops before it opens the database. A data_dir too
// long for a socket path costs only the socket (nil listener, a warning).
func listenControl(cfg *config.Config, log *slog.Logger) (net.Listener, error) {
	path := cfg.ControlSocket()
	if len(path) > control.MaxPath {
		log.Warn("no control socket: the data directory's path is too long for a Unix socket; `tern user del` will not reach this server (use a shorter data_dir)", "path", path)
		return nil, nil
	}
	return control.Listen(path)
}

// serveControl answers the CLI's operations on l until l is closed.
func serveControl(ctx context.Context, l net.Listener, cfg *config.Config, reg *register.Service, log *slog.Logger) {
	if l == nil {
		return
	}
	ctl := control.NewServer(ctx, log)
	ctl.Handle("user.del", func(ctx context.Context, args map[string]string) (string, error) {
		j, err := jid.Parse(args["jid"])
		if err != nil || j.Local() == "" || j.Resource() != "" {
			return "", fmt.Errorf("%q is not an account (user@domain)", args["jid"])
		}
		if _, ok := cfg.Domain(j.Domain()); !ok {
			return "", fmt.Errorf("%s is not a domain of this server", j.Domain())
		}
		n, err := reg.Delete(ctx, j, "account deleted by the administrator")
		if errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("no such user: %s", j)
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("deleted %s: its contacts were told, %d session(s) closed", j, n), nil
	})
	go func() {
		if err := ctl.Serve(l); err != nil {
			log.Error("control socket stopped", "err", err)
		}
	}()
	log.Info("control socket listening", "path", cfg.ControlSocket())
}
