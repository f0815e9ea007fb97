package blocking_test

import (
	"context"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/blocking"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice = "alice@example.org"
	bob   = "bob@example.org"
	carol = "carol@example.org"
	romeo = "romeo@remote.example"
)

func mods() []module.Module {
	return []module.Module{roster.Module{}, presence.Module{}, blocking.Module{}}
}

func cmd(op string, jids ...string) string {
	s := "<iq type='set' id='" + op + "'><" + op + " xmlns='urn:xmpp:blocking'>"
	for _, j := range jids {
		s += "<item jid='" + j + "'/>"
	}
	return s + "</" + op + "></iq>"
}

const getList = "<iq type='get' id='l'><blocklist xmlns='urn:xmpp:blocking'/></iq>"

func list(t *testing.T, s *mt.Session) string {
	t.Helper()
	l := s.Reply(getList).Child(blocking.NS, "blocklist")
	if l == nil {
		t.Fatal("no <blocklist/> in the result")
	}
	var out []string
	for _, it := range l.Elements() {
		out = append(out, it.Attr("jid"))
	}
	return strings.Join(out, ",")
}

func ok(t *testing.T, s *mt.Session, iq string) {
	t.Helper()
	if r := s.Reply(iq); r.Attr("type") != "result" {
		t.Fatalf("%s: %s", iq, r)
	}
}

// pushed renders the block pushes in els as "op:jid,jid".
func pushed(els []*xml.Element) []string {
	var out []string
	for _, iq := range mt.Filter(els, "iq", "type", "set") {
		p := iq.FirstElement()
		if p == nil || p.Space != blocking.NS {
			continue
		}
		var js []string
		for _, it := range p.Elements() {
			js = append(js, it.Attr("jid"))
		}
		out = append(out, p.Name+":"+strings.Join(js, ","))
	}
	return out
}

func friends(t *testing.T, h *mt.Harness, a, b string) {
	t.Helper()
	for _, p := range [][2]string{{a, b}, {b, a}} {
		if _, err := h.Store.Roster().PutItem(context.Background(), p[0], storage.RosterItem{Contact: p[1], Subscription: storage.SubBoth}, 0); err != nil {
			t.Fatal(err)
		}
	}
}

func TestBlocking(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob", "carol"}, mods, []mt.Rule{
		{Name: "list-empty", Rule: "XEP-0191 §3.2: with nothing blocked the block list is an empty <blocklist/>",
			Run: func(t *testing.T, h *mt.Harness) {
				if l := list(t, h.Login("alice", "phone")); l != "" {
					t.Errorf("block list %q; want empty", l)
				}
			}},
		{Name: "block-unblock-pushes", Rule: "XEP-0191 §3.3, §3.4, §3.5: block, unblock and unblock all change the list and are pushed to every resource that retrieved it, and no other",
			Run: func(t *testing.T, h *mt.Harness) {
				one, two, never := h.Login("alice", "one"), h.Login("alice", "two"), h.Login("alice", "never")
				list(t, one)
				list(t, two)
				ok(t, one, cmd("block", bob, carol))
				if l := list(t, one); l != bob+","+carol {
					t.Errorf("after block: %q", l)
				}
				ok(t, one, cmd("unblock", bob))
				if l := list(t, two); l != carol {
					t.Errorf("after unblock: %q", l)
				}
				ok(t, one, cmd("block", "remote.example"))
				ok(t, one, cmd("unblock"))
				if l := list(t, one); l != "" {
					t.Errorf("after unblock all: %q", l)
				}
				want := "block:" + bob + "," + carol + " unblock:" + bob + " block:remote.example unblock:"
				for _, s := range []*mt.Session{one, two} {
					if got := strings.Join(pushed(s.Take()), " "); got != want {
						t.Errorf("%s pushes %q; want %q", s.JID, got, want)
					}
				}
				if got := pushed(never.Take()); len(got) != 0 {
					t.Errorf("a resource that never retrieved the list got %v", got)
				}
			}},
		{Name: "bad-commands", Rule: "XEP-0191 §3.3: a block without items is bad-request; RFC 6120 §8.3.3.8: a malformed JID is jid-malformed; nothing changes",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				for iq, cond := range map[string]string{cmd("block"): "bad-request", cmd("block", bob, "@@"): "jid-malformed", cmd("unblock", "a@b@c"): "jid-malformed"} {
					if r := a.Reply(iq); mt.ErrorCondition(r) != cond {
						t.Errorf("%s: %s; want %s", iq, r, cond)
					}
				}
				if l := list(t, a); l != "" {
					t.Errorf("refused commands left %q", l)
				}
			}},
		{Name: "inbound-from-blocked", Rule: "XEP-0191 §3.3: nothing from a blocked JID is delivered: messages and iq get/set get service-unavailable, presence and iq results are dropped silently",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				ok(t, a, cmd("block", bob))
				a.Take()
				b.Take()
				b.Send("<message type='chat' id='m' to='" + a.JID.String() + "'><body>let me in</body></message>")
				b.Send("<iq type='get' id='q' to='" + a.JID.String() + "'><query xmlns='jabber:iq:version'/></iq>")
				b.Send("<iq type='result' id='r' to='" + a.JID.String() + "'/>")
				b.Send("<presence to='" + a.JID.String() + "'/>")
				b.Send("<presence type='subscribe' to='" + alice + "'/>")
				if got := a.Take(); len(got) != 0 {
					t.Errorf("alice got %v from a blocked JID", got)
				}
				var errs []string
				for _, e := range b.Take() {
					errs = append(errs, e.Name+" "+e.Attr("id")+" "+mt.ErrorCondition(e))
				}
				if got := strings.Join(errs, ","); got != "message m service-unavailable,iq q service-unavailable" {
					t.Errorf("bob got %q; want service-unavailable for the message and the iq get only", got)
				}
			}},
		{Name: "outbound-to-blocked", Rule: "XEP-0191 §3.3: a message or iq to a blocked JID is refused with not-acceptable and <blocked xmlns='urn:xmpp:blocking:errors'/>; presence to it is dropped",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				ok(t, a, cmd("block", bob))
				a.Take()
				b.Take()
				a.Send("<message type='chat' id='m' to='" + b.JID.String() + "'><body>hello?</body></message>")
				a.Send("<iq type='get' id='q' to='" + b.JID.String() + "'><query xmlns='jabber:iq:version'/></iq>")
				a.Send("<presence to='" + b.JID.String() + "'/>")
				if got := b.Take(); len(got) != 0 {
					t.Errorf("bob got %v from alice, who blocked him", got)
				}
				got := a.Take()
				for _, id := range []string{"m", "q"} {
					e := mt.Filter(got, map[string]string{"m": "message", "q": "iq"}[id], "id", id, "type", "error")
					if len(e) != 1 || mt.ErrorCondition(e[0]) != "not-acceptable" || e[0].Child("", "error").Child(blocking.NSErrors, "blocked") == nil {
						t.Errorf("reply to %s: %v; want not-acceptable with <blocked/>", id, e)
					}
				}
				if n := len(got); n != 2 {
					t.Errorf("alice got %d stanzas; want the two errors", n)
				}
			}},
		{Name: "block-ends-presence", Rule: "XEP-0191 §3.3: blocking a contact entitled to presence sends it unavailable; then no presence flows either way, probes included",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Take()
				b.Take()
				ok(t, a, cmd("block", bob))
				if got := mt.Filter(b.Take(), "presence", "type", "unavailable", "from", a.JID.String()); len(got) != 1 {
					t.Errorf("bob got no unavailable from alice")
				}
				a.Send("<presence><show>dnd</show></presence>")
				b.Send("<presence><show>xa</show></presence>")
				b2 := h.Online("bob", "two") // its probe must not be answered
				if got := mt.Filter(b.Take(), "presence", "from", a.JID.String()); len(got) != 0 {
					t.Errorf("bob got %v from alice", got)
				}
				if got := mt.Filter(b2.Take(), "presence", "from", a.JID.String()); len(got) != 0 {
					t.Errorf("bob's new resource got %v from alice", got)
				}
				for _, p := range mt.Filter(a.Take(), "presence") {
					if strings.HasPrefix(p.Attr("from"), bob) {
						t.Errorf("alice got %s from bob", p)
					}
				}
			}},
		{Name: "block-stranger-reveals-nothing", Rule: "XEP-0191 §3.3: the unavailable on blocking goes only to a contact entitled to presence: a stranger learns nothing",
			Run: func(t *testing.T, h *mt.Harness) {
				a, c := h.Online("alice", "phone"), h.Online("carol", "pc")
				c.Take()
				ok(t, a, cmd("block", carol))
				if got := c.Take(); len(got) != 0 {
					t.Errorf("carol got %v", got)
				}
			}},
		{Name: "block-directed-target", Rule: "XEP-0191 §3.3, RFC 6121 §4.6.3: an entity the user sent directed presence to sees the user leave when a block matches it, a bare or domain item covering its full JID",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				a, c := h.Online("alice", "phone"), h.Online("carol", "pc")
				a.Send("<presence to='" + carol + "/pc'/>")
				a.Send("<presence to='" + romeo + "/x'/>")
				c.Take()
				fed.Take()
				ok(t, a, cmd("block", carol, "remote.example"))
				if got := mt.Filter(c.Take(), "presence", "type", "unavailable", "from", a.JID.String()); len(got) != 1 {
					t.Errorf("carol/pc got %v; want unavailable from alice/phone", got)
				}
				if got := fed.Take(); len(got) != 1 || got[0].Attr("type") != "unavailable" || got[0].Attr("to") != romeo+"/x" {
					t.Errorf("federation got %v; want unavailable for romeo/x", got)
				}
			}},
		{Name: "unblock-sends-presence", Rule: "XEP-0191 §3.4, §3.5: unblocking sends the user's current presence to the contacts entitled to it",
			Run: func(t *testing.T, h *mt.Harness) {
				friends(t, h, alice, bob)
				friends(t, h, alice, carol)
				a, b, c := h.Online("alice", "phone"), h.Online("bob", "pc"), h.Online("carol", "pc")
				ok(t, a, cmd("block", bob, carol))
				a.Send("<presence><show>dnd</show></presence>")
				b.Take()
				c.Take()
				ok(t, a, cmd("unblock", bob))
				if got := mt.Filter(b.Take(), "presence", "from", a.JID.String()); len(got) != 1 || got[0].ChildText("", "show") != "dnd" {
					t.Errorf("bob got %v after unblock; want alice's current presence", got)
				}
				if got := c.Take(); len(got) != 0 {
					t.Errorf("carol, still blocked, got %v", got)
				}
				ok(t, a, cmd("unblock"))
				if got := mt.Filter(c.Take(), "presence", "from", a.JID.String()); len(got) != 1 {
					t.Errorf("carol got %v after unblock all; want alice's presence", got)
				}
			}},
		{Name: "jid-matching", Rule: "XEP-0191 JID matching (XEP-0016 §2.1): a domain item blocks every JID at the domain; a full JID item only that resource",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				a, b, b2 := h.Online("alice", "phone"), h.Online("bob", "pc"), h.Online("bob", "other")
				ok(t, a, cmd("block", "remote.example", bob+"/pc"))
				a.Take()
				h.FromRemote("<message type='chat' id='r' from='" + romeo + "/x' to='" + alice + "'><body>far</body></message>")
				if got := fed.Take(); len(got) != 1 || mt.ErrorCondition(got[0]) != "service-unavailable" {
					t.Errorf("federation got %v; want service-unavailable for romeo", got)
				}
				b.Send("<message type='chat' to='" + alice + "'><body>from pc</body></message>")
				b2.Send("<message type='chat' to='" + alice + "'><body>from other</body></message>")
				var got []string
				for _, m := range mt.Filter(a.Take(), "message") {
					got = append(got, m.ChildText("", "body"))
				}
				if strings.Join(got, ",") != "from other" {
					t.Errorf("alice got %v; want only the unblocked resource's message", got)
				}
			}},
		{Name: "account-deletion-forgets", Rule: "XEP-0077 §3.2, RFC 6121 §2.5.2 (tern: a re-created name inherits nothing): a deleted account's block list is gone with it",
			Run: func(t *testing.T, h *mt.Harness) {
				ctx := context.Background()
				a := h.Online("alice", "phone")
				ok(t, a, cmd("block", bob))
				a.Logout()
				if err := h.Router.RemoveAccount(ctx, jid.MustParse(alice)); err != nil {
					t.Fatal(err)
				}
				h.Router.Deleted(jid.MustParse(alice))
				if err := h.Store.Users().CreateUser(ctx, storage.User{Domain: "example.org", Username: "alice"}); err != nil {
					t.Fatal(err)
				}
				a = h.Online("alice", "new")
				a.Take()
				h.Online("bob", "pc").Send("<message type='chat' to='" + alice + "'><body>hi</body></message>")
				if got := mt.Filter(a.Take(), "message"); len(got) != 1 {
					t.Errorf("the re-created account got %v; want bob's message", got)
				}
			}},
	})
}
