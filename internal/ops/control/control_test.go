package control

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func start(t *testing.T) (*Server, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tern.sock")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer(context.Background(), slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return s, path
}

func TestCall(t *testing.T) {
	s, path := start(t)
	s.Handle("echo", func(_ context.Context, a map[string]string) (string, error) { return "got " + a["x"], nil })
	s.Handle("fail", func(context.Context, map[string]string) (string, error) { return "", errors.New("no such user") })
	ctx := context.Background()
	if got, err := Call(ctx, path, "echo", map[string]string{"x": "y"}); err != nil || got != "got y" {
		t.Errorf("echo = %q, %v", got, err)
	}
	if _, err := Call(ctx, path, "fail", nil); err == nil || err.Error() != "no such user" {
		t.Errorf("fail: err = %v, want the handler's error", err)
	}
	if _, err := Call(ctx, path, "nope", nil); err == nil || !strings.Contains(err.Error(), `unknown operation "nope"`) {
		t.Errorf("unknown op: err = %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, %v; want 0600", fi.Mode(), err)
	}
}

func TestBadRequest(t *testing.T) {
	_, path := start(t)
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("{not json\n"))
	b := make([]byte, 512)
	n, _ := c.Read(b)
	if !strings.Contains(string(b[:n]), `"error":"request:`) {
		t.Errorf("reply to bad JSON = %q", b[:n])
	}
}

func TestNotRunning(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.sock")
	if _, err := Call(context.Background(), path, "echo", nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("no socket: err = %v, want ErrNotRunning", err)
	}
	// A socket file left by a killed server: nobody listens.
	l, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(false)
	l.Close()
	if _, err := Call(context.Background(), path, "echo", nil); !errors.Is(err, ErrNotRunning) {
		t.Errorf("stale socket: err = %v, want ErrNotRunning", err)
	}
	// Listen replaces the leftover.
	l2, err := Listen(path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	l2.Close()
}

func TestSecondServerRefused(t *testing.T) {
	_, path := start(t)
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "another tern server is running") {
		t.Errorf("second Listen: err = %v", err)
	}
}

func TestNotASocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.sock")
	os.WriteFile(path, []byte("keep me"), 0o600)
	if _, err := Listen(path); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Errorf("Listen over a file: err = %v", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "keep me" {
		t.Error("the file was touched")
	}
}
