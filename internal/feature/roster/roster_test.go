package roster_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Stanza-level rows: the roster module over a real router and store.
// subscription_test.go checks the state machine itself (Appendix A).

const (
	alice = "alice@example.org"
	bob   = "bob@example.org"
	carol = "carol@example.org"
)

var users = []string{"alice", "bob", "carol"}

func mods() []module.Module { return []module.Module{roster.Module{}, presence.Module{}} }

func get(ver string) string {
	if ver != "none" {
		ver = " ver='" + ver + "'"
	} else {
		ver = ""
	}
	return "<iq type='get' id='get'><query xmlns='jabber:iq:roster'" + ver + "/></iq>"
}

func set(item string) string {
	return "<iq type='set' id='set'><query xmlns='jabber:iq:roster'>" + item + "</query></iq>"
}

// items returns the roster as the session gets it, by contact.
func items(t *testing.T, s *mt.Session) map[string]*xml.Element {
	t.Helper()
	r := s.Reply(get("none"))
	q := r.Child(roster.NS, "query")
	if r.Attr("type") != "result" || q == nil {
		t.Fatalf("roster get: %s", r)
	}
	m := map[string]*xml.Element{}
	for _, it := range q.Elements() {
		m[it.Attr("jid")] = it
	}
	return m
}

// pushes returns the items of the roster pushes in els.
func pushes(els []*xml.Element) []*xml.Element {
	var out []*xml.Element
	for _, el := range mt.Filter(els, "iq", "type", "set") {
		if q := el.Child(roster.NS, "query"); q != nil && q.FirstElement() != nil {
			out = append(out, q.FirstElement())
		}
	}
	return out
}

// pushFor returns the last push item for contact, or nil.
func pushFor(els []*xml.Element, contact string) *xml.Element {
	var last *xml.Element
	for _, it := range pushes(els) {
		if it.Attr("jid") == contact {
			last = it
		}
	}
	return last
}

func ok(t *testing.T, what string, r *xml.Element) {
	t.Helper()
	if r.Attr("type") != "result" {
		t.Fatalf("%s: got %s; want a result", what, r)
	}
}

// befriend makes a and b subscribed both ways, as clients do it.
func befriend(t *testing.T, a, b *mt.Session) {
	t.Helper()
	ab, bb := a.JID.Bare().String(), b.JID.Bare().String()
	a.Send("<presence type='subscribe' to='" + bb + "'/>")
	b.Send("<presence type='subscribed' to='" + ab + "'/>")
	b.Send("<presence type='subscribe' to='" + ab + "'/>")
	a.Send("<presence type='subscribed' to='" + bb + "'/>")
	if s := items(t, a)[bb].Attr("subscription"); s != "both" {
		t.Fatalf("befriend: %s has %s as %q; want both", ab, bb, s)
	}
	a.Take()
	b.Take()
}

func TestRoster(t *testing.T) {
	mt.Rules(t, users, mods, []mt.Rule{
		{Name: "get-empty", Rule: "RFC 6121 §2.1.3, §2.1.4, §2.6.3: a roster get of a new account is a result with an empty <query/> carrying a 'ver'",
			Run: func(t *testing.T, h *mt.Harness) {
				r := h.Login("alice", "phone").Reply(get("none"))
				q := r.Child(roster.NS, "query")
				if r.Attr("type") != "result" || q == nil || len(q.Elements()) != 0 || !q.HasAttr("ver") {
					t.Errorf("roster get: got %s; want an empty query with 'ver'", r)
				}
			}},
		{Name: "set-pushes-to-interested", Rule: "RFC 6121 §2.3.2, §2.1.6, §2.2: a roster set is answered with a result and pushed to every interested resource, the sender included, and to no other",
			Run: func(t *testing.T, h *mt.Harness) {
				phone, laptop, tablet := h.Login("alice", "phone"), h.Login("alice", "laptop"), h.Login("alice", "tablet")
				phone.Reply(get("none"))
				laptop.Reply(get("none"))
				ok(t, "roster set", phone.Reply(set("<item jid='"+bob+"' name='Bob'><group>Friends</group></item>")))
				for _, s := range []*mt.Session{phone, laptop} {
					got := s.Take()
					p := mt.Filter(got, "iq", "type", "set", "to", s.JID.String())
					if len(p) != 1 || p[0].Attr("id") == "" || p[0].Child(roster.NS, "query").Attr("ver") == "" {
						t.Fatalf("%s got %v; want one push with an id and a 'ver'", s.JID, got)
					}
					it := pushes(p)[0]
					if it.Attr("jid") != bob || it.Attr("name") != "Bob" || it.Attr("subscription") != "none" || it.ChildText("", "group") != "Friends" {
						t.Errorf("%s: pushed %s; want bob, name Bob, subscription none, group Friends", s.JID, it)
					}
				}
				if got := pushes(tablet.Take()); len(got) != 0 {
					t.Errorf("a resource that never asked for the roster got pushes %v", got)
				}
			}},
		{Name: "set-ignores-subscription-and-ask", Rule: "RFC 6121 §2.1.2.1, §2.1.2.2, §2.1.2.5: 'approved', 'ask' and 'subscription' (other than remove) in a roster set are ignored",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				a.Reply(get("none"))
				ok(t, "roster set", a.Reply(set("<item jid='"+bob+"' subscription='both' ask='subscribe' approved='true'/>")))
				it := pushFor(a.Take(), bob)
				if it == nil || it.Attr("subscription") != "none" || it.HasAttr("ask") || it.HasAttr("approved") {
					t.Errorf("pushed %s; want subscription none, no ask, no approved", it)
				}
			}},
		{Name: "update-keeps-subscription", Rule: "RFC 6121 §2.4.2: updating an item's name and groups pushes the new item with its subscription unchanged",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				befriend(t, a, b)
				ok(t, "update", a.Reply(set("<item jid='"+bob+"' name='Robert'><group>Work</group><group>Chess</group></item>")))
				it := pushFor(a.Take(), bob)
				var groups []string
				for _, g := range it.Elements() {
					groups = append(groups, g.Text())
				}
				if it.Attr("name") != "Robert" || it.Attr("subscription") != "both" || strings.Join(groups, ",") != "Chess,Work" {
					t.Errorf("pushed %s; want name Robert, subscription both, groups Chess and Work", it)
				}
			}},
		{Name: "remove-absent", Rule: "RFC 6121 §2.5.3: removing an item that is not in the roster is item-not-found",
			Run: func(t *testing.T, h *mt.Harness) {
				r := h.Login("alice", "phone").Reply(set("<item jid='" + bob + "' subscription='remove'/>"))
				if c := mt.ErrorCondition(r); c != "item-not-found" {
					t.Errorf("got %s; want item-not-found", r)
				}
			}},
		{Name: "remove-cancels-both-ways", Rule: "RFC 6121 §2.5.2: removing a 'both' contact sends it unavailable, unsubscribe and unsubscribed, pushes subscription='remove', and the contact's item falls to none",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				b.Reply(get("none"))
				befriend(t, a, b)
				ok(t, "remove", a.Reply(set("<item jid='"+bob+"' subscription='remove'/>")))
				if it := pushFor(a.Take(), bob); it == nil || it.Attr("subscription") != "remove" {
					t.Errorf("alice's push %s; want subscription='remove'", it)
				}
				var seq []string
				got := b.Take()
				for _, p := range mt.Filter(got, "presence") {
					seq = append(seq, p.Attr("type")+" from "+p.Attr("from"))
				}
				want := "unavailable from " + a.JID.String() + ",unsubscribe from " + alice + ",unsubscribed from " + alice
				if strings.Join(seq, ",") != want {
					t.Errorf("bob got presence %v; want %s (in that order)", seq, want)
				}
				if it := pushFor(got, alice); it == nil || it.Attr("subscription") != "none" || it.HasAttr("ask") {
					t.Errorf("bob's push %s; want alice at subscription none", it)
				}
				if len(items(t, a)) != 0 {
					t.Errorf("alice's roster is not empty after the removal")
				}
			}},
		{Name: "remove-denies-pending-request", Rule: "RFC 6121 §2.5.2, §3.2.2: removing a contact whose request is pending (no item) denies it with unsubscribed",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				b.Send("<presence type='subscribe' to='" + alice + "'/>")
				a.Take()
				ok(t, "remove", a.Reply(set("<item jid='"+bob+"' subscription='remove'/>")))
				if got := mt.Filter(b.Take(), "presence", "type", "unsubscribed", "from", alice); len(got) != 1 {
					t.Errorf("bob got no unsubscribed from alice")
				}
				if it := items(t, b)[alice]; it == nil || it.HasAttr("ask") || it.Attr("subscription") != "none" {
					t.Errorf("bob's item for alice %s; want none without ask", it)
				}
			}},
		{Name: "versioning", Rule: "RFC 6121 §2.6.3: a push carries a new 'ver'; a get with the current ver is an empty result, with an older one the whole roster at the current ver",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				v1 := a.Reply(get("")).Child(roster.NS, "query").Attr("ver")
				ok(t, "set", a.Reply(set("<item jid='"+bob+"'/>")))
				push := mt.Filter(a.Take(), "iq", "type", "set")
				if len(push) != 1 {
					t.Fatalf("got %d pushes; want 1", len(push))
				}
				v2 := push[0].Child(roster.NS, "query").Attr("ver")
				if v2 == "" || v2 == v1 {
					t.Fatalf("push ver %q after %q; want a new one", v2, v1)
				}
				if r := a.Reply(get(v2)); r.Attr("type") != "result" || r.FirstElement() != nil {
					t.Errorf("get with the current ver: got %s; want an empty result", r)
				}
				q := a.Reply(get(v1)).Child(roster.NS, "query")
				if q == nil || q.Attr("ver") != v2 || len(q.Elements()) != 1 {
					t.Errorf("get with an old ver: got %s; want one item at ver %q", q, v2)
				}
			}},
	})
}

// RFC 6121 §2.3.3 and the limits tern sets: a refused set changes nothing.
func TestRosterSetErrors(t *testing.T) {
	h := mt.New(t, users, mods()...)
	a := h.Login("alice", "phone")
	long := strings.Repeat("x", 1025)
	var many strings.Builder
	for i := range 65 {
		many.WriteString("<group>g" + string(rune('A'+i%26)) + strings.Repeat("x", i) + "</group>")
	}
	for _, tc := range []struct{ rule, item, cond string }{
		{"§2.3.3: more than one item is bad-request", "<item jid='" + bob + "'/><item jid='" + carol + "'/>", "bad-request"},
		{"§2.3.3: a duplicate group is bad-request", "<item jid='" + bob + "'><group>G</group><group>G</group></item>", "bad-request"},
		{"§2.3.3: an empty group is not-acceptable", "<item jid='" + bob + "'><group></group></item>", "not-acceptable"},
		{"§2.3.3: a name over the server's limit (1024 bytes) is not-acceptable", "<item jid='" + bob + "' name='" + long + "'/>", "not-acceptable"},
		{"§2.3.3: a group over the server's limit (1024 bytes) is not-acceptable", "<item jid='" + bob + "'><group>" + long + "</group></item>", "not-acceptable"},
		{"tern: more than 64 groups is not-acceptable", "<item jid='" + bob + "'>" + many.String() + "</item>", "not-acceptable"},
		{"§2.3.3: the user's own JID is not allowed", "<item jid='" + alice + "'/>", "not-allowed"},
		{"RFC 6120 §8.3.3.8: a malformed item JID is jid-malformed", "<item jid='@@'/>", "jid-malformed"},
		{"§2.1.5: a set without an item is bad-request", "", "bad-request"},
	} {
		if r := a.Reply(set(tc.item)); mt.ErrorCondition(r) != tc.cond {
			t.Errorf("RFC 6121 %s: got %s", tc.rule, r)
		}
	}
	if n := len(items(t, a)); n != 0 {
		t.Errorf("refused sets left %d items", n)
	}
}

// limits.roster_max_items bounds what the user adds (not-allowed), never
// what a contact's subscription creates: the contact acted, and refusing
// would leave the two servers disagreeing.
func TestRosterQuota(t *testing.T) {
	h := mt.New(t, users, roster.Module{MaxItems: 1}, presence.Module{})
	a, c := h.Online("alice", "phone"), h.Online("carol", "pc")
	ok(t, "first item", a.Reply(set("<item jid='"+bob+"'/>")))
	if r := a.Reply(set("<item jid='" + carol + "'/>")); mt.ErrorCondition(r) != "not-allowed" {
		t.Errorf("second item over a quota of 1: got %s; want not-allowed", r)
	}
	c.Send("<presence type='subscribe' to='" + alice + "'/>")
	a.Send("<presence type='subscribed' to='" + carol + "'/>")
	if it := items(t, a)[carol]; it == nil || it.Attr("subscription") != "from" {
		t.Errorf("approving carol over the quota: item %s; want subscription from", it)
	}
	n, _, err := h.Store.Roster().Items(context.Background(), alice)
	if err != nil || len(n) != 2 {
		t.Errorf("stored items %v, %v; want bob and carol", n, err)
	}
}
