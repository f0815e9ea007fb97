package mam

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// FuzzQuery: a MAM query of any content (forms with bad fields, dates and
// ids, absurd RSM limits, unknown elements), on one's own archive or on
// another user's: an iq result or error per XEP-0313 every time, never
// more results than a page holds, every stanza sent well-formed, and the
// archive as it was.
func FuzzQuery(f *testing.F) {
	for _, s := range []string{
		"",
		form("with", "bob@example.org"),
		form("with", "@@"),
		form("start", "2010-01-01T00:00:00Z", "end", "1999-01-01T00:00:00Z"),
		form("start", "not a date"),
		form("end", "9999-12-31T23:59:59.999999999Z"),
		form("before-id", "AAAA", "after-id", "zz"),
		form("ids", "x"),
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:2</value></field><field var='ids'>" + strings.Repeat("<value>AAAAAAAAAAA</value>", 300) + "</field></x>",
		"<x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:xmpp:mam:1</value></field></x>",
		"<x xmlns='jabber:x:data' type='form'/><x xmlns='jabber:x:data' type='submit'/>",
		"<set xmlns='http://jabber.org/protocol/rsm'><max>-1</max></set>",
		"<set xmlns='http://jabber.org/protocol/rsm'><max>99999999999999999999</max><index>-3</index></set>",
		"<set xmlns='http://jabber.org/protocol/rsm'><max>2</max><before/></set>",
		"<set xmlns='http://jabber.org/protocol/rsm'><max>0</max></set>",
		"<set xmlns='http://jabber.org/protocol/rsm'><after>nonexistent</after><before>x</before></set>",
		"<set xmlns='http://jabber.org/protocol/rsm'><index>2</index><max>1</max></set>",
		"<flip-page/><set xmlns='http://jabber.org/protocol/rsm'><max>2</max></set>",
		"<set xmlns='http://jabber.org/protocol/rsm'/><set xmlns='http://jabber.org/protocol/rsm'><max>1</max></set>",
	} {
		for _, other := range []bool{false, true} {
			f.Add(s, other, false)
		}
		f.Add(s, false, true)
	}
	f.Fuzz(func(t *testing.T, in string, other, get bool) {
		if _, err := xml.Parse([]byte("<r>" + in + "</r>")); err != nil {
			return
		}
		_, alice, bob := setup(t)
		for i := range 5 {
			alice.Send(fmt.Sprintf("<message to='bob@example.org' type='chat' id='m%d'><body>hello %d</body></message>", i, i))
		}
		messages(t, bob, 5)
		to, typ := "", "set"
		if other {
			to = " to='bob@example.org'"
		}
		if get {
			typ = "get"
		}
		alice.Send("<iq type='" + typ + "' id='fz'" + to + "><query xmlns='urn:xmpp:mam:2' queryid='q'>" + in + "</query></iq>")
		reply, results := await(t, alice, "fz")
		switch reply.Attr("type") {
		case "error":
			if reply.Child("", "error") == nil {
				t.Fatalf("an error reply without an error: %s", reply)
			}
		case "result":
			if other {
				t.Fatalf("a query of bob's archive answered for alice: %s", reply)
			}
		default:
			t.Fatalf("reply: %s", reply)
		}
		if len(results) > 250 {
			t.Fatalf("%d results for one page", len(results))
		}
		for _, el := range append(results, reply) {
			b := xml.Append(nil, el, "")
			if _, err := xml.Parse(b); err != nil {
				t.Fatalf("malformed XML sent: %v: %s", err, b)
			}
		}
		if !other && reply.Attr("type") == "result" {
			for _, r := range results {
				if r.Child(NS, "result") != nil && r.Child(NS, "result").Attr("queryid") != "q" {
					t.Fatalf("a result of another query: %s", r)
				}
			}
		}
		_, results = query(t, alice, "check", "")
		if bs, _ := bodies(t, results, "q-check"); strings.Join(bs, ",") != "hello 0,hello 1,hello 2,hello 3,hello 4" {
			t.Fatalf("alice's archive after the input: %v", bs)
		}
	})
}
