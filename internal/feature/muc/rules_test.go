package muc

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/mam"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func configure(t *testing.T, s *moduletest.Session, fields string) *xml.Element {
	t.Helper()
	return s.Reply("<iq type='set' id='cfg' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field>" + fields + "</x></query></iq>")
}

// TestNickChangeToOwnOtherNick: of one user's two sessions under two
// nicks, one asks for the other's nick: a conflict (it took the other's
// place before, and once it left the other session pointed at nobody:
// its next stanza crashed the server).
func TestNickChangeToOwnOtherNick(t *testing.T) {
	h, s := setup(t, "alice", "bob")
	openRoom(t, s)
	phone := h.Online("bob", "phone")
	drain(phone)
	join(t, s["bob"], "Bob", "")
	join(t, phone, "Bob2", "")
	drain(s["alice"])
	s["bob"].Send("<presence to='" + room + "/Bob2'/>")
	got := drain(s["bob"])
	if e := got[len(got)-1]; moduletest.ErrorCondition(e) != "conflict" {
		t.Fatalf("taking one's other session's nick: %s", e)
	}
	s["bob"].Send("<presence type='unavailable' to='" + room + "/Bob'/>")
	drain(phone)
	phone.Send("<message to='" + room + "' type='groupchat' id='m'><body>hi</body></message>")
	wait(t, s["alice"], "bob/phone's message", func(el *xml.Element) bool { return el.Attr("from") == room+"/Bob2" && el.Name == "message" })
}

// TestMembersOnlySwitch: a room made members-only removes its
// non-members with status 322 (§9.10); they read it no more.
func TestMembersOnlySwitch(t *testing.T) {
	_, s := roomWithBob(t, "alice", "bob")
	if r := configure(t, s["alice"], "<field var='muc#roomconfig_membersonly'><value>1</value></field>"); r.Attr("type") != "result" {
		t.Fatalf("config: %s", r)
	}
	got := wait(t, s["bob"], "bob removed", func(el *xml.Element) bool { return el.Name == "presence" && el.Attr("type") == "unavailable" })
	if c := codes(got[len(got)-1]); c != "110,322" {
		t.Errorf("bob's removal: codes %s, want 110,322", c)
	}
	s["alice"].Send("<message to='" + room + "' type='groupchat'><body>members only now</body></message>")
	for _, el := range drain(s["bob"]) {
		if el.ChildText(xml.NSClient, "body") == "members only now" {
			t.Errorf("bob, no member, still reads the members-only room: %s", el)
		}
	}
}

// TestConfigNotices: occupants are told of a configuration change
// (§10.2.1): 172 when real JIDs are now shown to all, 173 when no
// longer, 104 for another change; nothing for a form that changes nothing.
func TestConfigNotices(t *testing.T) {
	_, s := roomWithBob(t, "alice", "bob")
	notice := func() string {
		for _, el := range drain(s["bob"]) {
			if el.Name == "message" && el.Attr("from") == room && el.Attr("type") == "groupchat" {
				return codes(el)
			}
		}
		return ""
	}
	for _, c := range []struct{ fields, want string }{
		{"<field var='muc#roomconfig_whois'><value>anyone</value></field>", "172"},
		{"<field var='muc#roomconfig_whois'><value>moderators</value></field><field var='muc#roomconfig_roomname'><value>Ward 3</value></field>", "173,104"},
		{"<field var='muc#roomconfig_roomname'><value>Ward 4</value></field>", "104"},
		{"<field var='muc#roomconfig_roomname'><value>Ward 4</value></field>", ""},
	} {
		if r := configure(t, s["alice"], c.fields); r.Attr("type") != "result" {
			t.Fatalf("config: %s", r)
		}
		if got := notice(); got != c.want {
			t.Errorf("after %s: notice %q, want %q", c.fields, got, c.want)
		}
	}
}

// TestAdminKeepsOwnersModeration: an admin may not revoke the
// moderation of an owner or another admin (§9.7: not-allowed).
func TestAdminKeepsOwnersModeration(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	join(t, s["carol"], "Carol", "")
	for _, u := range []string{"bob", "carol"} {
		if r := s["alice"].Reply(adminSet("<item jid='" + u + "@example.org' affiliation='admin'/>")); r.Attr("type") != "result" {
			t.Fatalf("admin: %s", r)
		}
	}
	for _, n := range []string{"Alice", "Carol"} {
		if r := s["bob"].Reply(adminSet("<item nick='" + n + "' role='participant'/>")); moduletest.ErrorCondition(r) != "not-allowed" {
			t.Errorf("admin bob revokes %s's moderation: %s", n, r)
		}
	}
	if r := s["alice"].Reply(adminSet("<item nick='Carol' role='participant'/>")); r.Attr("type") != "result" {
		t.Errorf("the owner revokes an admin's moderation: %s", r)
	}
}

// TestDestroyNotice: occupants of a destroyed room get the venue and the
// reason in a muc#user <destroy/> (§10.9).
func TestDestroyNotice(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["bob"])
	s["alice"].Reply("<iq type='set' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='other@conference.example.org'><reason>moved</reason></destroy></query></iq>")
	got := wait(t, s["bob"], "the destroy notice", func(el *xml.Element) bool { return el.Name == "presence" && el.Attr("type") == "unavailable" })
	p := got[len(got)-1]
	d := p.Child(NSUser, "x").Child(NSUser, "destroy")
	if d == nil || d.Attr("jid") != "other@conference.example.org" || d.ChildText(NSUser, "reason") != "moved" {
		t.Errorf("no {muc#user}destroy with the venue and reason: %s", p)
	}
}

// TestRejoin: a join from a session the room still counts in (its leave
// was lost) gets the room's state again: the others, the subject.
func TestRejoin(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	s["alice"].Send("<message to='" + room + "' type='groupchat'><subject>Topic</subject></message>")
	join(t, s["bob"], "Bob", "")
	drain(s["bob"])
	s["bob"].Send("<presence to='" + room + "/Bob'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	got := drain(s["bob"])
	sawAlice, self, subject := false, false, false
	for _, el := range got {
		switch {
		case el.Name == "presence" && el.Attr("from") == room+"/Alice":
			sawAlice = true
		case el.Name == "presence" && el.Attr("from") == room+"/Bob" && strings.Contains(codes(el), "110"):
			self = true
		case el.Name == "message" && el.ChildText(xml.NSClient, "subject") == "Topic":
			subject = true
		}
	}
	if !sawAlice || !self || !subject {
		t.Errorf("a rejoin got the others %v, itself %v, the subject %v: %v", sawAlice, self, subject, got)
	}
}

// TestInviteMembershipSaved: the membership an invitation gives in a
// persistent members-only room survives a restart.
func TestInviteMembershipSaved(t *testing.T) {
	h, s := setup(t, "alice", "bob")
	join(t, s["alice"], "Alice", "")
	configure(t, s["alice"], "<field var='muc#roomconfig_membersonly'><value>1</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field>")
	s["alice"].Send("<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@example.org'/></x></message>")
	wait(t, s["bob"], "the invitation", func(el *xml.Element) bool { return el.Name == "message" && el.Attr("from") == room })
	m2 := New()
	m2.store, m2.log, m2.now, m2.rooms, m2.secret = h.Store.Archive(), h.Host.Log, time.Now, map[string]*Room{}, []byte("k")
	if err := m2.load(t.Context(), "conference.example.org", false); err != nil {
		t.Fatal(err)
	}
	if r := m2.rooms[room]; r == nil || r.affs["bob@example.org"] != Member {
		t.Errorf("bob's membership from the invitation is not saved: %v", r)
	}
}

// TestSessionsPerNick: one user may join under one nick from at most
// maxSessionsPerNick sessions (each is sent every message).
func TestSessionsPerNick(t *testing.T) {
	h, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	for i := 1; i <= maxSessionsPerNick; i++ {
		extra := h.Online("bob", fmt.Sprintf("r%d", i))
		drain(extra)
		got := join(t, extra, "Bob", "")
		refused := moduletest.ErrorCondition(got[len(got)-1]) == "resource-constraint"
		if refused != (i == maxSessionsPerNick) {
			t.Fatalf("session %d of bob under one nick: %s", i+1, got[len(got)-1])
		}
	}
}

// TestHistoryBytes: a room's discussion history is bounded in bytes too
// (any user may make rooms; 500 messages of 256 KB each were kept).
func TestHistoryBytes(t *testing.T) {
	m := New()
	h := moduletest.New(t, []string{"alice"}, roster.Module{}, presence.Module{}, mam.New(), m)
	a := h.Online("alice", "pc")
	drain(a)
	join(t, a, "Alice", "")
	configure(t, a, "<field var='muc#roomconfig_persistentroom'><value>1</value></field><field var='muc#roomconfig_historylength'><value>500</value></field>")
	big := strings.Repeat("x", 100_000)
	for i := range 20 {
		a.Send(fmt.Sprintf("<message to='%s' type='groupchat'><body>%d %s</body></message>", room, i, big))
	}
	a.Send("<message to='" + room + "' type='groupchat'><body>last</body></message>")
	r := m.room(jid.MustParse(room))
	r.mu.Lock()
	defer r.mu.Unlock()
	total := 0
	for _, it := range r.history {
		total += it.n
	}
	if total > maxHistoryBytes || total != r.histBytes || len(r.history) < 2 || r.history[len(r.history)-1].msg.ChildText(xml.NSClient, "body") != "last" {
		t.Errorf("history of %d messages, %d bytes (counted %d), bound %d", len(r.history), total, r.histBytes, maxHistoryBytes)
	}
}

// TestAdminAllOrNothing: a muc#admin set with an item refused changes
// nothing: the items before it are undone (they were applied unannounced).
func TestAdminAllOrNothing(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	join(t, s["carol"], "Carol", "")
	drain(s["bob"])
	drain(s["carol"])
	r := s["alice"].Reply(adminSet("<item nick='Carol' role='none'/><item jid='bob@example.org' affiliation='outcast'/><item nick='Nobody' role='none'/>"))
	if moduletest.ErrorCondition(r) != "item-not-found" {
		t.Fatalf("the set: %s", r)
	}
	s["carol"].Send("<message to='" + room + "' type='groupchat' id='c'><body>still here?</body></message>")
	wait(t, s["bob"], "carol's message", func(el *xml.Element) bool { return el.Attr("from") == room+"/Carol" && el.Name == "message" })
	if l := s["alice"].Reply("<iq type='get' id='l' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query></iq>"); strings.Contains(l.String(), "bob@") {
		t.Errorf("bob banned by a refused set: %s", l)
	}
}

// TestDecline: a decline reaches the one who invited, and only from the
// one invited (else the room carried anyone's text to anyone).
func TestDecline(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol")
	openRoom(t, s)
	drain(s["carol"])
	s["bob"].Send("<message to='" + room + "' id='x'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='carol@example.org'><reason>buy cheap pills</reason></decline></x></message>")
	for _, el := range drain(s["carol"]) {
		if el.Name == "message" && el.Attr("from") == room {
			t.Errorf("a stranger's decline relayed: %s", el)
		}
	}
	if got := drain(s["bob"]); len(got) == 0 || moduletest.ErrorCondition(got[len(got)-1]) != "item-not-found" {
		t.Errorf("a decline without an invitation: %v", got)
	}
	s["alice"].Send("<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@example.org'/></x></message>")
	drain(s["bob"])
	s["bob"].Send("<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='carol@example.org'><reason>busy</reason></decline></x></message>")
	got := wait(t, s["alice"], "bob's decline", func(el *xml.Element) bool { return el.Name == "message" && el.Attr("from") == room })
	if d := got[len(got)-1].Child(NSUser, "x").Child(NSUser, "decline"); d == nil || d.Attr("from") != "bob@example.org" || d.ChildText(NSUser, "reason") != "busy" {
		t.Errorf("the decline as alice got it: %s", got[len(got)-1])
	}
	for _, el := range drain(s["carol"]) {
		if el.Name == "message" && el.Attr("from") == room {
			t.Errorf("the decline went to its 'to', not to the inviter: %s", el)
		}
	}
}

// TestSessionPresence: of an occupant with two sessions, the others see
// the presence the latest one sent (§7.2.9 leaves the choice to the room).
func TestSessionPresence(t *testing.T) {
	h, s := setup(t, "alice", "bob")
	openRoom(t, s)
	phone := h.Online("bob", "phone")
	drain(phone)
	join(t, s["bob"], "Bob", "")
	join(t, phone, "Bob", "")
	drain(s["alice"])
	s["bob"].Send("<presence to='" + room + "/Bob'><show>away</show></presence>")
	got := wait(t, s["alice"], "bob's update", from(room+"/Bob"))
	if sh := got[len(got)-1].ChildText(xml.NSClient, "show"); sh != "away" {
		t.Errorf("bob/pc's update to away reached alice as %s", got[len(got)-1])
	}
}

// TestExitStatus: the others see an occupant's exit status (§7.14).
func TestExitStatus(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	s["bob"].Send("<presence type='unavailable' to='" + room + "/Bob'><status>gone fishing</status></presence>")
	got := wait(t, s["alice"], "bob leaves", func(el *xml.Element) bool { return el.Attr("from") == room+"/Bob" && el.Attr("type") == "unavailable" })
	if st := got[len(got)-1].ChildText(xml.NSClient, "status"); st != "gone fishing" {
		t.Errorf("alice sees bob leave without his status: %s", got[len(got)-1])
	}
}

// TestRecreatedRoom: the last occupant of a temporary room leaves and
// comes back at once: the room is new, and its archive empty (the old
// one, with real JIDs its new owner may see, was kept when the new room
// came before the old archive's removal).
func TestRecreatedRoom(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	s["alice"].Send("<message to='" + room + "' type='groupchat'><body>secret from alice</body></message>")
	wait(t, s["bob"], "alice's message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "secret from alice" })
	s["alice"].Send("<presence type='unavailable' to='" + room + "/Alice'/>")
	s["bob"].Send("<presence type='unavailable' to='" + room + "/Bob'/>")
	drain(s["bob"])
	var got []*xml.Element
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		got = join(t, s["bob"], "Bob", "")
		c := moduletest.ErrorCondition(got[len(got)-1])
		if c == "" || time.Now().After(deadline) {
			break
		}
		if c != "resource-constraint" {
			t.Fatalf("re-creating the room: %s", got[len(got)-1])
		}
	}
	if !strings.Contains(codes(got[len(got)-1]), "201") {
		t.Fatalf("not a new room: %s", got[len(got)-1])
	}
	results, _ := roomQuery(t, s["bob"], "q", "")
	if len(results) != 0 {
		t.Errorf("the new room's archive holds the old one's: %v", results)
	}
}

// TestPasswordOff: the owner turns the password off the way a client
// sends the form back (every field, the secret unchanged after the
// switch); an empty secret with protection on is refused.
func TestPasswordOff(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	if r := configure(t, s["alice"], "<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value></value></field>"); moduletest.ErrorCondition(r) != "not-acceptable" {
		t.Errorf("protection without a password: %s", r)
	}
	configure(t, s["alice"], "<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field>")
	if got := join(t, s["bob"], "Bob", ""); moduletest.ErrorCondition(got[len(got)-1]) != "not-authorized" {
		t.Fatalf("no password: %s", got[len(got)-1])
	}
	configure(t, s["alice"], "<field var='muc#roomconfig_passwordprotectedroom'><value>0</value></field><field var='muc#roomconfig_roomsecret'><value>pw</value></field>")
	if got := join(t, s["bob"], "Bob", ""); got[len(got)-1].Attr("type") == "error" {
		t.Errorf("password protection switched off, bob still refused: %s", got[len(got)-1])
	}
}

// TestNickCompare: a private message or a role change names a nick as
// the Nickname profile compares them ("bob" is Bob).
func TestNickCompare(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["bob"])
	s["alice"].Send("<message to='" + room + "/bob' type='chat'><body>psst</body></message>")
	wait(t, s["bob"], "the private message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "psst" })
	if r := s["alice"].Reply(adminSet("<item nick='BOB' role='visitor'/>")); r.Attr("type") != "result" {
		t.Errorf("a role change by another case of the nick: %s", r)
	}
}

// TestShutdown: when the server stops, every occupant session is told it
// leaves the room (332), as its own server then knows.
func TestShutdown(t *testing.T) {
	h, s := roomWithBob(t, "alice", "bob")
	h.Router.Fire(router.EvStopping, &router.Event{Ctx: t.Context()})
	for _, u := range []string{"alice", "bob"} {
		got := wait(t, s[u], u+" told", func(el *xml.Element) bool { return el.Name == "presence" && el.Attr("type") == "unavailable" })
		if c := codes(got[len(got)-1]); c != "110,332" {
			t.Errorf("%s's presence at shutdown: codes %s, want 110,332", u, c)
		}
	}
}

// roomWithBob: an open room of alice's with bob in it as Bob, what both
// got so far drained.
func roomWithBob(t *testing.T, users ...string) (*moduletest.Harness, map[string]*moduletest.Session) {
	t.Helper()
	h, s := setup(t, users...)
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	drain(s["bob"])
	return h, s
}
