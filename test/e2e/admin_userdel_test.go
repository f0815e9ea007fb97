package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// tern user del on a running server goes through its control socket: the account's contacts
// are told the subscriptions are over (RFC 6121 §3.2.3, §3.3.3 as on roster removal, §2.5.2),
// its sessions end with <not-authorized/> (RFC 6120 §4.9.3.12), and it cannot log in again.
func TestUserDelRunningServer(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{Users: []string{"gone@localhost", "friend@localhost", "other@localhost"}})
	gone := online(t, &srv.target, srv.user("gone"), "desk", "")
	friend := online(t, &srv.target, srv.user("friend"), "f", "")
	befriend(t, gone, friend)
	friend.forget()

	out := ternCLI(t, srv, "user", "del", "--yes", "--config", srv.config, gone.bare)
	t.Logf("tern user del: %s", strings.TrimSpace(out))
	if !strings.Contains(out, "its contacts were told, 1 session closed") {
		t.Errorf("tern user del said %q; want the server's report (contacts told, 1 session closed)", out)
	}
	if e := gone.waitStreamEnd(); e == nil || e.child("urn:ietf:params:xml:ns:xmpp-streams", "not-authorized") == nil {
		t.Errorf("the deleted account's session ended with %v; want a <not-authorized/> stream error", e)
	}
	friend.wait("unavailable presence from the deleted account", isPresenceFrom(gone.jid, "unavailable"))
	friend.wait("roster push: subscription none to the deleted account", func(e *elem) bool {
		it := e.path("jabber:iq:roster query", "item")
		return isRosterPush(gone.bare)(e) && it.attr("subscription") == "none"
	})
	if ok, _ := authenticate(dialRaw(t, &srv.target, false), &srv.target, gone.bare, loginOpts{}); ok {
		t.Errorf("a deleted account can still log in")
	}

	// Errors come back from the server with what to fix.
	for _, c := range []struct{ arg, want string }{
		{gone.bare, "no account"},
		{"nobody@elsewhere.example", "elsewhere.example"},
	} {
		cmd := exec.CommandContext(context.Background(), ternBin, "user", "del", "--yes", "--config", srv.config, c.arg)
		b, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(b), c.want) {
			t.Errorf("tern user del %s: err=%v, output %q; want a failure naming %q", c.arg, err, b, c.want)
		}
	}

	// tern check sees the running server through its control socket.
	if out := ternCLI(t, srv, "check", "--no-dns", "--config", srv.config); !strings.Contains(out, "a server runs on this data directory: tern") {
		t.Errorf("tern check with the server running does not report it:\n%s", out)
	}

	// A second server on the same data directory refuses to start.
	second := exec.Command(ternBin, "serve", "--config", srv.config)
	b, err := second.CombinedOutput()
	if err == nil || !strings.Contains(string(b), "another tern server is running") {
		t.Errorf("second tern serve on the same data_dir: err=%v, output %q", err, b)
	}
	// The first one is unharmed.
	online(t, &srv.target, srv.user("other"), "o", "")
}

// ternCLI runs the tern binary and fails the test if it fails.
func ternCLI(t *testing.T, srv *ternProc, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	b, err := exec.CommandContext(ctx, ternBin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("tern %s: %v\n%s\n--- %s ---\n%s", strings.Join(args, " "), err, b, srv.logFile, tail(srv.logFile))
	}
	return string(b)
}

// An account deleted while one of its sessions waits to be resumed (XEP-0198) leaves nothing
// behind: the waiting session ends, later messages bounce, and a new account with the same
// name gets none of the old one's messages.
func TestUserDelHibernatingSession(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{Users: []string{"again@localhost", "writer@localhost"}})
	a := hibernating(t, srv, srv.user("again"))
	w := online(t, &srv.target, srv.user("writer"), "w", "")
	w.send("<message type='chat' to='" + a.jid + "'><body>for the old account</body></message>")
	w.sync()

	ternCLI(t, srv, "user", "del", "--yes", "--config", srv.config, a.bare)
	w.send("<message type='chat' id='late' to='" + a.jid + "'><body>too late</body></message>")
	if r := w.wait("an answer for a message to the deleted account", func(e *elem) bool { return e.attr("id") == "late" }); r.errorCondition() != "service-unavailable" {
		t.Errorf("message to a deleted account: got %s; want service-unavailable (RFC 6121 §8.5.1)", r)
	}

	ternCLI(t, srv, "user", "add", "--config", srv.config, "--password-file", filepath.Join(filepath.Dir(srv.config), "password"), a.bare)
	fresh := online(t, &srv.target, a.bare, "new", "")
	fresh.none("a message sent to the deleted account", func(e *elem) bool { return e.Local == "message" && e.child("", "body") != nil }, w)
}
