package presence_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice = "alice@example.org"
	bob   = "bob@example.org"
	carol = "carol@example.org"
	romeo = "romeo@remote.example"
)

func mods() []module.Module { return []module.Module{roster.Module{}, presence.Module{}} }

// sub stores contact in owner's roster with a subscription (the roster
// module's own tests cover how it gets there).
func sub(t *testing.T, h *mt.Harness, owner, contact, subscription string) {
	t.Helper()
	if _, err := h.Store.Roster().PutItem(context.Background(), owner, storage.RosterItem{Contact: contact, Subscription: subscription}, 0); err != nil {
		t.Fatal(err)
	}
}

// friends subscribes a and b to each other.
func friends(t *testing.T, h *mt.Harness, a, b string) {
	sub(t, h, a, b, storage.SubBoth)
	sub(t, h, b, a, storage.SubBoth)
}

// presences renders presence stanzas as "type from -> to" ("available" for none).
func presences(els []*xml.Element) []string {
	var out []string
	for _, p := range mt.Filter(els, "presence") {
		typ := p.Attr("type")
		if typ == "" {
			typ = "available"
		}
		out = append(out, typ+" "+p.Attr("from")+" -> "+p.Attr("to"))
	}
	return out
}

func has(list []string, want string) bool {
	for _, s := range list {
		if s == want {
			return true
		}
	}
	return false
}

func TestPresence(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob", "carol"}, mods, []mt.Rule{
		{Name: "initial-broadcast", Rule: "RFC 6121 §4.2.2: initial presence goes to subscribers and to the user's other available resources, which send theirs back, and to the resource itself",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				b, one := h.Online("bob", "pc"), h.Online("alice", "one")
				b.Take()
				one.Take()
				two := h.Online("alice", "two")
				if ps := presences(b.Take()); !has(ps, "available "+alice+"/two -> "+bob) {
					t.Errorf("bob got %v; want alice/two's presence", ps)
				}
				if ps := presences(one.Take()); !has(ps, "available "+alice+"/two -> "+alice+"/one") {
					t.Errorf("alice/one got %v; want alice/two's presence", ps)
				}
				ps := presences(two.Take())
				for _, want := range []string{"available " + alice + "/one -> " + alice + "/two", "available " + alice + "/two -> " + alice + "/two"} {
					if !has(ps, want) {
						t.Errorf("alice/two got %v; want %s", ps, want)
					}
				}
			}},
		{Name: "broadcast-to-from-and-both-only", Rule: "RFC 6121 §4.2.2: presence goes to contacts with subscription from or both, local or remote, never to one the user is only subscribed to",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				sub(t, h, alice, bob, storage.SubFrom)
				sub(t, h, alice, carol, storage.SubTo)
				sub(t, h, alice, romeo, storage.SubBoth)
				b, c := h.Online("bob", "pc"), h.Online("carol", "pc")
				b.Take()
				c.Take()
				h.Online("alice", "phone")
				if ps := presences(b.Take()); !has(ps, "available "+alice+"/phone -> "+bob) {
					t.Errorf("bob (from) got %v; want alice's presence", ps)
				}
				if ps := presences(c.Take()); has(ps, "available "+alice+"/phone -> "+carol) {
					t.Errorf("carol (to only) got alice's presence: %v", ps)
				}
				if ps := presences(fed.Take()); !has(ps, "available "+alice+"/phone -> "+romeo) {
					t.Errorf("federation got %v; want alice's presence for romeo", ps)
				}
			}},
		{Name: "probes-at-initial-presence", Rule: "RFC 6121 §4.2.2, §4.3.1: at initial presence the server probes the contacts the user is subscribed to (from the bare JID) and delivers their presence",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				sub(t, h, alice, bob, storage.SubTo)
				sub(t, h, bob, alice, storage.SubFrom)
				sub(t, h, alice, romeo, storage.SubTo)
				sub(t, h, alice, carol, storage.SubFrom)
				b := h.Online("bob", "pc")
				b.Send("<presence><show>away</show></presence>")
				a := h.Online("alice", "phone")
				got := mt.Filter(a.Take(), "presence", "from", b.JID.String())
				if len(got) != 1 || got[0].ChildText("", "show") != "away" {
					t.Errorf("alice got %v from bob; want his current presence (show away)", got)
				}
				ps := presences(fed.Take())
				if !has(ps, "probe "+alice+" -> "+romeo) {
					t.Errorf("federation got %v; want a probe from %s to %s", ps, alice, romeo)
				}
				a.Send("<presence><show>dnd</show></presence>")
				if ps := presences(fed.Take()); len(ps) != 0 {
					t.Errorf("a later presence sent %v to romeo (to only); want no probe again, no presence", ps)
				}
			}},
		{Name: "probe-answer-offline", Rule: "RFC 6121 §4.3.2, XEP-0203: a probe for a contact with no available resource is answered with unavailable from the bare JID, its last status, and a delay stamp",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				b := h.Online("bob", "pc")
				b.Send("<presence type='unavailable'><status>gone fishing</status></presence>")
				b.Logout()
				got := mt.Filter(h.Online("alice", "phone").Take(), "presence", "from", bob, "type", "unavailable")
				if len(got) != 1 || got[0].ChildText("", "status") != "gone fishing" {
					t.Fatalf("alice got %v; want unavailable from %s with status 'gone fishing'", got, bob)
				}
				d := got[0].Child("urn:xmpp:delay", "delay")
				if d == nil {
					t.Fatalf("%s has no delay", got[0])
				}
				if at, err := time.Parse(time.RFC3339, d.Attr("stamp")); err != nil || time.Since(at) > time.Minute {
					t.Errorf("delay stamp %q (%v); want the time of the logout", d.Attr("stamp"), err)
				}
			}},
		{Name: "probe-not-entitled", Rule: "RFC 6121 §4.3.2: a probe from an entity not subscribed to the user reveals nothing and is answered unsubscribed",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				h.Online("alice", "phone")
				fed.Take()
				h.FromRemote("<presence type='probe' from='" + romeo + "/r' to='" + alice + "'/>")
				if ps := presences(fed.Take()); strings.Join(ps, ",") != "unsubscribed "+alice+" -> "+romeo {
					t.Errorf("federation got %v; want only unsubscribed from %s", ps, alice)
				}
			}},
		{Name: "probe-entitled", Rule: "RFC 6121 §4.3.2: a probe from a subscriber is answered with the current presence of each available resource, to the prober's full JID",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				sub(t, h, alice, romeo, storage.SubFrom)
				a := h.Online("alice", "phone")
				a.Send("<presence><status>here</status></presence>")
				fed.Take()
				h.FromRemote("<presence type='probe' from='" + romeo + "/r' to='" + alice + "'/>")
				got := fed.Take()
				if len(got) != 1 || got[0].Attr("from") != a.JID.String() || got[0].Attr("to") != romeo+"/r" || got[0].ChildText("", "status") != "here" {
					t.Errorf("federation got %v; want alice/phone's presence (status here) to romeo/r", got)
				}
			}},
		{Name: "subsequent-broadcast", Rule: "RFC 6121 §4.4.2: a presence update goes to subscribers and the user's other resources, without probing again",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				b, a, two := h.Online("bob", "pc"), h.Online("alice", "phone"), h.Online("alice", "two")
				b.Take()
				a.Take()
				two.Take()
				a.Send("<presence><show>away</show></presence>")
				for _, s := range []*mt.Session{b, two} {
					got := mt.Filter(s.Take(), "presence", "from", a.JID.String())
					if len(got) != 1 || got[0].ChildText("", "show") != "away" {
						t.Errorf("%s got %v; want the update", s.JID, got)
					}
				}
				if got := mt.Filter(a.Take(), "presence", "from", b.JID.String()); len(got) != 0 {
					t.Errorf("an update probed again: alice got %v", got)
				}
			}},
		{Name: "unavailable-broadcast", Rule: "RFC 6121 §4.5.2: unavailable, with its status, goes to subscribers and the user's other available resources",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				b, a, two := h.Online("bob", "pc"), h.Online("alice", "phone"), h.Online("alice", "two")
				b.Take()
				two.Take()
				a.Send("<presence type='unavailable'><status>bye</status></presence>")
				for _, s := range []*mt.Session{b, two} {
					got := mt.Filter(s.Take(), "presence", "from", a.JID.String(), "type", "unavailable")
					if len(got) != 1 || got[0].ChildText("", "status") != "bye" {
						t.Errorf("%s got %v; want unavailable with status bye", s.JID, got)
					}
				}
			}},
		{Name: "session-end", Rule: "RFC 6121 §4.5.2, §4.6.3: a session that ends without unavailable is broadcast unavailable for",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				b, a := h.Online("bob", "pc"), h.Online("alice", "phone")
				b.Take()
				a.Logout()
				if ps := presences(b.Take()); strings.Join(ps, ",") != "unavailable "+a.JID.String()+" -> "+bob {
					t.Errorf("bob got %v; want one unavailable from alice/phone", ps)
				}
			}},
		{Name: "directed-then-end", Rule: "RFC 6121 §4.6.3: an entity the user sent directed presence to, local or remote, gets the resource's unavailable at its end",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				c, a := h.Online("carol", "pc"), h.Online("alice", "phone")
				c.Take()
				a.Send("<presence to='" + carol + "/pc'><status>hi stranger</status></presence>")
				a.Send("<presence to='" + romeo + "/r'/>")
				if got := mt.Filter(c.Take(), "presence", "from", a.JID.String()); len(got) != 1 || got[0].ChildText("", "status") != "hi stranger" {
					t.Errorf("carol got %v; want the directed presence", got)
				}
				fed.Take()
				a.Logout()
				if ps := presences(c.Take()); strings.Join(ps, ",") != "unavailable "+a.JID.String()+" -> "+carol+"/pc" {
					t.Errorf("carol got %v at alice's end; want unavailable", ps)
				}
				if ps := presences(fed.Take()); strings.Join(ps, ",") != "unavailable "+a.JID.String()+" -> "+romeo+"/r" {
					t.Errorf("federation got %v at alice's end; want unavailable for romeo/r", ps)
				}
			}},
		{Name: "directed-unavailable", Rule: "RFC 6121 §4.6.3: after directed unavailable the entity is forgotten: the session's end sends it nothing more",
			Run: func(t *testing.T, h *mt.Harness) {
				c, a := h.Online("carol", "pc"), h.Online("alice", "phone")
				a.Send("<presence to='" + carol + "/pc'/>")
				a.Send("<presence type='unavailable' to='" + carol + "/pc'/>")
				c.Take()
				a.Logout()
				if got := c.Take(); len(got) != 0 {
					t.Errorf("carol got %v after a directed unavailable; want nothing", got)
				}
			}},
		{Name: "inbound-to-available", Rule: "RFC 6121 §4.2.3, §8.5.2.1.1: presence to the bare JID reaches every available resource, not one that sent no presence",
			Run: func(t *testing.T, h *mt.Harness) {
				sub(t, h, alice, romeo, storage.SubTo)
				quiet, on, on2 := h.Login("alice", "quiet"), h.Online("alice", "on"), h.Online("alice", "on2")
				on.Take()
				on2.Take()
				h.FromRemote("<presence from='" + romeo + "/r' to='" + alice + "'/>")
				for _, s := range []*mt.Session{on, on2} {
					if got := mt.Filter(s.Take(), "presence", "from", romeo+"/r"); len(got) != 1 {
						t.Errorf("%s got %v; want romeo's presence", s.JID, got)
					}
				}
				if got := quiet.Take(); len(got) != 0 {
					t.Errorf("a resource that sent no presence got %v", got)
				}
			}},
		{Name: "bare-message-by-priority", Rule: "RFC 6121 §8.5.2.1.1, §4.7.2.3: a message to the bare JID goes to the highest non-negative priority, never to a negative one",
			Run: func(t *testing.T, h *mt.Harness) {
				c := h.Online("carol", "pc")
				hi, lo, neg := h.Login("alice", "hi"), h.Login("alice", "lo"), h.Login("alice", "neg")
				hi.Send("<presence><priority>5</priority></presence>")
				lo.Send("<presence><priority>1</priority></presence>")
				neg.Send("<presence><priority>-1</priority></presence>")
				hi.Take()
				lo.Take()
				neg.Take()
				c.Send("<message type='chat' to='" + alice + "'><body>prio</body></message>")
				for s, want := range map[*mt.Session]int{hi: 1, lo: 0, neg: 0} {
					if got := mt.Filter(s.Take(), "message"); len(got) != want {
						t.Errorf("%s got %d messages; want %d", s.JID, len(got), want)
					}
				}
			}},
		{Name: "absent-full-jid-to-bare", Rule: "RFC 6121 §8.5.3.2.1: a chat or normal message to a full JID with no such resource is treated as sent to the bare JID; a headline is dropped",
			Run: func(t *testing.T, h *mt.Harness) {
				c, a := h.Online("carol", "pc"), h.Online("alice", "here")
				a.Take()
				c.Take()
				c.Send("<message type='chat' to='" + alice + "/gone'><body>redirected</body></message>")
				c.Send("<message to='" + alice + "/gone'><body>normal</body></message>")
				c.Send("<message type='headline' to='" + alice + "/gone'><body>news</body></message>")
				var got []string
				for _, m := range mt.Filter(a.Take(), "message") {
					got = append(got, m.ChildText("", "body"))
				}
				if strings.Join(got, ",") != "redirected,normal" {
					t.Errorf("alice/here got %v; want the chat and the normal message", got)
				}
				if got := c.Take(); len(got) != 0 {
					t.Errorf("the sender got %v", got)
				}
			}},
	})
}

// RFC 6121 §4.7.2.3: priority is an integer from -128 to 127; otherwise the
// presence is refused with bad-request and not broadcast.
func TestPriority(t *testing.T) {
	h := mt.New(t, []string{"alice", "bob"}, mods()...)
	friends(t, h, alice, bob)
	b := h.Online("bob", "pc")
	for _, tc := range []struct {
		prio string
		ok   bool
	}{{"127", true}, {"-128", true}, {" 7 ", true}, {"128", false}, {"-129", false}, {"high", false}, {"1.5", false}} {
		a := h.Login("alice", "p"+tc.prio)
		b.Take()
		a.Send("<presence id='p'><priority>" + tc.prio + "</priority></presence>")
		errs := mt.Filter(a.Take(), "presence", "type", "error")
		bcast := mt.Filter(b.Take(), "presence", "from", a.JID.String())
		switch {
		case tc.ok && (len(errs) != 0 || len(bcast) != 1):
			t.Errorf("priority %q: errors %v, broadcast %v; want accepted and broadcast", tc.prio, errs, bcast)
		case !tc.ok && (len(errs) != 1 || mt.ErrorCondition(errs[0]) != "bad-request" || len(bcast) != 0):
			t.Errorf("priority %q: errors %v, broadcast %v; want bad-request, nothing broadcast", tc.prio, errs, bcast)
		}
	}
}
