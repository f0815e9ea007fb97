package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestRosterPresenceOfflineSlixmpp runs ../interop/scenario.py (slixmpp): SCRAM login, mutual
// subscription with roster pushes, presence, chat both ways, offline storage with XEP-0203
// delay on re-login, and unsubscription. The SASL mechanism and transport vary per row.
func TestRosterPresenceOfflineSlixmpp(t *testing.T) {
	rows := []struct {
		name      string
		mech      string // "auto" accepts any SCRAM-SHA-* the client picks
		directTLS bool
	}{
		{"scram-auto-direct-tls", "auto", true},
		{"scram-sha-1-starttls", "SCRAM-SHA-1", false},
		{"scram-sha-256-starttls", "SCRAM-SHA-256", false},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			forEachServer(t, func(t *testing.T, srv *target) {
				runScenarioPy(t, srv, row.mech, row.directTLS)
			})
		})
	}
}

// scenarioStep is one JSON line printed by scenario.py.
type scenarioStep struct {
	Step     string `json:"step"`
	OK       bool   `json:"ok"`
	Expected string `json:"expected"`
	Error    string `json:"error"`
}

func runScenarioPy(t *testing.T, srv *target, mech string, directTLS bool) {
	t.Helper()
	if mech != "auto" {
		srv.require(t, mech)
	}
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, srv.password+"\n")
	addr := srv.c2s
	args := []string{filepath.Join("..", "interop", "scenario.py"), "--trace",
		"--alice", srv.users[0], "--bob", srv.users[1], "--password-file", pw, "--mech", mech}
	if directTLS {
		addr = srv.c2sTLS
		args = append(args, "--direct-tls")
	}
	args = append(args, "--addr", addr)
	for step, why := range srv.deviations {
		t.Logf("%s: step %s may fail: %s", srv.name, step, why)
		args = append(args, "--known-deviation", step)
	}

	last, runErr, trace := runStepScript(t, dir, args, 3*time.Minute)
	switch {
	case runErr == nil && last.Step == "done" && last.OK:
	case runErr != nil && !last.OK && last.Step != "":
		t.Errorf("%s: step %q failed: expected %s; %s\n--- client trace (tail) ---\n%s",
			srv.name, last.Step, last.Expected, last.Error, tail(trace))
	default:
		t.Errorf("%s: scenario.py ended with %v after step %q (want exit 0 after \"done\")\n--- client trace (tail) ---\n%s",
			srv.name, runErr, last.Step, tail(trace))
	}
}

// runStepScript runs a client script (scenario.py, federation.py) that prints one JSON
// step per line on stdout and its XML trace on stderr; it logs every step and returns the
// last one, the exit error, and the trace file.
func runStepScript(t *testing.T, dir string, args []string, timeout time.Duration) (last scenarioStep, runErr error, trace string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	name := filepath.Base(args[0])
	trace = filepath.Join(dir, strings.TrimSuffix(name, ".py")+".trace")
	stderr, err := os.Create(trace)
	if err != nil {
		t.Fatal(err)
	}
	defer stderr.Close()
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, python, args...)
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
	runErr = cmd.Run()
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		line := sc.Bytes()
		var st scenarioStep
		if json.Unmarshal(line, &st) != nil {
			t.Logf("%s: %s", name, line)
			continue
		}
		t.Logf("step %s", line)
		last = st
	}
	return last, runErr, trace
}

// TestStreamManagementSlixmpp runs ../interop/sm.py: slixmpp's own XEP-0198 client enables
// stream management, gets every stanza it sent acknowledged, and, after a connection cut while
// two messages were unacknowledged, gets those two (and only those) at its next login.
func TestStreamManagementSlixmpp(t *testing.T) {
	t.Parallel()
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	srv := startTern(t, ternOpts{})
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, srv.password+"\n")
	args := []string{filepath.Join("..", "interop", "sm.py"), "--trace",
		"--alice", srv.users[0], "--bob", srv.users[1], "--password-file", pw, "--addr", srv.c2s}
	last, runErr, trace := runStepScript(t, dir, args, 2*time.Minute)
	if runErr != nil || last.Step != "done" || !last.OK {
		t.Errorf("sm.py ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s",
			runErr, last.Step, last.Expected, last.Error, tail(trace))
	}
}
