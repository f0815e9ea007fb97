package roster_test

import (
	"strings"
	"testing"

	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const romeo = "romeo@remote.example"

// presences renders the presence stanzas in els as "type from" (available: "available from").
func presences(els []*xml.Element) []string {
	var out []string
	for _, p := range mt.Filter(els, "presence") {
		typ := p.Attr("type")
		if typ == "" {
			typ = "available"
		}
		out = append(out, typ+" from "+p.Attr("from"))
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

// Subscription stanzas as the server routes and answers them (RFC 6121 §3).
func TestSubscriptionStanzas(t *testing.T) {
	mt.Rules(t, users, mods, []mt.Rule{
		{Name: "subscribe-out", Rule: "RFC 6121 §3.1.2: an outbound subscribe is stamped with the user's bare JID, routed to the contact's bare JID, and pushed with ask='subscribe'",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Reply(get("none"))
				a.Take()
				b.Take()
				a.Send("<presence type='subscribe' to='" + bob + "/pc'><status>hi</status></presence>")
				got := mt.Filter(b.Take(), "presence", "type", "subscribe")
				if len(got) != 1 || got[0].Attr("from") != alice || got[0].Attr("to") != bob || got[0].ChildText("", "status") != "hi" {
					t.Errorf("bob got %v; want one subscribe from %s to %s with its status", got, alice, bob)
				}
				if it := pushFor(a.Take(), bob); it == nil || it.Attr("ask") != "subscribe" || it.Attr("subscription") != "none" {
					t.Errorf("alice's push %s; want ask='subscribe', subscription none", it)
				}
			}},
		{Name: "subscribe-in-to-available-only", Rule: "RFC 6121 §3.1.3, §2.2: an inbound request goes to the available resources, not to a connected one that sent no presence, and creates no roster item",
			Run: func(t *testing.T, h *mt.Harness) {
				quiet, on, b := h.Login("alice", "quiet"), h.Online("alice", "on"), h.Online("bob", "pc")
				quiet.Reply(get("none"))
				quiet.Take()
				on.Take()
				b.Send("<presence type='subscribe' to='" + alice + "'/>")
				if got := mt.Filter(on.Take(), "presence", "type", "subscribe", "from", bob); len(got) != 1 {
					t.Errorf("the available resource got no request")
				}
				got := quiet.Take()
				if p := mt.Filter(got, "presence"); len(p) != 0 {
					t.Errorf("a resource that sent no presence got %v", p)
				}
				if p := pushes(got); len(p) != 0 {
					t.Errorf("a request alone pushed %v; it creates no item (A.1 item 3)", p)
				}
			}},
		{Name: "subscribe-in-kept-for-login", Rule: "RFC 6121 §3.1.3: a request for a user with no available resource is kept and delivered, as sent, at each initial presence until answered",
			Run: func(t *testing.T, h *mt.Harness) {
				b := h.Online("bob", "pc")
				b.Send("<presence type='subscribe' to='" + alice + "'><status>add me</status></presence>")
				for _, res := range []string{"one", "two"} {
					a := h.Online("alice", res)
					got := mt.Filter(a.Take(), "presence", "type", "subscribe", "from", bob)
					if len(got) != 1 || got[0].ChildText("", "status") != "add me" {
						t.Errorf("login %s: got %v; want the request with its status", res, got)
					}
					a.Logout()
				}
				a := h.Online("alice", "three")
				a.Send("<presence type='subscribed' to='" + bob + "'/>")
				a.Logout()
				if got := mt.Filter(h.Online("alice", "four").Take(), "presence", "type", "subscribe"); len(got) != 0 {
					t.Errorf("an answered request was delivered again: %v", got)
				}
			}},
		{Name: "subscribe-to-no-such-account", Rule: "RFC 6121 §3.1.3: a subscribe to a local account that does not exist is answered unsubscribed, which clears the user's ask",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Online("alice", "phone")
				a.Reply(get("none"))
				a.Send("<presence type='subscribe' to='nobody@example.org'/>")
				got := a.Take()
				if !has(presences(got), "unsubscribed from nobody@example.org") {
					t.Errorf("alice got %v; want unsubscribed from nobody@example.org", presences(got))
				}
				if it := pushFor(got, "nobody@example.org"); it == nil || it.HasAttr("ask") {
					t.Errorf("last push %s; want the item without ask", it)
				}
			}},
		{Name: "approve", Rule: "RFC 6121 §3.1.5, §3.1.6: the contact's subscribed reaches the user from the contact's bare JID, both sides are pushed (to / from), and the user gets the contact's presence",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Reply(get("none"))
				b.Reply(get("none"))
				a.Send("<presence type='subscribe' to='" + bob + "'/>")
				a.Take()
				b.Take()
				b.Send("<presence type='subscribed' to='" + alice + "'/>")
				got := a.Take()
				ps := presences(got)
				if !has(ps, "subscribed from "+bob) || !has(ps, "available from "+b.JID.String()) {
					t.Errorf("alice got %v; want subscribed from %s and %s's presence", ps, bob, b.JID)
				}
				if it := pushFor(got, bob); it == nil || it.Attr("subscription") != "to" || it.HasAttr("ask") {
					t.Errorf("alice's push %s; want subscription to without ask", it)
				}
				if it := pushFor(b.Take(), alice); it == nil || it.Attr("subscription") != "from" {
					t.Errorf("bob's push %s; want subscription from", it)
				}
			}},
		{Name: "subscribed-unsolicited", Rule: "RFC 6121 §3.1.6: an inbound subscribed with no request pending is neither delivered nor stored",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Reply(get("none"))
				a.Take()
				b.Send("<presence type='subscribed' to='" + alice + "'/>")
				got := a.Take()
				if len(mt.Filter(got, "presence")) != 0 || len(pushes(got)) != 0 || len(items(t, a)) != 0 {
					t.Errorf("alice got %v and has %d items; want nothing", got, len(items(t, a)))
				}
			}},
		{Name: "subscribe-already-granted", Rule: "RFC 6121 §3.1.3 (Table 6 [2]): a subscribe from a contact already subscribed is answered by the server (subscribed, and the user's presence), not delivered",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				befriend(t, a, b)
				b.Send("<presence type='subscribe' to='" + alice + "'/>")
				if got := mt.Filter(a.Take(), "presence", "type", "subscribe"); len(got) != 0 {
					t.Errorf("alice got %v; want the request answered for her", got)
				}
				// The auto-reply "subscribed" changes nothing on bob's side
				// (Table 8: already "to"), so only the presence reaches him.
				if ps := presences(b.Take()); !has(ps, "available from "+a.JID.String()) {
					t.Errorf("bob got %v; want alice's presence with the server's answer", ps)
				}
			}},
		{Name: "cancel", Rule: "RFC 6121 §3.2.2, §3.2.3: cancelling a subscription sends the contact unavailable before unsubscribed, and both items lose it",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				b.Reply(get("none"))
				befriend(t, a, b)
				b.Send("<presence type='unsubscribed' to='" + alice + "'/>")
				got := a.Take()
				want := "unavailable from " + b.JID.String() + ",unsubscribed from " + bob
				if ps := strings.Join(presences(got), ","); ps != want {
					t.Errorf("alice got %s; want %s", ps, want)
				}
				if it := pushFor(got, bob); it == nil || it.Attr("subscription") != "from" {
					t.Errorf("alice's push %s; want subscription from (she lost 'to')", it)
				}
				if it := pushFor(b.Take(), alice); it == nil || it.Attr("subscription") != "to" {
					t.Errorf("bob's push %s; want subscription to", it)
				}
			}},
		{Name: "unsubscribe", Rule: "RFC 6121 §3.3.2, §3.3.3: an unsubscribe is delivered, the contact's server sends the user unavailable, and both items lose the subscription",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				befriend(t, a, b)
				a.Send("<presence type='unsubscribe' to='" + bob + "'/>")
				if !has(presences(b.Take()), "unsubscribe from "+alice) {
					t.Errorf("bob got no unsubscribe")
				}
				// The contact's automatic unsubscribed (Table 7 [1]) finds
				// alice without "to" already: not delivered (Table 9).
				if ps := strings.Join(presences(a.Take()), ","); ps != "unavailable from "+b.JID.String() {
					t.Errorf("alice got %s; want unavailable from %s", ps, b.JID)
				}
				if s := items(t, a)[bob].Attr("subscription"); s != "from" {
					t.Errorf("alice's item for bob: subscription %q; want from", s)
				}
				if s := items(t, b)[alice].Attr("subscription"); s != "to" {
					t.Errorf("bob's item for alice: subscription %q; want to", s)
				}
			}},
		{Name: "pre-approval", Rule: "RFC 6121 §3.4.1, §3.4.2: subscribed with no request pre-approves (item approved='true', nothing routed); the later request is approved by the server and not delivered",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Reply(get("none"))
				b.Take()
				a.Send("<presence type='subscribed' to='" + bob + "'/>")
				if it := pushFor(a.Take(), bob); it == nil || it.Attr("approved") != "true" || it.Attr("subscription") != "none" {
					t.Errorf("alice's push %s; want approved='true', subscription none", it)
				}
				if got := b.Take(); len(got) != 0 {
					t.Errorf("a pre-approval was routed: bob got %v", got)
				}
				b.Send("<presence type='subscribe' to='" + alice + "'/>")
				got := a.Take()
				if len(mt.Filter(got, "presence", "type", "subscribe")) != 0 {
					t.Errorf("the pre-approved request was delivered")
				}
				if it := pushFor(got, bob); it == nil || it.Attr("subscription") != "from" || it.HasAttr("approved") {
					t.Errorf("alice's push %s; want subscription from, approval consumed", it)
				}
				if !has(presences(b.Take()), "subscribed from "+alice) {
					t.Errorf("bob got no subscribed")
				}
			}},
		{Name: "pre-approval-withdrawn", Rule: "RFC 6121 §3.4 (Table 5 [1]): unsubscribed cancels a pre-approval without routing it; the next request is delivered",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				b.Take()
				a.Send("<presence type='subscribed' to='" + bob + "'/>")
				a.Send("<presence type='unsubscribed' to='" + bob + "'/>")
				if got := b.Take(); len(got) != 0 {
					t.Errorf("bob got %v; want nothing of a pre-approval and its withdrawal", got)
				}
				if it := items(t, a)[bob]; it == nil || it.HasAttr("approved") {
					t.Errorf("alice's item %s; want no approval", it)
				}
				a.Take()
				b.Send("<presence type='subscribe' to='" + alice + "'/>")
				if got := mt.Filter(a.Take(), "presence", "type", "subscribe", "from", bob); len(got) != 1 {
					t.Errorf("the request after a withdrawn pre-approval was not delivered")
				}
			}},
		{Name: "remote-contact", Rule: "RFC 6121 §3.1.3, §3.1.5 over federation: a remote request is delivered; the approval goes out from the bare JID with the user's presence",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				a.Take()
				h.FromRemote("<presence type='subscribe' from='" + romeo + "/r' to='" + alice + "'/>")
				if got := mt.Filter(a.Take(), "presence", "type", "subscribe", "from", romeo); len(got) != 1 {
					t.Fatalf("the remote request was not delivered (from its bare JID)")
				}
				a.Send("<presence type='subscribed' to='" + romeo + "'/>")
				ps := presences(fed.Take())
				if strings.Join(ps, ",") != "subscribed from "+alice+",available from "+a.JID.String() {
					t.Errorf("federation got %v; want subscribed from %s, then her presence", ps, alice)
				}
			}},
	})
}
