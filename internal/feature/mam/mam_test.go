package mam

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// await waits for the reply to the iq with id (results come first, off
// the stream) and returns it with everything the session got before it.
func await(t *testing.T, s *moduletest.Session, id string) (*xml.Element, []*xml.Element) {
	t.Helper()
	var got []*xml.Element
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(2 * time.Millisecond) {
		for _, el := range s.Take() {
			if el.Name == "iq" && el.Attr("id") == id {
				return el, got
			}
			got = append(got, el)
		}
	}
	t.Fatalf("no reply to iq %s; got %d other stanzas", id, len(got))
	return nil, nil
}

// messages waits until n messages reached s and returns them.
func messages(t *testing.T, s *moduletest.Session, n int) []*xml.Element {
	t.Helper()
	var got []*xml.Element
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && len(got) < n; time.Sleep(2 * time.Millisecond) {
		got = append(got, moduletest.Filter(s.Take(), "message")...)
	}
	if len(got) < n {
		t.Fatalf("%d messages, want %d", len(got), n)
	}
	return got
}

func query(t *testing.T, s *moduletest.Session, id, inner string) (*xml.Element, []*xml.Element) {
	t.Helper()
	s.Send("<iq type='set' id='" + id + "'><query xmlns='urn:xmpp:mam:2' queryid='q-" + id + "'>" + inner + "</query></iq>")
	return await(t, s, id)
}

func form(fields ...string) string {
	var b strings.Builder
	b.WriteString("<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE' type='hidden'><value>urn:xmpp:mam:2</value></field>")
	for i := 0; i+1 < len(fields); i += 2 {
		fmt.Fprintf(&b, "<field var='%s'><value>%s</value></field>", fields[i], fields[i+1])
	}
	b.WriteString("</x>")
	return b.String()
}

// bodies are the forwarded messages' bodies of MAM results, in order.
func bodies(t *testing.T, results []*xml.Element, queryID string) ([]string, []string) {
	t.Helper()
	var bs, ids []string
	for _, m := range results {
		r := m.Child(NS, "result")
		if r == nil {
			continue
		}
		if r.Attr("queryid") != queryID {
			t.Errorf("result with queryid %q, want %q", r.Attr("queryid"), queryID)
		}
		f := r.Child(NSForward, "forwarded")
		if f == nil || f.Child(NSDelay, "delay") == nil {
			t.Fatalf("result without forwarded and delay: %s", m)
		}
		inner := f.Child(xml.NSClient, "message")
		if inner == nil {
			t.Fatalf("result without the message: %s", m)
		}
		bs, ids = append(bs, inner.ChildText(xml.NSClient, "body")), append(ids, r.Attr("id"))
	}
	return bs, ids
}

func setup(t *testing.T) (*moduletest.Harness, *moduletest.Session, *moduletest.Session) {
	h := moduletest.New(t, []string{"alice", "bob"}, roster.Module{}, presence.Module{}, New())
	return h, h.Online("alice", "pc"), h.Online("bob", "phone")
}

// TestArchiveBothWays: a chat between two local users is in both archives,
// the received copy delivered with its archive id as stanza-id; a query
// returns them in order with queryid, forwarded and delay, and a fin with
// complete and the RSM set.
func TestArchiveBothWays(t *testing.T) {
	_, alice, bob := setup(t)
	for i := range 3 {
		alice.Send(fmt.Sprintf("<message to='bob@example.org' type='chat' id='m%d'><body>hello %d</body></message>", i, i))
	}
	got := messages(t, bob, 3)
	for _, m := range got {
		sid := m.Child(NSSID, "stanza-id")
		if sid == nil || sid.Attr("by") != "bob@example.org" || sid.Attr("id") == "" {
			t.Fatalf("delivered without bob's stanza-id: %s", m)
		}
	}
	fin, results := query(t, bob, "q1", "")
	bs, ids := bodies(t, results, "q-q1")
	if strings.Join(bs, ",") != "hello 0,hello 1,hello 2" {
		t.Fatalf("bob's archive: %v", bs)
	}
	if ids[0] != got[0].Child(NSSID, "stanza-id").Attr("id") {
		t.Errorf("result id %s is not the stanza-id %s", ids[0], got[0].Child(NSSID, "stanza-id").Attr("id"))
	}
	f := fin.Child(NS, "fin")
	if fin.Attr("type") != "result" || f == nil || f.Attr("complete") != "true" {
		t.Fatalf("fin: %s", fin)
	}
	if set := f.Child(NSRSM, "set"); set == nil || set.ChildText(NSRSM, "first") != ids[0] || set.ChildText(NSRSM, "last") != ids[2] {
		t.Errorf("fin's set: %s", f)
	}
	_, results = query(t, alice, "q2", "")
	if bs, _ := bodies(t, results, "q-q2"); strings.Join(bs, ",") != "hello 0,hello 1,hello 2" {
		t.Fatalf("alice's archive (what she sent): %v", bs)
	}
}

// TestMirrored: a chat between two local users is stored once for both
// (the same id in both archives), each side with the other as its peer;
// a message changed on its way in (a forged stanza-id removed) is stored
// apart; none is kept for a recipient that has no account.
func TestMirrored(t *testing.T) {
	h, alice, bob := setup(t)
	// Mirroring is best effort (the entry must still be queued when the
	// message reaches its recipient): a first exchange fills the caches
	// whose first reads would let the writer take the sender's entry.
	alice.Send("<message to='bob@example.org' type='chat'><body>warm</body></message>")
	bob.Send("<message to='alice@example.org' type='chat'><body>warm</body></message>")
	messages(t, bob, 1)
	messages(t, alice, 1)
	query(t, alice, "wa", "<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>")
	query(t, bob, "wb", "<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>")
	alice.Send("<message to='bob@example.org' type='chat'><body>a0</body></message>")
	bob.Send("<message to='alice@example.org' type='chat'><body>b0</body></message>")
	alice.Send("<message to='bob@example.org' type='chat'><body>a1</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.org' id='x'/></message>")
	alice.Send("<message to='nobody@example.org' type='chat'><body>lost</body></message>")
	messages(t, bob, 2)
	messages(t, alice, 1)
	_, ra := query(t, alice, "qa", form("with", "bob@example.org"))
	_, rb := query(t, bob, "qb", form("with", "alice@example.org"))
	ba, ia := bodies(t, ra, "q-qa")
	bb, ib := bodies(t, rb, "q-qb")
	ba, ia, bb, ib = ba[2:], ia[2:], bb[2:], ib[2:] // (the warm-up's)
	if strings.Join(ba, ",") != "a0,b0,a1" || strings.Join(bb, ",") != "a0,b0,a1" {
		t.Fatalf("archives with each other: alice %v, bob %v", ba, bb)
	}
	if ia[0] != ib[0] || ia[1] != ib[1] {
		t.Errorf("mirrored entries' ids differ: alice %v, bob %v", ia, ib)
	}
	if ia[2] == ib[2] {
		t.Errorf("the changed message shares its id %s", ia[2])
	}
	if p, err := h.Store.History().Query(t.Context(), "nobody@example.org", Archive, storage.Query{}); err != nil || len(p.Entries) != 0 {
		t.Errorf("archive of a recipient without an account: %d entries, %v", len(p.Entries), err)
	}
}

// TestNotArchived: chat states alone, no-store and no-permanent-store
// hints, errors, headlines and groupchat stay out; a forged stanza-id
// claiming to be bob's is removed.
func TestNotArchived(t *testing.T) {
	_, alice, bob := setup(t)
	for _, m := range []string{
		"<message to='bob@example.org' type='chat'><active xmlns='http://jabber.org/protocol/chatstates'/></message>",
		"<message to='bob@example.org' type='chat'><body>secret</body><no-store xmlns='urn:xmpp:hints'/></message>",
		"<message to='bob@example.org' type='chat'><body>secret</body><no-permanent-store xmlns='urn:xmpp:hints'/></message>",
		"<message to='bob@example.org' type='headline'><body>news</body></message>",
		"<message to='bob@example.org' type='chat' id='forged'><body>kept</body><stanza-id xmlns='urn:xmpp:sid:0' by='bob@example.org' id='0000000000001'/></message>",
	} {
		alice.Send(m)
	}
	got := messages(t, bob, 5)
	for _, m := range got {
		if m.Attr("id") != "forged" {
			continue
		}
		var sids []string
		for _, c := range m.Elements() {
			if c.Space == NSSID {
				sids = append(sids, c.Attr("id"))
			}
		}
		if len(sids) != 1 || sids[0] == "0000000000001" {
			t.Errorf("stanza-ids on the forged message: %v; want bob's own one only", sids)
		}
	}
	_, results := query(t, bob, "q1", "")
	if bs, _ := bodies(t, results, "q-q1"); strings.Join(bs, ",") != "kept" {
		t.Errorf("bob's archive: %v; want only the message without hints", bs)
	}
}

// TestQueryFilters: with, start/end, after-id/before-id, ids; paging with
// max and after, the last page with an empty before, index and count,
// flip-page; unknown ids are item-not-found, unknown fields
// feature-not-implemented, a bad FORM_TYPE bad-request.
func TestQueryFilters(t *testing.T) {
	h, alice, bob := setup(t)
	h.Online("carol", "x") // not an account: messages to her bounce; only bob's count
	for i := range 6 {
		alice.Send(fmt.Sprintf("<message to='bob@example.org' type='chat'><body>a%d</body></message>", i))
		bob.Send(fmt.Sprintf("<message to='alice@example.org' type='chat'><body>b%d</body></message>", i))
	}
	messages(t, bob, 6)
	messages(t, alice, 6)
	_, all := query(t, alice, "all", "<set xmlns='http://jabber.org/protocol/rsm'><max>100</max></set>")
	bs, ids := bodies(t, all, "q-all")
	if len(bs) != 12 {
		t.Fatalf("alice's archive: %d entries, want 12: %v", len(bs), bs)
	}
	check := func(id, inner, want string) *xml.Element {
		t.Helper()
		fin, res := query(t, alice, id, inner)
		if fin.Attr("type") != "result" {
			t.Fatalf("%s: %s", id, fin)
		}
		if got, _ := bodies(t, res, "q-"+id); strings.Join(got, ",") != want {
			t.Errorf("%s: %v; want %s", id, got, want)
		}
		return fin.Child(NS, "fin")
	}
	check("with", form("with", "bob@example.org"), strings.Join(bs, ","))
	check("with-other", form("with", "dave@example.org"), "")
	check("between", form("after-id", ids[1], "before-id", ids[4]), strings.Join(bs[2:4], ","))
	check("ids", form("ids", ids[3]), bs[3])
	f := check("page1", "<set xmlns='http://jabber.org/protocol/rsm'><max>5</max></set>", strings.Join(bs[:5], ","))
	if f.Attr("complete") == "true" {
		t.Errorf("a first page of 5 of 12 says complete: %s", f)
	}
	if c := f.Child(NSRSM, "set").ChildText(NSRSM, "count"); c != "12" {
		t.Errorf("count %q, want 12", c)
	}
	last := f.Child(NSRSM, "set").ChildText(NSRSM, "last")
	f = check("page2", "<set xmlns='http://jabber.org/protocol/rsm'><max>10</max><after>"+last+"</after></set>", strings.Join(bs[5:], ","))
	if f.Attr("complete") != "true" {
		t.Errorf("the last page is not complete: %s", f)
	}
	check("lastpage", "<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before/></set>", strings.Join(bs[9:], ","))
	check("before", "<set xmlns='http://jabber.org/protocol/rsm'><max>3</max><before>"+ids[9]+"</before></set>", strings.Join(bs[6:9], ","))
	check("index", "<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><index>4</index></set>", strings.Join(bs[4:6], ","))
	check("flip", "<set xmlns='http://jabber.org/protocol/rsm'><max>3</max></set><flip-page/>", bs[2]+","+bs[1]+","+bs[0])
	stampOf := func(m *xml.Element) string {
		return m.Child(NS, "result").Child(NSForward, "forwarded").Child(NSDelay, "delay").Attr("stamp")
	}
	var since, until []string // what start and end at the 4th entry's stamp keep
	for i, m := range all {
		if stampOf(m) >= stampOf(all[3]) {
			since = append(since, bs[i])
		}
		if stampOf(m) <= stampOf(all[3]) {
			until = append(until, bs[i])
		}
	}
	check("start", form("start", stampOf(all[3])), strings.Join(since, ","))
	check("end", form("end", stampOf(all[3])), strings.Join(until, ","))
	for _, c := range []struct{ id, inner, cond string }{
		{"unknown-id", form("after-id", "zzz"), "item-not-found"},
		{"unknown-rsm", "<set xmlns='http://jabber.org/protocol/rsm'><after>0000000000000</after></set>", "item-not-found"},
		{"field", form("{urn:example}search", "x"), "feature-not-implemented"},
		{"formtype", "<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x>", "bad-request"},
		{"badtime", form("start", "yesterday"), "bad-request"},
		{"badjid", form("with", "@@"), "jid-malformed"},
		{"badmax", "<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>", "bad-request"},
	} {
		fin, _ := query(t, alice, c.id, c.inner)
		if fin.Attr("type") != "error" || moduletest.ErrorCondition(fin) != c.cond {
			t.Errorf("%s: %s; want %s", c.id, fin, c.cond)
		}
	}
}

// TestPrefs: never for a JID keeps its messages out; default never keeps
// all out but always-JIDs; the preferences are read back.
func TestPrefs(t *testing.T) {
	_, alice, bob := setup(t)
	bob.Send("<iq type='set' id='p1'><prefs xmlns='urn:xmpp:mam:2' default='always'><always/><never><jid>alice@example.org</jid></never></prefs></iq>")
	if r, _ := await(t, bob, "p1"); r.Attr("type") != "result" || r.Child(NS, "prefs") == nil {
		t.Fatalf("prefs set: %s", r)
	}
	alice.Send("<message to='bob@example.org' type='chat'><body>not kept</body></message>")
	messages(t, bob, 1)
	if _, res := query(t, bob, "q1", ""); len(res) != 0 {
		t.Errorf("a message with a never-JID was archived: %v", res)
	}
	bob.Send("<iq type='get' id='p2'><prefs xmlns='urn:xmpp:mam:2'/></iq>")
	r, _ := await(t, bob, "p2")
	if p := r.Child(NS, "prefs"); p == nil || p.Attr("default") != "always" || !strings.Contains(r.String(), "alice@example.org") {
		t.Errorf("prefs get: %s", r)
	}
	bob.Send("<iq type='set' id='p3'><prefs xmlns='urn:xmpp:mam:2' default='sometimes'/></iq>")
	if r, _ := await(t, bob, "p3"); r.Attr("type") != "error" {
		t.Errorf("prefs with a bad default: %s", r)
	}
}

// TestMetadata: the first and last entries of the archive; empty for an
// empty archive.
func TestMetadata(t *testing.T) {
	_, alice, bob := setup(t)
	bob.Send("<iq type='get' id='m0'><metadata xmlns='urn:xmpp:mam:2'/></iq>")
	if r, _ := await(t, bob, "m0"); r.Child(NS, "metadata") == nil || len(r.Child(NS, "metadata").Elements()) != 0 {
		t.Errorf("metadata of an empty archive: %s", r)
	}
	alice.Send("<message to='bob@example.org' type='chat'><body>1</body></message>")
	alice.Send("<message to='bob@example.org' type='chat'><body>2</body></message>")
	got := messages(t, bob, 2)
	bob.Send("<iq type='get' id='m1'><metadata xmlns='urn:xmpp:mam:2'/></iq>")
	r, _ := await(t, bob, "m1")
	md := r.Child(NS, "metadata")
	if md == nil || md.Child(NS, "start").Attr("id") != got[0].Child(NSSID, "stanza-id").Attr("id") ||
		md.Child(NS, "end").Attr("id") != got[1].Child(NSSID, "stanza-id").Attr("id") {
		t.Errorf("metadata: %s", r)
	}
}
