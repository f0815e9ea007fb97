package mam

import (
	"fmt"
	"github.com/tern-xmpp/tern/internal/feature/blocking"
	"github.com/tern-xmpp/tern/internal/feature/offline"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"strings"
	"testing"
	"time"
)

// TestForgedStanzaIDs: a stanza-id claiming to be bob's is removed from a
// message to him (XEP-0359 §4) even when the archive keeps no copy
// (no-store hint, no body), and in any spelling of his JID.
func TestForgedStanzaIDs(t *testing.T) {
	_, alice, bob := setup(t)
	for _, m := range []string{
		"<message to='bob@example.org' type='chat' id='f1'><body>hi</body><no-store xmlns='urn:xmpp:hints'/><stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.org' id='0000000000001'/></message>",
		"<message to='bob@example.org' type='chat' id='f2'><reactions xmlns='urn:xmpp:reactions:0' id='x'/><stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.org' id='0000000000002'/></message>",
		"<message to='bob@example.org' type='chat' id='f3'><body>hi</body><stanza-id xmlns='urn:xmpp:sid:0' by='Bob@Example.org' id='0000000000003'/></message>",
	} {
		alice.Send(m)
	}
	for _, m := range messages(t, bob, 3) {
		for _, c := range m.Elements() {
			if c.Space == NSSID && c.Name == "stanza-id" && strings.HasPrefix(c.Attr("id"), "000000000000") {
				t.Errorf("message %s delivered to bob with a forged stanza-id: %s", m.Attr("id"), c)
			}
		}
	}
}

// TestNoteToSelf: a message to one's own bare JID is archived once.
func TestNoteToSelf(t *testing.T) {
	_, alice, _ := setup(t)
	alice.Send("<message to='alice@example.org' type='chat' id='n1'><body>note to self</body></message>")
	messages(t, alice, 1)
	_, res := query(t, alice, "q", "")
	bs, ids := bodies(t, res, "q-q")
	if len(bs) != 1 {
		t.Errorf("alice's archive holds her note to self %d times: %v ids %v", len(bs), bs, ids)
	}
}

// TestWithFullJID: 'with' a full JID filters before the page is cut: the
// one message of that resource comes on the first page (it came back
// empty, not complete, without <last/> to go on from).
func TestWithFullJID(t *testing.T) {
	h, alice, bob := setup(t)
	bob2 := h.Online("bob", "laptop")
	for i := range 5 {
		bob.Send(fmt.Sprintf("<message to='alice@example.org' type='chat'><body>phone %d</body></message>", i))
	}
	messages(t, alice, 5)
	bob2.Send("<message to='alice@example.org' type='chat'><body>laptop</body></message>")
	messages(t, alice, 1)
	fin, res := query(t, alice, "w", form("with", "bob@example.org/laptop")+"<set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set>")
	bs, _ := bodies(t, res, "q-w")
	if f := fin.Child(NS, "fin"); strings.Join(bs, ",") != "laptop" || f.Attr("complete") != "true" {
		t.Errorf("with bob's laptop: %v, %s", bs, fin)
	}
	// And on a page cut short by max, the filter still holds.
	fin, res = query(t, alice, "w2", form("with", "bob@example.org/phone")+"<set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set>")
	if bs, _ := bodies(t, res, "q-w2"); strings.Join(bs, ",") != "phone 0,phone 1,phone 2" || fin.Child(NS, "fin").Attr("complete") == "true" {
		t.Errorf("with bob's phone, max 3: %v, %s", bs, fin)
	}
}

// TestRefusedNotArchived: a message to a contact the sender blocked is
// refused (XEP-0191 §3.6) and not in the sender's archive.
func TestRefusedNotArchived(t *testing.T) {
	h := moduletest.New(t, []string{"alice", "bob"}, roster.Module{}, presence.Module{}, blocking.Module{}, New())
	alice := h.Online("alice", "pc")
	h.Online("bob", "phone")
	r := alice.Reply("<iq type='set' id='b1'><block xmlns='urn:xmpp:blocking'><item jid='bob@example.org'/></block></iq>")
	if r.Attr("type") != "result" {
		t.Fatalf("block: %s", r)
	}
	alice.Send("<message to='bob@example.org' type='chat' id='m1'><body>never sent</body></message>")
	got := messages(t, alice, 1) // the error
	t.Logf("alice got: %s", got[0])
	_, res := query(t, alice, "q", "")
	if bs, _ := bodies(t, res, "q-q"); len(bs) != 0 {
		t.Errorf("alice's archive holds a message the server refused to send: %v", bs)
	}
}

// TestUndeliveredOnce: a message bob's phone never acknowledged
// (XEP-0198), routed again to his bare JID when the session ends
// (Router.Undelivered, as c2s does), keeps its stanza-id and its one entry.
func TestUndeliveredOnce(t *testing.T) {
	h := moduletest.New(t, []string{"alice", "bob"}, roster.Module{}, presence.Module{}, offline.Module{}, New())
	alice, bob := h.Online("alice", "pc"), h.Online("bob", "phone")
	alice.Send("<message to='bob@example.org' type='chat' id='m1'><body>once</body></message>")
	got := messages(t, bob, 1)
	first := got[0].Child(NSSID, "stanza-id").Attr("id")
	bob.Logout()
	h.Router.Undelivered(t.Context(), mustJID("bob@example.org/phone"), got) // what c2s does with unacked stanzas
	laptop := h.Online("bob", "laptop")                                      // gets the offline copy
	again := messages(t, laptop, 1)
	t.Logf("redelivered: %s", again[0])
	if sid := again[0].Child(NSSID, "stanza-id"); sid == nil || sid.Attr("id") != first {
		t.Errorf("the redelivered message lost its stanza-id %s: %s", first, again[0])
	}
	_, res := query(t, laptop, "q", "")
	if bs, ids := bodies(t, res, "q-q"); len(bs) != 1 {
		t.Errorf("bob's archive holds the message %d times: %v %v", len(bs), bs, ids)
	}
}

func mustJID(s string) jid.JID { return jid.MustParse(s) }

// TestIndex: <first index/> is the page's position in the whole result
// set (XEP-0059 §2.4): told for a page by index, not for one after an id
// (it would take a count of what comes before).
func TestIndex(t *testing.T) {
	_, alice, bob := setup(t)
	for i := range 6 {
		alice.Send(fmt.Sprintf("<message to='bob@example.org' type='chat'><body>a%d</body></message>", i))
	}
	messages(t, bob, 6)
	fin, res := query(t, bob, "p1", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><index>2</index></set>")
	set := fin.Child(NS, "fin").Child(NSRSM, "set")
	if bs, _ := bodies(t, res, "q-p1"); strings.Join(bs, ",") != "a2,a3" || set.Child(NSRSM, "first").Attr("index") != "2" || set.ChildText(NSRSM, "count") != "6" {
		t.Errorf("index 2: %v, %s", bs, fin)
	}
	fin, _ = query(t, bob, "p2", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><after>"+set.ChildText(NSRSM, "last")+"</after></set>")
	if first := fin.Child(NS, "fin").Child(NSRSM, "set").Child(NSRSM, "first"); first == nil || first.Attr("index") != "" {
		t.Errorf("after an id: %s", fin)
	}
	if fin, _ := query(t, bob, "p3", "<set xmlns='http://jabber.org/protocol/rsm'><index>10001</index></set>"); moduletest.ErrorCondition(fin) != "bad-request" {
		t.Errorf("index past the bound: %s", fin)
	}
}

// TestSameMicrosecond: two entries of one archive with one microsecond
// (two nodes on one PostgreSQL): a page does not end between them, so
// paging after its last id finds both (it skipped one, and that id was
// item-not-found).
func TestSameMicrosecond(t *testing.T) {
	h, _, bob := setup(t)
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	must := func(err error) {
		if err != nil {
			t.Fatal(err)
		}
	}
	must(h.Store.History().Write(t.Context(), []storage.Entry{
		{Owner: "bob@example.org", Archive: Archive, Time: at.Add(-time.Millisecond), Peer: "alice@example.org", Payload: []byte("<message xmlns='jabber:client' type='chat'><body>early</body></message>")},
		{Owner: "bob@example.org", Archive: Archive, Time: at, Peer: "alice@example.org", Payload: []byte("<message xmlns='jabber:client' type='chat'><body>node1</body></message>")},
	}))
	must(h.Store.History().Write(t.Context(), []storage.Entry{
		{Owner: "bob@example.org", Archive: Archive, Time: at, Peer: "carol@example.org", Payload: []byte("<message xmlns='jabber:client' type='chat'><body>node2</body></message>")},
		{Owner: "bob@example.org", Archive: Archive, Time: at.Add(time.Millisecond), Peer: "carol@example.org", Payload: []byte("<message xmlns='jabber:client' type='chat'><body>later</body></message>")},
	}))
	var got []string
	after := ""
	for i := 0; i < 5; i++ {
		set := "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max>"
		if after != "" {
			set += "<after>" + after + "</after>"
		}
		fin, res := query(t, bob, fmt.Sprintf("p%d", i), set+"</set>")
		if fin.Attr("type") != "result" {
			t.Errorf("page %d (after %s): %s", i, after, fin)
			break
		}
		bs, _ := bodies(t, res, fmt.Sprintf("q-p%d", i))
		got = append(got, bs...)
		f := fin.Child(NS, "fin")
		if f.Attr("complete") == "true" {
			break
		}
		after = f.Child(NSRSM, "set").ChildText(NSRSM, "last")
	}
	if strings.Join(got, ",") != "early,node1,node2,later" {
		t.Errorf("paged with max 2: %v; want early,node1,node2,later", got)
	}
}

// TestUnackedResults: archive results a session never acknowledged
// (XEP-0198) are not routed again when it ends (they have no 'from' and
// went to offline storage, taking the quota real messages need).
func TestUnackedResults(t *testing.T) {
	h := moduletest.New(t, []string{"alice", "bob"}, roster.Module{}, presence.Module{}, offline.Module{Quota: 3}, New())
	alice, bob := h.Online("alice", "pc"), h.Online("bob", "phone")
	for i := range 3 {
		alice.Send(fmt.Sprintf("<message to='bob@example.org' type='chat'><body>m%d</body></message>", i))
	}
	messages(t, bob, 3)
	_, res := query(t, bob, "q", "")
	if len(res) != 3 {
		t.Fatalf("%d results", len(res))
	}
	bob.Logout()
	h.Router.Undelivered(t.Context(), mustJID("bob@example.org/phone"), res) // the results were never acknowledged
	n, err := h.Store.Offline().Count(t.Context(), "bob@example.org")
	if err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("bob's offline store holds %d archive results (quota 3)", n)
	}
}

// TestIDsWithFullJID: 'ids' and 'with' a full JID together: only the
// named entries of that resource.
func TestIDsWithFullJID(t *testing.T) {
	h, alice, bob := setup(t)
	bob2 := h.Online("bob", "laptop")
	bob.Send("<message to='alice@example.org' type='chat'><body>phone</body></message>")
	messages(t, alice, 1)
	bob2.Send("<message to='alice@example.org' type='chat'><body>laptop</body></message>")
	messages(t, alice, 1)
	_, res := query(t, alice, "all", "")
	_, ids := bodies(t, res, "q-all")
	if len(ids) != 2 {
		t.Fatalf("ids %v", ids)
	}
	x := "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>" +
		"<field var='with'><value>bob@example.org/laptop</value></field>" +
		"<field var='ids'><value>" + ids[0] + "</value><value>" + ids[1] + "</value></field></x>"
	_, res = query(t, alice, "w", x)
	if bs, _ := bodies(t, res, "q-w"); strings.Join(bs, ",") != "laptop" {
		t.Errorf("ids + with bob's laptop: %v (want laptop only)", bs)
	}
}

// TestWithFullJIDBound: 'with' a full JID that finds too few in too many
// entries (each is parsed) is refused once storage.MaxMatchScan are read,
// rather than reading the whole conversation for one page.
func TestWithFullJIDBound(t *testing.T) {
	h, alice, _ := setup(t)
	at := time.Now().Add(-time.Hour)
	es := make([]storage.Entry, storage.MaxMatchScan+10)
	for i := range es {
		es[i] = storage.Entry{Owner: "alice@example.org", Archive: Archive, Time: at.Add(time.Duration(i) * time.Millisecond), Peer: "bob@example.org",
			Payload: []byte("<message xmlns='jabber:client' from='bob@example.org/phone' type='chat'><body>x</body></message>")}
	}
	if err := h.Store.History().Write(t.Context(), es); err != nil {
		t.Fatal(err)
	}
	fin, _ := query(t, alice, "w", form("with", "bob@example.org/laptop"))
	if moduletest.ErrorCondition(fin) != "policy-violation" {
		t.Errorf("a full JID found in none of %d entries: %s", len(es), fin)
	}
	if fin, _ := query(t, alice, "w2", form("with", "bob@example.org/laptop", "start", at.Add(time.Duration(len(es)-20)*time.Millisecond).UTC().Format(time.RFC3339Nano))); fin.Attr("type") != "result" {
		t.Errorf("the same, narrowed by start: %s", fin)
	}
}
