package e2e

import (
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

// TestMUC: group chat (XEP-0045) through the real binary, driven by
// slixmpp's xep_0045 plugin (test/interop/muc.py): create, configure,
// join, messages, subject, history, a nick conflict, kick and ban; then,
// after a restart, the persistent room is still there, configured, and
// the ban holds.
func TestMUC(t *testing.T) {
	p := startTern(t, ternOpts{Users: []string{"alice@localhost", "bob@localhost", "carol@localhost"}})
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, p.password+"\n")
	last, runErr, trace := runStepScript(t, dir, []string{filepath.Join("..", "interop", "muc.py"), "--trace", "--addr", p.c2s,
		"--alice", "alice@localhost", "--bob", "bob@localhost", "--carol", "carol@localhost", "--room", "ward@conference.localhost",
		"--password-file", pw}, 2*time.Minute)
	if runErr != nil || last.Step != "done" || !last.OK {
		t.Fatalf("muc.py ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s", runErr, last.Step, last.Expected, last.Error, tail(trace))
	}
	p.crash(t)
	p.restart(t)
	logHas(t, p, `(?s)e2e: restarted.*tern ready`, rawTimeout)
	carol := dialRaw(t, &p.target, true)
	carol.login(&p.target, "carol@localhost")
	carol.send("<iq type='get' to='ward@conference.localhost' id='info'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	info := expectWithin(carol, `(?s)<iq[^>]*id=['"]info['"].*?</iq>`, rawTimeout)[0]
	if !regexp.MustCompile(`muc_persistent`).MatchString(info) || !regexp.MustCompile(`name=['"]Ward 3['"]`).MatchString(info) {
		t.Errorf("the persistent room after a restart: %s", info)
	}
	carol.send("<presence to='ward@conference.localhost/Carol'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	if got := expectWithin(carol, `(?s)<presence[^>]*type=['"]error['"].*?</presence>`, rawTimeout)[0]; !regexp.MustCompile(`<forbidden`).MatchString(got) {
		t.Errorf("the ban after a restart: %s", got)
	}
}

// TestMUCFederation: a Prosody user and an ejabberd user join a tern room
// over s2s (test/interop/muc_fed.py): each sees the room's occupants,
// messages go both ways, the remote user reads the room's archive (MAM
// results over s2s), leaving is seen.
func TestMUCFederation(t *testing.T) {
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	for _, peer := range []struct {
		name  string
		start peerStarter
	}{{"prosody", startProsodyPeer}, {"ejabberd", startEjabberdPeer}} {
		t.Run(peer.name, func(t *testing.T) {
			pn := nextPeerNet()
			ip := map[string]string{"prosody": pn.prosody, "ejabberd": pn.ejabberd}[peer.name]
			a := ternPeer(t, peerOpts{domain: "tern.test", ip: pn.tern, hosts: map[string]string{peer.name + ".test": ip}, users: []string{"alice"}})
			b := peer.start(t, peerOpts{domain: peer.name + ".test", ip: ip, hosts: map[string]string{"tern.test": pn.tern, "conference.tern.test": pn.tern}, users: []string{"bob"}})
			dir := t.TempDir()
			pwA, pwB := filepath.Join(dir, "pa"), filepath.Join(dir, "pb")
			writeFile(t, pwA, a.password+"\n")
			writeFile(t, pwB, b.password+"\n")
			last, runErr, trace := runStepScript(t, dir, []string{filepath.Join("..", "interop", "muc_fed.py"), "--trace",
				"--alice", a.users[0], "--alice-addr", a.c2s, "--password-file", pwA,
				"--bob", b.users[0], "--bob-addr", b.c2s, "--bob-password-file", pwB, "--room", "ward@conference.tern.test", "--room-archive"}, 2*time.Minute)
			if runErr != nil || last.Step != "done" || !last.OK {
				t.Errorf("muc_fed.py with %s ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s", peer.name, runErr, last.Step, last.Expected, last.Error, tailN(trace, 32<<10))
			}
		})
	}
}

// TestMUCInProsody: a tern user in a Prosody room (test/interop/muc_fed.py
// with the roles turned: the room's server is Prosody's).
func TestMUCInProsody(t *testing.T) {
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	pn := nextPeerNet()
	b := ternPeer(t, peerOpts{domain: "tern.test", ip: pn.tern, hosts: map[string]string{"prosody.test": pn.prosody, "conference.prosody.test": pn.prosody}, users: []string{"alice"}})
	a := startProsodyPeer(t, peerOpts{domain: "prosody.test", ip: pn.prosody, hosts: map[string]string{"tern.test": pn.tern}, users: []string{"bob"}, muc: true})
	dir := t.TempDir()
	pwA, pwB := filepath.Join(dir, "pa"), filepath.Join(dir, "pb")
	writeFile(t, pwA, a.password+"\n")
	writeFile(t, pwB, b.password+"\n")
	last, runErr, trace := runStepScript(t, dir, []string{filepath.Join("..", "interop", "muc_fed.py"), "--trace",
		"--alice", a.users[0], "--alice-addr", a.c2s, "--password-file", pwA,
		"--bob", b.users[0], "--bob-addr", b.c2s, "--bob-password-file", pwB, "--room", "ward@conference.prosody.test"}, 2*time.Minute)
	if runErr != nil || last.Step != "done" || !last.OK {
		t.Errorf("muc_fed.py (a tern user in a Prosody room) ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s", runErr, last.Step, last.Expected, last.Error, tailN(trace, 32<<10))
	}
}
