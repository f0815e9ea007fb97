package e2e

import (
	"net"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

func init() {
	// A -race binary sleeps 1 s at exit (the race runtime's atexit_sleep_ms) and the harness
	// runs one `tern user add` per user: without this, user creation dominates the run.
	// Set for the children only (this process read GORACE at its start); serve's own
	// GORACE=halt_on_error=0 comes later in its environment and wins.
	if os.Getenv("GORACE") == "" {
		os.Setenv("GORACE", "atexit_sleep_ms=0")
	}
}

// crash kills tern with SIGKILL (no shutdown code runs: what a power cut or the OOM killer
// does) and waits for it to be gone.
func (p *ternProc) crash(t testing.TB) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatalf("SIGKILL tern: %v", err)
	}
	<-p.exited
}

// restart starts tern again on the same config and data directory after crash (or any exit),
// appending to the same log; the cleanup registered by startTern then stops the new process.
func (p *ternProc) restart(t testing.TB) {
	t.Helper()
	<-p.exited // the old waiter goroutine closes p.exited: it must be done before we replace it
	logf, err := os.OpenFile(p.logFile, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	logf.WriteString("\n--- e2e: restarted ---\n")
	cmd := exec.Command(ternBin, "serve", "--config", p.config)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	if err := cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("restart %s: %v", ternBin, err)
	}
	exited := make(chan struct{})
	p.cmd, p.exited, p.waitErr = cmd, exited, nil
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.waitErr = err
		close(exited)
	}()
	for _, addr := range []string{p.c2s, p.c2sTLS} {
		if err := p.waitListening(addr); err != nil {
			t.Fatalf("tern did not come back up: %v\n--- %s ---\n%s", err, p.logFile, tail(p.logFile))
		}
	}
}

// dialPlainText connects without TLS, for checks of what a server allows before STARTTLS.
func dialPlainText(t testing.TB, srv *target) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", srv.c2s, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.c2s, err)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { c.conn.Close() })
	return c
}
