package muc

import (
	"slices"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/delivery"
	"github.com/tern-xmpp/tern/internal/feature/mam"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// roomQuery asks the room's archive as s and returns the results and the
// answer (a result with <fin/> or an error).
func roomQuery(t *testing.T, s *moduletest.Session, id, inner string) ([]*xml.Element, *xml.Element) {
	t.Helper()
	s.Send("<iq type='set' id='" + id + "' to='" + room + "'><query xmlns='urn:xmpp:mam:2' queryid='" + id + "'>" + inner + "</query></iq>")
	got := wait(t, s, "the answer to "+id, func(el *xml.Element) bool { return el.Name == "iq" && el.Attr("id") == id })
	var results []*xml.Element
	for _, el := range got {
		if r := el.Child(mam.NS, "result"); r != nil && r.Attr("queryid") == id {
			if el.Attr("from") != room {
				t.Errorf("a result not from the room: %s", el)
			}
			results = append(results, r)
		}
	}
	return results, got[len(got)-1]
}

func resultMessage(t *testing.T, r *xml.Element) *xml.Element {
	t.Helper()
	m := r.Child(mam.NSForward, "forwarded").Child(xml.NSClient, "message")
	if m == nil {
		t.Fatalf("a result without its message: %s", r)
	}
	return m
}

// TestRoomArchive: groupchat messages get the room's stanza-id (a forged
// one is dropped) and are in the room's archive, in order, from
// room/nick; a participant of a semi-anonymous room does not see real
// JIDs in results, the owner does; paging; an outcast, and a stranger to
// a members-only room, are refused.
func TestRoomArchive(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol", "dave")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	drain(s["alice"])
	for _, b := range []string{"one", "two", "three"} {
		s["bob"].Send("<message to='" + room + "' type='groupchat'><body>" + b + "</body><stanza-id xmlns='urn:xmpp:sid:0' by='" + room + "' id='forged'/></message>")
	}
	s["bob"].Send("<message to='" + room + "' type='groupchat'><body>not kept</body><no-store xmlns='urn:xmpp:hints'/></message>")
	got := wait(t, s["alice"], "bob's messages", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "not kept" })
	var ids []string
	for _, m := range got {
		if m.ChildText(xml.NSClient, "body") == "" {
			continue
		}
		var sids []string
		for _, c := range m.Elements() {
			if c.Space == mam.NSSID && c.Name == "stanza-id" {
				sids = append(sids, c.Attr("by")+" "+c.Attr("id"))
			}
		}
		switch {
		case m.ChildText(xml.NSClient, "body") == "not kept" && len(sids) != 0:
			t.Errorf("a no-store message got a stanza-id: %s", m)
		case m.ChildText(xml.NSClient, "body") != "not kept" && (len(sids) != 1 || strings.Contains(sids[0], "forged") || !strings.HasPrefix(sids[0], room+" ")):
			t.Errorf("a room message's stanza-ids: %v in %s", sids, m)
		case len(sids) == 1:
			ids = append(ids, strings.TrimPrefix(sids[0], room+" "))
		}
	}

	results, fin := roomQuery(t, s["bob"], "q1", "")
	if fin.Attr("type") != "result" || fin.Child(mam.NS, "fin") == nil || fin.Child(mam.NS, "fin").Attr("complete") != "true" {
		t.Fatalf("bob's query of the room archive: %s", fin)
	}
	var bodies []string
	for i, r := range results {
		m := resultMessage(t, r)
		bodies = append(bodies, m.ChildText(xml.NSClient, "body"))
		if m.Attr("from") != room+"/Bob" || m.Attr("type") != "groupchat" {
			t.Errorf("an archived room message: %s", m)
		}
		if x := m.Child(NSUser, "x"); x != nil {
			t.Errorf("a participant of a semi-anonymous room sees a real JID: %s", m)
		}
		if i < len(ids) && r.Attr("id") != ids[i] {
			t.Errorf("result %d has id %s; the message had stanza-id %s", i, r.Attr("id"), ids[i])
		}
	}
	if strings.Join(bodies, ",") != "one,two,three" {
		t.Errorf("the room archive: %v", bodies)
	}
	results, _ = roomQuery(t, s["alice"], "q2", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set>")
	if len(results) != 2 || resultMessage(t, results[1]).ChildText(xml.NSClient, "body") != "three" {
		t.Fatalf("the owner's last page of two: %v", results)
	}
	item := resultMessage(t, results[1]).Child(NSUser, "x")
	if item == nil || item.Child(NSUser, "item") == nil || item.Child(NSUser, "item").Attr("jid") != "bob@example.org" {
		t.Errorf("the owner does not see bob's real JID in a result: %s", resultMessage(t, results[1]))
	}

	s["alice"].Reply("<iq type='set' id='ban' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#admin'><item affiliation='outcast' jid='carol@example.org'/></query></iq>")
	if _, e := roomQuery(t, s["carol"], "q3", ""); moduletest.ErrorCondition(e) != "forbidden" {
		t.Errorf("an outcast's query: %s", e)
	}
	s["alice"].Reply("<iq type='set' id='mo' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_membersonly'><value>1</value></field></x></query></iq>")
	if _, e := roomQuery(t, s["dave"], "q4", ""); moduletest.ErrorCondition(e) != "forbidden" {
		t.Errorf("a stranger's query of a members-only room: %s", e)
	}
}

// TestDeliveryNotices: with deliver notices on, a groupchat message with
// an id earns its sender one notice per occupant session's delivery,
// from the room, naming the occupant as the sender may see it.
func TestDeliveryNotices(t *testing.T) {
	dm := delivery.New(0)
	dm.Cfg.Notify, dm.Cfg.Track = delivery.ModeAll, delivery.ModeOff
	h := moduletest.New(t, []string{"alice", "bob", "carol"}, roster.Module{}, presence.Module{}, dm, mam.New(), New())
	s := map[string]*moduletest.Session{}
	for _, u := range []string{"alice", "bob", "carol"} {
		s[u] = h.Online(u, "pc")
		drain(s[u])
	}
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	join(t, s["carol"], "Carol", "")
	drain(s["bob"])
	s["bob"].Send("<message to='" + room + "' type='groupchat' id='g1'><body>rounds</body></message>")
	var notices []string
	for len(notices) < 3 {
		got := wait(t, s["bob"], "a notice", func(el *xml.Element) bool { return el.Child(NSAMP, "amp") != nil })
		n := got[len(got)-1]
		amp := n.Child(NSAMP, "amp")
		if n.Attr("from") != room || n.Attr("id") != "g1" || amp.Attr("from") != room+"/Bob" || amp.Attr("status") != "notify" {
			t.Fatalf("a notice: %s", n)
		}
		notices = append(notices, amp.Attr("to"))
	}
	slices.Sort(notices)
	// bob is a participant of a semi-anonymous room: occupants by room/nick.
	if strings.Join(notices, ",") != room+"/Alice,"+room+"/Bob,"+room+"/Carol" {
		t.Errorf("notices about %v", notices)
	}
}

// TestRoomArchiveLimits: a password-protected room's archive is not for
// strangers; a participant of a semi-anonymous room may not filter by a
// real JID, but by room/nick; max 0 is the count alone; an occupant's
// origin-id goes through.
func TestRoomArchiveLimits(t *testing.T) {
	_, s := setup(t, "alice", "bob", "carol")
	openRoom(t, s)
	join(t, s["bob"], "Bob", "")
	join(t, s["carol"], "Carol", "")
	s["bob"].Send("<message to='" + room + "' type='groupchat'><body>one</body><origin-id xmlns='urn:xmpp:sid:0' id='o1'/></message>")
	s["alice"].Send("<message to='" + room + "' type='groupchat'><body>two</body></message>")
	got := wait(t, s["carol"], "bob's message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "one" })
	if o := got[len(got)-1].Child(NSSID, "origin-id"); o == nil || o.Attr("id") != "o1" {
		t.Errorf("bob's origin-id did not go through: %s", got[len(got)-1])
	}
	wait(t, s["carol"], "alice's message", func(el *xml.Element) bool { return el.ChildText(xml.NSClient, "body") == "two" })
	form := func(with string) string {
		return "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='with'><value>" + with + "</value></field></x>"
	}
	if _, e := roomQuery(t, s["carol"], "w1", form("bob@example.org")); moduletest.ErrorCondition(e) != "forbidden" {
		t.Errorf("a participant filtering by a real JID: %s", e)
	}
	results, fin := roomQuery(t, s["carol"], "w2", form(room+"/Bob"))
	if len(results) != 1 || resultMessage(t, results[0]).ChildText(xml.NSClient, "body") != "one" {
		t.Errorf("with room/Bob: %d results, %s", len(results), fin)
	}
	results, fin = roomQuery(t, s["alice"], "w3", form("bob@example.org"))
	if len(results) != 1 {
		t.Errorf("the owner filtering by bob's real JID: %d results, %s", len(results), fin)
	}
	results, fin = roomQuery(t, s["carol"], "m0", "<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>")
	set := fin.Child(mam.NS, "fin")
	if len(results) != 0 || set == nil || set.Child("http://jabber.org/protocol/rsm", "set").ChildText("http://jabber.org/protocol/rsm", "count") != "2" {
		t.Errorf("max 0: %d results, %s", len(results), fin)
	}
	s["alice"].Reply("<iq type='set' id='pw' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'>" +
		"<field var='muc#roomconfig_passwordprotectedroom'><value>1</value></field><field var='muc#roomconfig_roomsecret'><value>s</value></field></x></query></iq>")
	s["carol"].Send("<presence to='" + room + "/Carol' type='unavailable'/>")
	wait(t, s["carol"], "carol leaves", func(el *xml.Element) bool {
		return el.Attr("type") == "unavailable" && el.Attr("from") == room+"/Carol"
	})
	if _, e := roomQuery(t, s["carol"], "p1", ""); moduletest.ErrorCondition(e) != "forbidden" {
		t.Errorf("a stranger's query of a password-protected room: %s", e)
	}
}
