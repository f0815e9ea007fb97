package e2e

import (
	"syscall"
	"testing"
)

func TestSessionReplacement(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, []featureRow{
		{name: "same-resource", rule: "RFC 6120 §7.7.2.2: binding a resource already in use ends the old session with <conflict/>",
			users: []string{"xa1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				old := online(t, &srv.target, u[0], "dup", "")
				fresh := connect(t, &srv.target, u[0], loginOpts{resource: "dup"})
				if fresh.jid != u[0]+"/dup" {
					t.Errorf("new session bound %s; want %s/dup (the server's policy is to replace)", fresh.jid, u[0])
				}
				if e := old.waitStreamEnd(); e.streamErrorCondition() != "conflict" {
					t.Errorf("old session ended with %s; want stream error <conflict/>", e)
				}
				fresh.sync() // the new session works
			}},
	})
}

func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{})
	a := online(t, &srv.target, srv.users[0], "a", "")
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	e := a.waitStreamEnd()
	if e.streamErrorCondition() != "system-shutdown" {
		t.Errorf("RFC 6120 §4.9.3.22: on shutdown got %s; want stream error <system-shutdown/>", e)
	}
	if why := a.endReason(); why != "</stream:stream>" {
		t.Errorf("RFC 6120 §4.4: the stream ended with %q; want the server's </stream:stream>", why)
	}
	<-srv.exited
	if srv.waitErr != nil {
		t.Errorf("tern exited with %v after SIGTERM; want status 0", srv.waitErr)
	}
	srv.restart(t) // the harness's cleanup stops a running server
}

// TestResourcesPerUser: limits.resources_per_user caps an account's simultaneous sessions with
// <resource-constraint/> (RFC 6120 §7.6.2.1); binding a resource that exists replaces it (§7.7.2.2)
// and needs no new slot.
func TestResourcesPerUser(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{ExtraTOML: "resources_per_user = 2"})
	user := srv.users[0]
	one := connect(t, &srv.target, user, loginOpts{resource: "one"})
	connect(t, &srv.target, user, loginOpts{resource: "two"})

	raw := dialRaw(t, &srv.target, false)
	if ok, f := authenticate(raw, &srv.target, user, loginOpts{}); !ok {
		t.Fatal(f)
	}
	raw.send(streamHeader(srv.domain))
	raw.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)
	raw.send("<iq type='set' id='b3'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>three</resource></bind></iq>")
	if r := parseElem(t, raw.expect(`(?s)<iq[^>]*\bid=['"]b3['"].*?</iq>`)[0]); r.errorCondition() != "resource-constraint" {
		t.Errorf("a third resource with resources_per_user = 2: got %s; want <resource-constraint/>", r)
	}

	again := connect(t, &srv.target, user, loginOpts{resource: "one"})
	if e := one.waitStreamEnd(); e.streamErrorCondition() != "conflict" {
		t.Errorf("the replaced session ended with %v; want <conflict/>", e)
	}
	again.sync()
}
