package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/server"
	"github.com/tern-xmpp/tern/internal/pki/certs"
)

const serveHelp = `Usage: tern serve [--config FILE] [--data DIR]

Runs the server until SIGINT or SIGTERM; SIGHUP reloads certificates.
Without --config it serves the domain "localhost" on 127.0.0.1:5222
(STARTTLS) and 127.0.0.1:5223 (direct TLS), keeping its SQLite database
and a generated self-signed certificate in ./tern-data.
Print an example configuration with "tern config example".
`

// serverRun is server.Run; tests replace it.
var serverRun = server.Run

func cmdServe(e *env, args []string) int {
	fs := e.flags("serve", serveHelp)
	var cf configFlags
	cf.register(fs)
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError(fs, "unexpected argument %q", pos[0])
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	log := newLogger(e.stderr, cfg)
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return e.fail("cannot create the data directory: %v (choose another with --data)", err)
	}
	// The server loads the certificates again and logs them; here only
	// generation warnings matter, the banner shows the rest.
	m, err := server.Certificates(cfg, warnOnly(log))
	if err != nil {
		return e.fail("%v", err)
	}
	server.Version = versionString()
	exe, _ := os.Executable()
	banner(e.stdout, cfg, m, selfCommand(os.Args[0], exe)+" user add"+cf.args())
	if err := serverRun(e.ctx, cfg, log); err != nil {
		return e.fail("%v", err)
	}
	return 0
}

func newLogger(w io.Writer, cfg *config.Config) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel)) // validated
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func warnOnly(l *slog.Logger) *slog.Logger {
	return slog.New(levelFloor{l.Handler(), slog.LevelWarn})
}

// levelFloor drops records below min.
type levelFloor struct {
	slog.Handler
	min slog.Level
}

func (h levelFloor) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= h.min && h.Handler.Enabled(ctx, l)
}

func (h levelFloor) WithAttrs(a []slog.Attr) slog.Handler {
	return levelFloor{h.Handler.WithAttrs(a), h.min}
}

func (h levelFloor) WithGroup(name string) slog.Handler {
	return levelFloor{h.Handler.WithGroup(name), h.min}
}

// banner prints what is served; addUser is the command line that adds a
// user to this server, up to the JID.
func banner(w io.Writer, cfg *config.Config, m *certs.Manager, addUser string) {
	fmt.Fprintf(w, "tern %s serving %s\n", versionString(), strings.Join(cfg.DomainNames(), ", "))
	where := "config:   built-in defaults"
	if cfg.Path != "" {
		where = "config:   " + cfg.Path
	}
	fmt.Fprintln(w, "  "+where)
	db := cfg.StoragePath()
	if cfg.Storage.Backend == "postgres" {
		db = "postgres"
	}
	fmt.Fprintf(w, "  data:     %s (database %s)\n", cfg.DataDir, db)
	fmt.Fprintf(w, "  c2s:      %s\n", listeners(cfg.C2S.Listen, cfg.C2S.ListenTLS))
	fmt.Fprintf(w, "  s2s:      %s\n", listeners(cfg.S2S.Listen, cfg.S2S.ListenTLS))
	http := cfg.HTTP.Listen
	if http == "" {
		http = "off"
	}
	fmt.Fprintf(w, "  http:     %s (metrics at /metrics)\n", http)
	for _, in := range m.Infos() {
		kind := "issued by " + in.Issuer
		if in.SelfSigned {
			kind = "self-signed"
		}
		fmt.Fprintf(w, "  cert %s: %s (%s, until %s)\n", in.Domain, in.CertFile, kind, in.NotAfter.UTC().Format(time.DateOnly))
	}
	fmt.Fprintf(w, "add a user: %s alice@%s\n", addUser, cfg.Domains[0].Name)
}

func listeners(starttls, direct []string) string {
	var parts []string
	for _, a := range starttls {
		parts = append(parts, a+" (STARTTLS)")
	}
	for _, a := range direct {
		parts = append(parts, a+" (direct TLS)")
	}
	if len(parts) == 0 {
		return "off"
	}
	return strings.Join(parts, ", ")
}
