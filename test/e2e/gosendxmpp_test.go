package e2e

import (
	"bytes"
	"context"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestGoSendxmpp drives go-sendxmpp (Debian's, on xmppo/go-xmpp: the library most bots and
// monitoring scripts use). It writes a newline after <starttls/>, which must not fail the
// negotiation (RFC 6120 §5.4.3.3 refuses data there, not whitespace). Rows: send over STARTTLS
// to an offline user, listen (-l) and get that message and a live one, send over direct TLS
// (-t, XEP-0368), and a wrong password, which must fail with a non-zero exit.
func TestGoSendxmpp(t *testing.T) {
	bin, err := exec.LookPath("go-sendxmpp")
	needPeer(t, "go-sendxmpp (apt-get install go-sendxmpp)", err == nil)
	forEachServer(t, func(t *testing.T, srv *target) {
		alice, bob := srv.users[0], srv.users[1]
		sendxmpp := func(ctx context.Context, stdin string, args ...string) *exec.Cmd {
			cmd := exec.CommandContext(ctx, bin, append([]string{"-n", "--timeout", "10"}, args...)...)
			cmd.Stdin = strings.NewReader(stdin)
			cmd.Env = []string{"HOME=" + t.TempDir()} // no ~/.config/go-sendxmpp/sendxmpprc
			return cmd
		}
		run := func(stdin string, args ...string) (string, error) {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			out, err := sendxmpp(ctx, stdin, args...).CombinedOutput()
			return string(out), err
		}

		if out, err := run("offline note", "-u", alice, "-p", srv.password, "-j", srv.c2s, bob); err != nil {
			t.Fatalf("%s: go-sendxmpp over STARTTLS: %v\n%s", srv.name, err, out)
		}

		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		var got bytes.Buffer
		listen := sendxmpp(ctx, "", "-l", "-u", bob, "-p", srv.password, "-j", srv.c2s)
		listen.Stdout, listen.Stderr = &lockedWriter{&mu, &got}, &lockedWriter{&mu, &got}
		if err := listen.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { cancel(); _ = listen.Wait() }()
		waitFor := func(what string) {
			t.Helper()
			deadline := time.Now().Add(rawTimeout)
			for {
				mu.Lock()
				s := got.String()
				mu.Unlock()
				if strings.Contains(s, what) {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: go-sendxmpp -l did not print %q; printed:\n%s", srv.name, what, s)
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
		waitFor(alice + ": offline note") // offline storage delivered at login (RFC 6121 §8.5.2.1.1)

		if out, err := run("over direct tls", "-t", "-u", alice, "-p", srv.password, "-j", srv.c2sTLS, bob); err != nil {
			t.Fatalf("%s: go-sendxmpp over direct TLS: %v\n%s", srv.name, err, out)
		}
		waitFor(alice + ": over direct tls")

		out, err := run("never sent", "-u", alice, "-p", "wrong-"+srv.password, "-j", srv.c2s, bob)
		if err == nil {
			t.Errorf("%s: go-sendxmpp with a wrong password exited 0:\n%s", srv.name, out)
		}
		if !strings.Contains(strings.ToLower(out), "auth") {
			t.Errorf("%s: go-sendxmpp with a wrong password did not report an authentication failure:\n%s", srv.name, out)
		}
		if p := ternOf(srv); p != nil {
			waitLog(t, p, `msg="authentication failed"`, "user="+localpart(alice)+" ")
		}
	})
}

// lockedWriter serialises writes from a command's stdout and stderr into one buffer.
type lockedWriter struct {
	mu *sync.Mutex
	b  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}
