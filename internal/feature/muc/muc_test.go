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
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const room = "lobby@conference.example.org"

// unread keeps what a wait took past the stanza it waited for.
var unread = map[*moduletest.Session][]*xml.Element{}

// drain forgets what s got so far.
func drain(s *moduletest.Session) []*xml.Element {
	got := append(unread[s], s.Take()...)
	unread[s] = nil
	return got
}

// wait collects what s gets until pred holds for one stanza, and returns
// everything up to and including it.
func wait(t *testing.T, s *moduletest.Session, what string, pred func(*xml.Element) bool) []*xml.Element {
	t.Helper()
	var got []*xml.Element
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		pending := append(unread[s], s.Take()...)
		unread[s] = nil
		for i, el := range pending {
			got = append(got, el)
			if pred(el) {
				unread[s] = pending[i+1:] // for the next wait
				return got
			}
		}
	}
	t.Fatalf("%s: not received; got %d stanzas: %v", what, len(got), got)
	return nil
}

func codes(el *xml.Element) string {
	var c []string
	if x := el.Child(NSUser, "x"); x != nil {
		for _, s := range x.Elements() {
			if s.Name == "status" {
				c = append(c, s.Attr("code"))
			}
		}
	}
	return strings.Join(c, ",")
}

func from(f string) func(*xml.Element) bool {
	return func(el *xml.Element) bool { return el.Attr("from") == f }
}

func setup(t *testing.T, users ...string) (*moduletest.Harness, map[string]*moduletest.Session) {
	h := moduletest.New(t, users, roster.Module{}, presence.Module{}, mam.New(), New())
	s := map[string]*moduletest.Session{}
	for _, u := range users {
		s[u] = h.Online(u, "pc")
		drain(s[u])
	}
	return h, s
}

// join sends u's presence to the room as nick and waits for its own
// presence back (status 110).
func join(t *testing.T, s *moduletest.Session, nick, extra string) []*xml.Element {
	t.Helper()
	s.Send("<presence to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'>" + extra + "</x></presence>")
	return wait(t, s, nick+" joins", func(el *xml.Element) bool {
		return el.Name == "presence" && el.Attr("from") == room+"/"+nick && strings.Contains(codes(el), "110") || el.Attr("type") == "error"
	})
}

// TestCreateAndJoin: the first occupant creates the room (201, 110, owner,
// moderator), the room is locked until the owner accepts the default
// configuration; then a second user joins and both see each other in the
// order of §7.2.3, with the subject last; a nick in use is a conflict.
func TestCreateAndJoin(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol")
	got := join(t, s["alice"], "Alice", "")
	self := got[len(got)-1]
	item := self.Child(NSUser, "x").Child(NSUser, "item")
	if codes(self) != "110,201" || item.Attr("affiliation") != Owner || item.Attr("role") != Moderator {
		t.Fatalf("the creator's presence: %s", self)
	}
	if self.Child(NSOccupant, "occupant-id") == nil {
		t.Errorf("no occupant-id: %s", self)
	}
	// Locked: bob may not enter yet.
	got = join(t, s["bob"], "Bob", "")
	if e := got[len(got)-1]; e.Attr("type") != "error" || moduletest.ErrorCondition(e) != "item-not-found" {
		t.Fatalf("joining a locked room: %s", e)
	}
	// An instant room (§10.1.2).
	if r := s["alice"].Reply("<iq type='set' id='c1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>"); r.Attr("type") != "result" {
		t.Fatalf("instant room: %s", r)
	}
	got = join(t, s["bob"], "Bob", "")
	if len(got) < 2 || got[0].Attr("from") != room+"/Alice" || got[len(got)-1].Attr("from") != room+"/Bob" {
		t.Fatalf("bob's join: %v", got)
	}
	if a := got[0].Child(NSUser, "x").Child(NSUser, "item"); a.Attr("jid") != "" {
		t.Errorf("semi-anonymous room showed alice's real JID to bob, a participant: %s", got[0])
	}
	subj := wait(t, s["bob"], "subject", func(el *xml.Element) bool { return el.Name == "message" && el.Child(xml.NSClient, "subject") != nil })
	if len(subj) != 1 {
		t.Errorf("after his own presence, bob got %v before the subject", subj)
	}
	seen := wait(t, s["alice"], "bob's presence to alice", from(room+"/Bob"))
	if j := seen[len(seen)-1].Child(NSUser, "x").Child(NSUser, "item").Attr("jid"); j != "bob@example.org/pc" {
		t.Errorf("alice, a moderator, sees bob's real JID as %q", j)
	}
	// The nick is bob's: carol gets a conflict.
	got = join(t, s["carol"], "Bob", "")
	if e := got[len(got)-1]; e.Attr("type") != "error" || moduletest.ErrorCondition(e) != "conflict" {
		t.Fatalf("a nick in use: %s", e)
	}
}

func openRoom(t *testing.T, s map[string]*moduletest.Session) {
	t.Helper()
	join(t, s["alice"], "Alice", "")
	s["alice"].Reply("<iq type='set' id='c1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	drain(s["alice"])
}

// TestMessagesAndHistory: a groupchat message goes to every occupant from
// room/nick with the occupant-id; a stranger's is refused; the subject is
// kept; a newcomer gets the history it asks for (maxstanzas) with delays,
// then the subject; private messages go to the nick only.
func TestMessagesAndHistory(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol", "dave")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	for _, b := range []string{"one", "two", "three"} {
		s["bob"].Send("<message to='" + room + "' type='groupchat'><body>" + b + "</body></message>")
	}
	got := wait(t, s["alice"], "bob's third message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "three" })
	for _, m := range got {
		if m.Attr("from") != room+"/Bob" || m.Child(NSOccupant, "occupant-id") == nil {
			t.Errorf("a room message: %s", m)
		}
	}
	wait(t, s["bob"], "bob's own echo", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "three" })
	s["dave"].Send("<message to='" + room + "' type='groupchat'><body>intruder</body></message>")
	e := wait(t, s["dave"], "an error for a stranger", func(el *xml.Element) bool { return el.Attr("type") == "error" })
	if c := moduletest.ErrorCondition(e[len(e)-1]); c != "not-acceptable" {
		t.Errorf("a stranger's message: %s", c)
	}
	s["alice"].Send("<message to='" + room + "' type='groupchat'><subject>Rounds at 9</subject></message>")
	wait(t, s["bob"], "the subject", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "subject") == "Rounds at 9" })

	got = join(t, s["carol"], "Carol", "<history maxstanzas='2'/>")
	rest := wait(t, s["carol"], "the subject", func(el *xml.Element) bool { return el.Child(xml.NSClient, "subject") != nil })
	var hist []string
	for _, m := range rest {
		if b := m.ChildText(xml.NSClient, "body"); b != "" {
			hist = append(hist, b)
			if m.Child(NSDelay, "delay") == nil {
				t.Errorf("history without delay: %s", m)
			}
		}
	}
	if strings.Join(hist, ",") != "two,three" || rest[len(rest)-1].ChildText(xml.NSClient, "subject") != "Rounds at 9" {
		t.Errorf("carol's history %v, then %s", hist, rest[len(rest)-1])
	}
	drain(s["bob"])
	s["carol"].Send("<message to='" + room + "/Bob' type='chat'><body>psst</body></message>")
	pm := wait(t, s["bob"], "carol's private message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "psst" })
	if pm[len(pm)-1].Attr("from") != room+"/Carol" {
		t.Errorf("private message: %s", pm[len(pm)-1])
	}
	if got := drain(s["alice"]); len(moduletest.Filter(got, "message")) > 0 {
		for _, m := range got {
			if m.ChildText(xml.NSClient, "body") == "psst" {
				t.Errorf("alice got the private message: %s", m)
			}
		}
	}
}

// TestNickChangeAndLeave: a new nick is told as unavailable with 303 and
// the new nick, then available; leaving is unavailable to all, with 110
// to the one who left; the last one out of a temporary room ends it.
func TestNickChangeAndLeave(t *testing.T) {
	h, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	s["bob"].Send("<presence to='" + room + "/Robert'/>")
	got := wait(t, s["alice"], "Robert", from(room+"/Robert"))
	var old *xml.Element
	for _, p := range got {
		if p.Attr("from") == room+"/Bob" {
			old = p
		}
	}
	if old == nil || old.Attr("type") != "unavailable" || codes(old) != "303" || old.Child(NSUser, "x").Child(NSUser, "item").Attr("nick") != "Robert" {
		t.Fatalf("the old nick's presence: %v", got)
	}
	s["bob"].Send("<presence type='unavailable' to='" + room + "/Robert'/>")
	left := wait(t, s["alice"], "Robert leaves", func(el *xml.Element) bool {
		return el.Attr("from") == room+"/Robert" && el.Attr("type") == "unavailable"
	})
	if len(left) == 0 {
		t.Fatal("no unavailable")
	}
	self := wait(t, s["bob"], "bob's own unavailable", func(el *xml.Element) bool {
		return el.Attr("type") == "unavailable" && strings.Contains(codes(el), "110")
	})
	if len(self) == 0 {
		t.Fatal("no self unavailable")
	}
	s["alice"].Send("<presence type='unavailable' to='" + room + "/Alice'/>")
	wait(t, s["alice"], "alice leaves", func(el *xml.Element) bool { return el.Attr("type") == "unavailable" })
	if r := s["bob"].Reply("<iq type='get' id='d1' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>"); moduletest.ErrorCondition(r) != "item-not-found" {
		t.Errorf("a temporary room after its last occupant left: %s", r)
	}
	_ = h
}

// TestDiscoAndPing: the service lists public rooms; a room's disco#info
// has its features and the roominfo form; self-ping answers an occupant,
// not a stranger; a Direct domain's rooms stay non-anonymous.
func TestDiscoAndPing(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	if r := s["bob"].Reply("<iq type='get' id='i1' to='conference.example.org'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>"); !strings.Contains(r.String(), room) {
		t.Errorf("service items: %s", r)
	}
	r := s["bob"].Reply("<iq type='get' id='i2' to='" + room + "'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
	for _, f := range []string{"muc_public", "muc_temporary", "muc_open", "muc_semianonymous", NSRoomInfo} {
		if !strings.Contains(r.String(), f) {
			t.Errorf("room info lacks %s: %s", f, r)
		}
	}
	if r := s["alice"].Reply("<iq type='get' id='p1' to='" + room + "/Alice'><ping xmlns='urn:xmpp:ping'/></iq>"); r.Attr("type") != "result" {
		t.Errorf("self-ping of an occupant: %s", r)
	}
	if r := s["bob"].Reply("<iq type='get' id='p2' to='" + room + "/Bob'><ping xmlns='urn:xmpp:ping'/></iq>"); moduletest.ErrorCondition(r) != "not-acceptable" {
		t.Errorf("self-ping of a non-occupant: %s", r)
	}
	if r := s["bob"].Reply("<iq type='get' id='o1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>"); moduletest.ErrorCondition(r) != "forbidden" {
		t.Errorf("the owner form for a non-owner: %s", r)
	}
	form := s["alice"].Reply("<iq type='get' id='o2' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>")
	if !strings.Contains(form.String(), "muc#roomconfig_whois") {
		t.Errorf("owner form: %s", form)
	}
}

func adminSet(item string) string {
	return "<iq type='set' id='a' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#admin'>" + item + "</query></iq>"
}

// TestAdmin: a moderator kicks (307) and cannot kick an admin; the owner
// bans (301: the outcast cannot come back), grants membership and
// admin, lists affiliations; a participant may do none of it; the last
// owner cannot step down.
func TestAdmin(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol", "dave")
	openRoom(t, s)
	for u, n := range map[string]string{"bob": "Bob", "carol": "Carol"} {
		join(t, s[u], n, "")
	}
	drain(s["alice"])
	drain(s["bob"])
	if r := s["bob"].Reply(adminSet("<item nick='Carol' role='none'/>")); moduletest.ErrorCondition(r) != "forbidden" {
		t.Errorf("a participant kicks: %s", r)
	}
	if r := s["alice"].Reply(adminSet("<item nick='Carol' role='none'><reason>spam</reason></item>")); r.Attr("type") != "result" {
		t.Fatalf("kick: %s", r)
	}
	k := wait(t, s["carol"], "carol kicked", func(el *xml.Element) bool { return el.Attr("type") == "unavailable" })
	if c := codes(k[len(k)-1]); c != "110,307" || !strings.Contains(k[len(k)-1].String(), "spam") {
		t.Errorf("carol's removal: %s", k[len(k)-1])
	}
	seen := wait(t, s["bob"], "bob sees the kick", func(el *xml.Element) bool { return el.Attr("from") == room+"/Carol" })
	if codes(seen[len(seen)-1]) != "307" {
		t.Errorf("the kick as bob sees it: %s", seen[len(seen)-1])
	}
	if r := s["alice"].Reply(adminSet("<item jid='carol@example.org' affiliation='outcast'/>")); r.Attr("type") != "result" {
		t.Fatalf("ban: %s", r)
	}
	if got := join(t, s["carol"], "Carol", ""); moduletest.ErrorCondition(got[len(got)-1]) != "forbidden" {
		t.Errorf("an outcast rejoins: %s", got[len(got)-1])
	}
	if r := s["alice"].Reply(adminSet("<item jid='bob@example.org' affiliation='admin'/>")); r.Attr("type") != "result" {
		t.Fatalf("admin: %s", r)
	}
	up := wait(t, s["bob"], "bob's new standing", func(el *xml.Element) bool { return el.Attr("from") == room+"/Bob" })
	if it := up[len(up)-1].Child(NSUser, "x").Child(NSUser, "item"); it.Attr("affiliation") != Admin || it.Attr("role") != Moderator {
		t.Errorf("bob as admin: %s", up[len(up)-1])
	}
	// An admin may not touch the owner; bob, now a moderator, still cannot kick an owner.
	if r := s["bob"].Reply(adminSet("<item jid='alice@example.org' affiliation='none'/>")); moduletest.ErrorCondition(r) != "not-allowed" {
		t.Errorf("an admin demotes the owner: %s", r)
	}
	if r := s["bob"].Reply(adminSet("<item nick='Alice' role='none'/>")); moduletest.ErrorCondition(r) != "not-allowed" {
		t.Errorf("a moderator kicks the owner: %s", r)
	}
	if r := s["alice"].Reply(adminSet("<item jid='alice@example.org' affiliation='admin'/>")); moduletest.ErrorCondition(r) != "conflict" {
		t.Errorf("the last owner steps down: %s", r)
	}
	list := s["alice"].Reply("<iq type='get' id='l' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast'/></query></iq>")
	if !strings.Contains(list.String(), "carol@example.org") {
		t.Errorf("outcast list: %s", list)
	}
}

// TestInvite: an occupant invites someone (mediated, §7.8.2): the invitee
// gets the room's message naming the inviter; in a members-only room the
// invitee, made a member, can then join; a decline reaches the inviter.
func TestInvite(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol")
	join(t, s["alice"], "Alice", "")
	s["alice"].Reply("<iq type='set' id='c1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_membersonly'><value>1</value></field></x></query></iq>")
	if got := join(t, s["bob"], "Bob", ""); moduletest.ErrorCondition(got[len(got)-1]) != "registration-required" {
		t.Fatalf("a stranger joins a members-only room: %s", got[len(got)-1])
	}
	s["alice"].Send("<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='bob@example.org'><reason>rounds</reason></invite></x></message>")
	inv := wait(t, s["bob"], "the invitation", func(el *xml.Element) bool { return el.Name == "message" && el.Attr("from") == room })
	i := inv[len(inv)-1].Child(NSUser, "x").Child(NSUser, "invite")
	if i == nil || i.Attr("from") != "alice@example.org/pc" || i.ChildText(NSUser, "reason") != "rounds" {
		t.Fatalf("the invitation: %s", inv[len(inv)-1])
	}
	if got := join(t, s["bob"], "Bob", ""); got[len(got)-1].Attr("type") == "error" {
		t.Fatalf("the invitee joins: %s", got[len(got)-1])
	}
	s["alice"].Send("<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><invite to='carol@example.org'/></x></message>")
	wait(t, s["carol"], "carol's invitation", func(el *xml.Element) bool { return el.Name == "message" })
	s["carol"].Send("<message to='" + room + "'><x xmlns='http://jabber.org/protocol/muc#user'><decline to='alice@example.org/pc'><reason>busy</reason></decline></x></message>")
	d := wait(t, s["alice"], "the decline", func(el *xml.Element) bool { return el.Name == "message" && el.Child(NSUser, "x") != nil })
	if dx := d[len(d)-1].Child(NSUser, "x").Child(NSUser, "decline"); dx == nil || dx.Attr("from") != "carol@example.org" {
		t.Errorf("the decline: %s", d[len(d)-1])
	}
}

// TestPersistentRoom: a room made persistent keeps its configuration,
// affiliations and subject in storage; a new service over the same store
// has it, unlocked and empty; destroyed, it is gone from storage.
func TestPersistentRoom(t *testing.T) {
	h, s := setup(t, "alice", "bob")
	join(t, s["alice"], "Alice", "")
	if r := s["alice"].Reply("<iq type='set' id='c1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field>" +
		"<field var='muc#roomconfig_roomname'><value>Ward 3</value></field></x></query></iq>"); r.Attr("type") != "result" {
		t.Fatalf("config: %s", r)
	}
	s["alice"].Reply(adminSet("<item jid='bob@example.org' affiliation='member'/>"))
	s["alice"].Send("<message to='" + room + "' type='groupchat'><subject>Handover at 7</subject></message>")
	wait(t, s["alice"], "the subject", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "subject") == "Handover at 7" })

	m2 := New()
	m2.store, m2.log, m2.now, m2.rooms, m2.secret = h.Store.Archive(), h.Host.Log, time.Now, map[string]*Room{}, []byte("k")
	if err := m2.load(t.Context(), "conference.example.org", false); err != nil {
		t.Fatal(err)
	}
	r := m2.rooms[room]
	if r == nil || r.locked || r.cfg.Name != "Ward 3" || !r.cfg.Persistent || r.affs["bob@example.org"] != Member || r.affs["alice@example.org"] != Owner ||
		r.subject.ChildText(xml.NSClient, "subject") != "Handover at 7" || len(r.occupants) != 0 {
		t.Fatalf("the room as loaded: %+v", r)
	}
	if n, _ := h.Store.Archive().Count(t.Context(), "conference.example.org", roomsArchive); n != 1 {
		t.Errorf("%d saved copies of one room", n)
	}
	s["alice"].Reply("<iq type='set' id='d' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><destroy jid='other@conference.example.org'><reason>moved</reason></destroy></query></iq>")
	if n, _ := h.Store.Archive().Count(t.Context(), "conference.example.org", roomsArchive); n != 0 {
		t.Errorf("a destroyed room still saved (%d)", n)
	}
}

// TestDisconnectLeaves: a session that ends without leaving (its stream
// closed) leaves the room: the server sends the unavailable presence owed
// for directed presence (RFC 6121 §4.6.3), and the others see it go.
func TestDisconnectLeaves(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	s["bob"].Logout()
	wait(t, s["alice"], "bob gone", func(el *xml.Element) bool { return el.Attr("from") == room+"/Bob" && el.Attr("type") == "unavailable" })
}

// TestRemoteOccupant: a user of another server joins over federation; its
// message, in jabber:server, reaches local occupants in jabber:client
// (a body the client can read) and is kept in the history.
func TestRemoteOccupant(t *testing.T) {
	h, s := setup(t, "alice")
	remote := h.Federate()
	openRoom(t, s)
	h.FromRemote("<presence from='zoe@other.example/x' to='" + room + "/Zoe'><x xmlns='http://jabber.org/protocol/muc'/><status>here</status></presence>")
	seen := wait(t, s["alice"], "zoe's presence", from(room+"/Zoe"))
	if st := seen[len(seen)-1].Child(xml.NSClient, "status"); st == nil || st.Text() != "here" {
		t.Errorf("zoe's presence as alice sees it: %s", seen[len(seen)-1])
	}
	h.FromRemote("<message from='zoe@other.example/x' to='" + room + "' type='groupchat'><body>hello from afar</body></message>")
	got := wait(t, s["alice"], "zoe's message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "hello from afar" })
	if strings.Contains(got[len(got)-1].String(), "jabber:server") {
		t.Errorf("a remote message relayed with jabber:server inside: %s", got[len(got)-1])
	}
	if len(remote.Take()) == 0 {
		t.Error("nothing went to zoe's server (her own presence, the room's state, her echo)")
	}
}

// TestJoinFlood: past joins_per_minute, a user's joins are refused
// (resource-constraint) and the rooms are unharmed; presence updates in a
// room one is in do not count.
func TestJoinFlood(t *testing.T) {
	h, s := setup(t, "alice")
	_ = h
	for i := range 30 {
		s["alice"].Send(fmt.Sprintf("<presence to='r%d@conference.example.org/A'><x xmlns='http://jabber.org/protocol/muc'/></presence>", i))
	}
	drain(s["alice"])
	s["alice"].Send("<presence to='r0@conference.example.org/A'><show>away</show></presence>") // an update, not a join
	if got := drain(s["alice"]); len(got) == 0 || got[len(got)-1].Attr("type") == "error" {
		t.Errorf("a presence update in a room after 30 joins: %v", got)
	}
	s["alice"].Send("<presence to='r30@conference.example.org/A'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	got := wait(t, s["alice"], "the refusal", func(el *xml.Element) bool { return el.Attr("type") == "error" })
	if c := moduletest.ErrorCondition(got[len(got)-1]); c != "resource-constraint" {
		t.Errorf("the 31st join in a minute: %s", got[len(got)-1])
	}
}

// TestForgedRoomElements: an occupant's own occupant-id, muc#user
// statuses and delays are not relayed (the room alone says those).
func TestForgedRoomElements(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	s["bob"].Send("<message to='" + room + "' type='groupchat'><body>hi</body><occupant-id xmlns='urn:xmpp:occupant-id:0' id='fake'/>" +
		"<x xmlns='http://jabber.org/protocol/muc#user'><status code='104'/></x><delay xmlns='urn:xmpp:delay' stamp='2001-01-01T00:00:00Z'/></message>")
	got := wait(t, s["alice"], "bob's message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "hi" })
	m := got[len(got)-1]
	if m.Child(NSUser, "x") != nil || m.Child(NSDelay, "delay") != nil || m.Child(NSOccupant, "occupant-id").Attr("id") == "fake" {
		t.Errorf("forged room elements relayed: %s", m)
	}
	s["bob"].Send("<message to='" + room + "/Alice' type='chat'><body>pm</body><x xmlns='http://jabber.org/protocol/muc#user'><status code='110'/></x></message>")
	pm := wait(t, s["alice"], "bob's private message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "pm" })
	if x := pm[len(pm)-1].Child(NSUser, "x"); x == nil || len(x.Elements()) != 0 {
		t.Errorf("a private message: %s; want only the room's empty muc#user <x/>", pm[len(pm)-1])
	}
}

// TestVoiceRequest: in a moderated room a visitor may not speak; its
// voice request reaches the moderator as a form; the moderator's approval
// makes it a participant (presence with the new role), and it may speak.
func TestVoiceRequest(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	join(t, s["alice"], "Alice", "")
	s["alice"].Reply("<iq type='set' id='c1' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_moderatedroom'><value>1</value></field></x></query></iq>")
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	s["bob"].Send("<message to='" + room + "' type='groupchat'><body>may I?</body></message>")
	e := wait(t, s["bob"], "an error for a visitor", func(el *xml.Element) bool { return el.Attr("type") == "error" })
	if c := moduletest.ErrorCondition(e[len(e)-1]); c != "forbidden" {
		t.Fatalf("a visitor's message: %s", c)
	}
	s["bob"].Send("<message to='" + room + "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>" +
		"<field var='muc#role' type='list-single'><value>participant</value></field></x></message>")
	got := wait(t, s["alice"], "the voice request", func(el *xml.Element) bool { return el.Child(NSData, "x") != nil })
	form := got[len(got)-1].Child(NSData, "x")
	fields := map[string]string{}
	for _, f := range form.Elements() {
		fields[f.Attr("var")] = f.ChildText(NSData, "value")
	}
	if form.Attr("type") != "form" || fields["muc#roomnick"] != "Bob" || fields["muc#jid"] != "bob@example.org" || fields["FORM_TYPE"] != NSRequest {
		t.Fatalf("the form the moderator got: %s", got[len(got)-1])
	}
	s["alice"].Send("<message to='" + room + "'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#request</value></field>" +
		"<field var='muc#role'><value>participant</value></field><field var='muc#roomnick'><value>Bob</value></field>" +
		"<field var='muc#request_allow'><value>true</value></field></x></message>")
	wait(t, s["bob"], "bob's new role", func(el *xml.Element) bool {
		x := el.Child(NSUser, "x")
		return el.Name == "presence" && el.Attr("from") == room+"/Bob" && x != nil && x.Child(NSUser, "item") != nil && x.Child(NSUser, "item").Attr("role") == "participant"
	})
	s["bob"].Send("<message to='" + room + "' type='groupchat'><body>thank you</body></message>")
	wait(t, s["alice"], "bob's message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "thank you" })
}

// TestNicknames: the PRECIS Nickname profile (RFC 8266): a nickname the
// profile would change (spaces around or doubled, a width variant) is
// jid-malformed; one that equals another under its comparison (case) is
// a conflict.
func TestNicknames(t *testing.T) {
	_, s := setup(t, "alice", "bob")
	openRoom(t, s)
	for _, bad := range []string{"Bob  Smith", "\uff22ob", "Bob\u00a0"} {
		s["bob"].Send("<presence to='" + room + "/" + bad + "'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
		e := wait(t, s["bob"], "an error for "+bad, func(el *xml.Element) bool { return el.Attr("type") == "error" })
		if c := moduletest.ErrorCondition(e[len(e)-1]); c != "jid-malformed" {
			t.Errorf("nickname %q: %s, want jid-malformed", bad, c)
		}
	}
	s["bob"].Send("<presence to='" + room + "/alice'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	e := wait(t, s["bob"], "an error for alice", func(el *xml.Element) bool { return el.Attr("type") == "error" })
	if c := moduletest.ErrorCondition(e[len(e)-1]); c != "conflict" {
		t.Errorf("nickname alice while Alice is in: %s, want conflict", c)
	}
	join(t, s["bob"], "Bob Smith", "")
}

// TestOccupantLimit: an owner who lowered the room's occupant limit may
// raise it again up to the service's (not above); a saved room comes back
// within the service's limits as they are now, and non-anonymous on a
// Direct domain, whatever its saved copy says.
func TestOccupantLimit(t *testing.T) {
	h, s := setup(t, "alice")
	openRoom(t, s)
	conf := func(v string) *xml.Element {
		return s["alice"].Reply("<iq type='set' id='c' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
			"<field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_persistentroom'><value>1</value></field>" +
			"<field var='muc#roomconfig_maxusers'><value>" + v + "</value></field></x></query></iq>")
	}
	maxusers := func() string {
		r := s["alice"].Reply("<iq type='get' id='g' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'/></iq>")
		for _, f := range r.Child(NSOwner, "query").Child(NSData, "x").Elements() {
			if f.Attr("var") == "muc#roomconfig_maxusers" {
				return f.ChildText(NSData, "value")
			}
		}
		t.Fatalf("no maxusers field: %s", r)
		return ""
	}
	for _, c := range []struct{ set, want string }{{"10", "10"}, {"100", "100"}, {"5000", "1000"}} {
		if r := conf(c.set); r.Attr("type") != "result" {
			t.Fatalf("maxusers %s: %s", c.set, r)
		}
		if got := maxusers(); got != c.want {
			t.Errorf("maxusers set to %s reads %s, want %s (the service's limit is 1000)", c.set, got, c.want)
		}
	}
	m2 := New()
	m2.cfg.MaxOccupants = 50
	m2.store, m2.log, m2.now, m2.rooms, m2.secret = h.Store.Archive(), h.Host.Log, time.Now, map[string]*Room{}, []byte("k")
	if err := m2.load(t.Context(), "conference.example.org", true); err != nil {
		t.Fatal(err)
	}
	r := m2.rooms[room]
	if r == nil || r.cfg.MaxOccupants != 50 || r.limit != 50 || r.cfg.WhoIs != "anyone" {
		t.Fatalf("the room loaded under a limit of 50 on a Direct domain: %+v", r)
	}
}
