package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPrivateStorageMcabber runs mcabber, a curses client, in a detached tmux session, drives
// it through its command FIFO and reads its trace log (stanzas included). At login it asks
// for bookmarks and roster notes over XEP-0049; without the feature it printed "Server does
// not support bookmarks storage". A roster note it sets is back at its next login.
func TestPrivateStorageMcabber(t *testing.T) {
	t.Parallel()
	_, errM := exec.LookPath("mcabber")
	_, errT := exec.LookPath("tmux")
	needPeer(t, "mcabber and tmux (apt-get install mcabber tmux)", errM == nil && errT == nil)
	srv := startTern(t, ternOpts{})
	m := startMcabber(t, srv)

	for _, ns := range []string{"storage:bookmarks", "storage:rosternotes"} {
		r := m.waitRecv("the answer to the "+ns+" get", `jabber:iq:private`, `<storage xmlns="`+ns+`"/>`)
		if !strings.Contains(r, `type="result"`) {
			t.Fatalf("mcabber's XEP-0049 get of %s: got %s; want a result", ns, r)
		}
	}
	m.command("/add " + srv.users[1] + " Bob")
	m.waitRecv("the roster push for bob", `type="set"`, `jabber:iq:roster`, `jid="`+srv.users[1]+`"`)
	m.command("/roster search Bob")
	m.command("/roster note likes tea")
	set := m.waitLine("mcabber's roster note set", `type="set"`, `storage:rosternotes`, `likes tea`)
	id := regexp.MustCompile(`id="([^"]+)"`).FindStringSubmatch(set)
	if id == nil {
		t.Fatalf("no id in %s", set)
	}
	m.waitRecv("the result of the note set", `id="`+id[1]+`"`, `type="result"`)
	m.quit()

	m = startMcabber(t, srv)
	m.waitRecv("the stored roster note at the next login", `type="result"`, `storage:rosternotes`, `likes tea`)
	m.quit()
	if b, _ := os.ReadFile(m.trace); bytes.Contains(b, []byte("does not support")) {
		t.Errorf("mcabber still warns:\n%s", grepLines(b, "does not support"))
	}
}

type mcabber struct {
	t           *testing.T
	sock        string // tmux server socket
	trace, fifo string
	start, from int // trace offsets: this run's, and where waitLine looks on
	seen        int // received stanzas of this run waitRecv has gone past
}

// startMcabber runs mcabber for srv's first user; its trace log is appended to across runs.
func startMcabber(t *testing.T, srv *ternProc) *mcabber {
	t.Helper()
	dir := filepath.Join(filepath.Dir(srv.config), "mcabber")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	m := &mcabber{t: t, sock: filepath.Join(dir, "tmux.sock"),
		trace: filepath.Join(dir, "trace.log"), fifo: filepath.Join(dir, "fifo")}
	host, port, err := net.SplitHostPort(srv.c2s)
	if err != nil {
		t.Fatal(err)
	}
	rc := filepath.Join(dir, "mcabberrc")
	writeFile(t, rc, fmt.Sprintf(`set jid = %s
set password = %s
set server = %s
set port = %s
set resource = mcabber
set disable_random_resource = 1
set tls = 1
set ssl_ignore_checks = 1
set tracelog_level = 3
set tracelog_file = %s
set fifo_name = %s
set statefile = %s
set logging = 0
module load fifo
`, srv.users[0], srv.password, host, port, m.trace, m.fifo, filepath.Join(dir, "state")))
	if b, err := os.ReadFile(m.trace); err == nil {
		m.start, m.from = len(b), len(b)
	}
	cmd := fmt.Sprintf("HOME=%q TERM=xterm exec mcabber -f %q", dir, rc)
	if out, err := exec.Command("tmux", "-S", m.sock, "new-session", "-d", "-s", "mc", "-x", "200", "-y", "50", cmd).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v\n%s", err, out)
	}
	// mcabber survives tmux's SIGHUP and ignores SIGTERM: a test that fails before /quit
	// must SIGKILL it, checking the pid is still this mcabber.
	out, err := exec.Command("tmux", "-S", m.sock, "display-message", "-p", "-t", "mc", "#{pane_pid}").Output()
	pid, perr := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil || perr != nil {
		exec.Command("tmux", "-S", m.sock, "kill-server").Run()
		t.Fatalf("tmux pane pid: %v %v (%q)", err, perr, out)
	}
	t.Cleanup(func() {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(b, []byte(rc)) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		exec.Command("tmux", "-S", m.sock, "kill-server").Run()
	})
	m.waitLine("mcabber's login", "Connection established")
	return m
}

// waitLine waits for a trace line after m.from holding every part, moves m.from past it and
// returns it.
func (m *mcabber) waitLine(what string, parts ...string) string {
	m.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(m.trace)
		if end := bytes.LastIndexByte(b, '\n') + 1; end > m.from { // whole lines only
			off := m.from
			for _, line := range bytes.SplitAfter(b[m.from:end], []byte("\n")) {
				off += len(line)
				if containsAll(line, parts) {
					m.from = off
					return string(bytes.TrimSpace(line))
				}
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mcabber: no %s (a trace line with %q) within 30s\n--- %s (tail) ---\n%s", what, parts, m.trace, tail(m.trace))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// recvChunk is one read as loudmouth traces it; the whole stream is their concatenation.
var recvChunk = regexp.MustCompile(`LM-NET: RECV \[\d+\]:\n.*\n.*LM-NET: '(.*)'\n`)

// stanzaStart splits the received stream before each stanza.
var stanzaStart = regexp.MustCompile(`<(iq|message|presence)[ >]`)

// waitRecv waits for a stanza received in this run, after those already matched, holding
// every part.
func (m *mcabber) waitRecv(what string, parts ...string) string {
	m.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(m.trace)
		var stream strings.Builder
		for _, c := range recvChunk.FindAllSubmatch(b[m.start:], -1) {
			stream.Write(c[1])
		}
		s := stream.String()
		starts := stanzaStart.FindAllStringIndex(s, -1)
		for i := m.seen; i < len(starts); i++ { // the last may be incomplete: looked at again next time
			end := len(s)
			if i+1 < len(starts) {
				end = starts[i+1][0]
			}
			st := s[starts[i][0]:end]
			if containsAll([]byte(st), parts) {
				m.seen = i + 1
				return st
			}
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mcabber: no %s (a received stanza with %q) within 30s\n--- %s (tail) ---\n%s", what, parts, m.trace, tail(m.trace))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// command writes one line to mcabber's FIFO and waits until mcabber has run it.
func (m *mcabber) command(line string) {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { // opening a FIFO for writing blocks until mcabber reads it
		f, err := os.OpenFile(m.fifo, os.O_WRONLY, 0)
		if err == nil {
			_, err = f.WriteString(line + "\n")
			f.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			m.t.Fatalf("mcabber FIFO: %v", err)
		}
	case <-ctx.Done():
		m.t.Fatalf("mcabber FIFO %s not read within 10s", m.fifo)
	}
	m.waitLine("FIFO command "+line, "Executing FIFO command: "+line)
}

// quit ends mcabber (it disconnects cleanly) and waits for the tmux session to be gone.
func (m *mcabber) quit() {
	m.t.Helper()
	m.command("/quit")
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if exec.Command("tmux", "-S", m.sock, "has-session").Run() != nil {
			return
		}
	}
	m.t.Fatalf("mcabber did not exit within 10s of /quit")
}

func containsAll(line []byte, parts []string) bool {
	for _, p := range parts {
		if !bytes.Contains(line, []byte(p)) {
			return false
		}
	}
	return true
}

func grepLines(b []byte, s string) string {
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, s) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
