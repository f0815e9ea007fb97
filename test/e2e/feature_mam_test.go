package e2e

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestMAM: the user archive (XEP-0313) through the real binary, asked by
// slixmpp's xep_0313 plugin (test/interop/mam.py: stanza-ids, a filtered
// query, paging forward and back, the form, metadata, the sender's
// archive, another user's archive refused); then, with the raw client,
// messages acknowledged before a kill -9 are all in the archive after the
// restart.
func TestMAM(t *testing.T) {
	p := startTern(t, ternOpts{}) // archiving is on by default
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, p.password+"\n")
	last, runErr, trace := runStepScript(t, dir, []string{filepath.Join("..", "interop", "mam.py"), "--trace", "--addr", p.c2s,
		"--alice", "alice@localhost", "--bob", "bob@localhost", "--password-file", pw}, 2*time.Minute)
	if runErr != nil || last.Step != "done" || !last.OK {
		t.Errorf("mam.py ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s", runErr, last.Step, last.Expected, last.Error, tail(trace))
	}

	// Acknowledged, then kill -9: nothing lost. alice's messages are
	// acknowledged by the answer to the ping she sends after them (the
	// server answers once the archive writes behind them are durable).
	alice := dialRaw(t, &p.target, true)
	alice.login(&p.target, "alice@localhost")
	alice.send("<presence/>")
	bob := dialRaw(t, &p.target, true)
	bob.login(&p.target, "bob@localhost")
	bob.send("<presence/>")
	// bob is available before alice sends (a ping after the presence is
	// answered once it is handled): else the first messages go to offline
	// storage and may come after the live ones.
	bob.send("<iq type='get' id='avail'><ping xmlns='urn:xmpp:ping'/></iq>")
	expectWithin(bob, `(?s)^.*?<iq[^>]*id=['"]avail['"]`, rawTimeout)
	const n = 50
	for i := range n {
		alice.send(fmt.Sprintf("<message to='bob@localhost' type='chat' id='k%d'><body>before the crash %d</body></message>", i, i))
	}
	alice.send("<iq type='get' id='acked'><ping xmlns='urn:xmpp:ping'/></iq>")
	expectWithin(alice, `(?s)^.*?<iq[^>]*id=['"]acked['"]`, rawTimeout)
	got := expectWithin(bob, fmt.Sprintf(`(?s)^.*?<body>before the crash %d</body>.*?</message>`, n-1), rawTimeout)[0]
	if c := strings.Count(got, "urn:xmpp:sid:0"); c < n {
		t.Errorf("%d stanza-ids on the %d messages bob got", c, n)
	}
	p.crash(t)
	p.restart(t)
	logHas(t, p, `(?s)e2e: restarted.*tern ready`, rawTimeout)
	bob = dialRaw(t, &p.target, true)
	bob.login(&p.target, "bob@localhost")
	bob.send("<iq type='set' id='after'><query xmlns='urn:xmpp:mam:2' queryid='k'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field><field var='with'><value>alice@localhost</value></field></x>" +
		"<set xmlns='http://jabber.org/protocol/rsm'><max>200</max><before/></set></query></iq>")
	res := expectWithin(bob, `(?s)^.*?<iq[^>]*id=['"]after['"].*?</iq>`, rawTimeout)[0]
	for i := range n {
		if !strings.Contains(res, fmt.Sprintf("<body>before the crash %d</body>", i)) {
			t.Fatalf("message %d, delivered before the kill -9, is not in bob's archive after it:\n%s", i, clip([]byte(res)))
		}
	}
	if !regexp.MustCompile(`<fin[^>]*complete=['"]true['"]`).MatchString(res) {
		t.Errorf("the last page of a small archive is not complete: %s", clip([]byte(res)))
	}
}
