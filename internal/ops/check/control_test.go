package check

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
)

func TestControl(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	c := &Checker{}
	ctx := context.Background()
	if rs := c.Control(ctx, cfg); len(rs) != 1 || rs[0].Severity != Info || !strings.Contains(rs[0].Message, "no server runs") {
		t.Errorf("no server: %+v", rs)
	}

	l, err := control.Listen(cfg.ControlSocket())
	if err != nil {
		t.Fatal(err)
	}
	srv := control.NewServer(ctx, slog.New(slog.DiscardHandler))
	srv.Handle("status", func(context.Context, map[string]string) (string, error) { return "tern test, 3 sessions bound", nil })
	go srv.Serve(l)
	defer l.Close()
	if rs := c.Control(ctx, cfg); len(rs) != 1 || !strings.Contains(rs[0].Message, "a server runs on this data directory: tern test") {
		t.Errorf("server running: %+v", rs)
	}

	cfg.DataDir = "/" + strings.Repeat("d", control.MaxPath)
	if rs := c.Control(ctx, cfg); len(rs) != 1 || rs[0].Severity != Warning || !strings.Contains(rs[0].Message, "shorter data_dir") {
		t.Errorf("path too long: %+v", rs)
	}
}

func TestAmount(t *testing.T) {
	for n, want := range map[int]string{0: "0 errors", 1: "1 error", 2: "2 errors"} {
		if got := amount(n, "error"); got != want {
			t.Errorf("amount(%d) = %q, want %q", n, got, want)
		}
	}
}
