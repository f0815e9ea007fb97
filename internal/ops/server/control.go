package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
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

// admin is what the control operations act on.
type admin struct {
	router              *router.Router
	authLimit, regLimit *ratelimit.Window
	sessions            func() int
	direct              *directTrust  // nil: no Direct domain
	dns                 *dnsPublisher // nil: no DNS responder
	directory           *directory    // what peer introduction answers
	messages            *messages.Module
}

// serveControl answers the CLI's operations on l; the returned stop closes
// l and waits (bounded) for the operations under way, so none runs on
// into a closing store.
func serveControl(ctx context.Context, l net.Listener, cfg *config.Config, a admin, log *slog.Logger) (stop func()) {
	if l == nil {
		return func() {}
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
		n, err := a.router.DeleteAccount(ctx, j, "account deleted by the administrator")
		if errors.Is(err, storage.ErrNotFound) {
			return "", fmt.Errorf("no such user: %s", j)
		}
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("deleted %s: its contacts were told, %s closed", j, amount(n, "session")), nil
	})
	started := time.Now()
	ctl.Handle("status", func(context.Context, map[string]string) (string, error) {
		return fmt.Sprintf("tern %s, up %s, %s bound", Version, time.Since(started).Round(time.Second), amount(a.sessions(), "session")), nil
	})
	ctl.Handle("unban", func(_ context.Context, args map[string]string) (string, error) {
		return a.unban(args["target"])
	})
	a.direct.handle(ctl)        // tern direct trust (direct.go)
	handleSend(ctl, a.messages) // tern direct send (directmsg.go)
	// tern direct cert add/remove: peer introduction and the responder publish the change now.
	ctl.Handle("direct.certs.changed", func(ctx context.Context, _ map[string]string) (string, error) {
		if err := a.directory.load(ctx); err != nil {
			return "", err
		}
		return a.dns.reload(ctx)
	})
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := ctl.Serve(l); err != nil {
			log.Error("control socket stopped", "err", err)
		}
	}()
	log.Info("control socket listening", "path", cfg.ControlSocket())
	return func() {
		l.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			log.Warn("an administration request was still running at shutdown")
		}
	}
}

// unban lifts the failed-login and registration refusals of an address or
// an account ("" lifts them all) before their windows run out.
func (a admin) unban(target string) (string, error) {
	if target == "" {
		n := a.authLimit.ResetAll() + a.regLimit.ResetAll()
		return fmt.Sprintf("cleared %s: every address and account may log in and register again", amount(n, "counter")), nil
	}
	if ip, err := netip.ParseAddr(target); err == nil {
		s := ip.Unmap().String()
		a.regLimit.Reset(s)
		if !a.authLimit.Reset("ip:" + s) {
			return fmt.Sprintf("%s had no failed logins counted; its registration count is cleared", s), nil
		}
		return fmt.Sprintf("%s may log in again", s), nil
	}
	j, err := jid.Parse(target)
	if err != nil || j.Local() == "" || j.Resource() != "" {
		return "", fmt.Errorf("%q is neither an IP address nor an account (user@domain)", target)
	}
	if !a.authLimit.Reset("user:" + j.String()) {
		return fmt.Sprintf("%s had no failed logins counted", j), nil
	}
	return fmt.Sprintf("%s may log in again", j), nil
}

// amount says n of a unit in the right number: "1 session", "2 sessions".
func amount(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}
