package carbons_test

import (
	"context"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/carbons"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice = "alice@example.org"
	bob   = "bob@example.org"
	romeo = "romeo@remote.example"
)

func mods() []module.Module {
	return []module.Module{roster.Module{}, presence.Module{}, carbons.Module{}}
}

func enable(t *testing.T, s *mt.Session, op string) {
	t.Helper()
	if r := s.Reply("<iq type='set' id='c'><" + op + " xmlns='urn:xmpp:carbons:2'/></iq>"); r.Attr("type") != "result" {
		t.Fatalf("%s carbons: %s", op, r)
	}
}

// online logs alice's resources in (carbons enabled on those listed in on)
// and bob's "pc", and forgets what they got so far.
func online(t *testing.T, h *mt.Harness, on []string, resources ...string) (map[string]*mt.Session, *mt.Session) {
	a := map[string]*mt.Session{}
	for _, r := range resources {
		a[r] = h.Online("alice", r)
	}
	for _, r := range on {
		enable(t, a[r], "enable")
	}
	b := h.Online("bob", "pc")
	for _, s := range a {
		s.Take()
	}
	b.Take()
	return a, b
}

// carbon returns the message a carbon of kind (sent/received) in els
// wraps, checking the wrapper is from the user's bare JID; nil if none.
func carbon(t *testing.T, els []*xml.Element, kind string) *xml.Element {
	t.Helper()
	var found *xml.Element
	for _, m := range mt.Filter(els, "message") {
		w := m.Child(carbons.NS, kind)
		if w == nil {
			continue
		}
		if found != nil {
			t.Errorf("two %s carbons", kind)
		}
		if m.Attr("from") != alice {
			t.Errorf("carbon %s not from %s", m, alice)
		}
		found = w.Child(carbons.NSForward, "forwarded").Child("", "message")
	}
	return found
}

func copies(els []*xml.Element) int {
	n := 0
	for _, m := range mt.Filter(els, "message") {
		if m.Child(carbons.NS, "sent") != nil || m.Child(carbons.NS, "received") != nil {
			n++
		}
	}
	return n
}

func TestCarbons(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "received", Rule: "XEP-0280 §7: a message to one resource is copied, wrapped in <received/> from the bare JID, to the user's other resources that enabled carbons, and no other",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one", "two"}, "one", "two", "plain")
				b.Send("<message type='chat' id='m' to='" + alice + "/one'><body>to one</body></message>")
				if m := carbon(t, a["two"].Take(), "received"); m == nil || m.ChildText("", "body") != "to one" || m.Attr("from") != b.JID.String() {
					t.Errorf("alice/two: carbon of %v; want bob's message", m)
				}
				got := a["one"].Take()
				if len(mt.Filter(got, "message", "id", "m")) != 1 || copies(got) != 0 {
					t.Errorf("alice/one got %v; want the message and no carbon", got)
				}
				if n := copies(a["plain"].Take()); n != 0 {
					t.Errorf("a resource without carbons got %d copies", n)
				}
			}},
		{Name: "sent", Rule: "XEP-0280 §8: a message a resource sends is copied in <sent/> to the user's other enabled resources, not back to the sender, for local and remote recipients alike",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				a, b := online(t, h, []string{"one", "two"}, "one", "two")
				a["one"].Send("<message type='chat' to='" + bob + "'><body>local</body></message>")
				a["one"].Send("<message type='chat' to='" + romeo + "'><body>remote</body></message>")
				if got := mt.Filter(b.Take(), "message"); len(got) != 1 || copies(got) != 0 {
					t.Errorf("bob got %v; want the message itself", got)
				}
				if got := fed.Take(); len(got) != 1 {
					t.Errorf("federation got %v; want the remote message", got)
				}
				got := a["two"].Take()
				var bodies []string
				for _, m := range mt.Filter(got, "message") {
					if w := m.Child(carbons.NS, "sent"); w != nil {
						bodies = append(bodies, w.Child(carbons.NSForward, "forwarded").Child("", "message").ChildText("", "body"))
					}
				}
				if len(bodies) != 2 || bodies[0] != "local" || bodies[1] != "remote" {
					t.Errorf("alice/two's sent carbons %v; want local, remote", bodies)
				}
				if n := copies(a["one"].Take()); n != 0 {
					t.Errorf("the sender got %d copies of its own message", n)
				}
			}},
		{Name: "disable", Rule: "XEP-0280 §4.2: after <disable/> a resource gets no carbons",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one", "two"}, "one", "two")
				enable(t, a["two"], "disable")
				b.Send("<message type='chat' to='" + alice + "/one'><body>x</body></message>")
				a["one"].Send("<message type='chat' to='" + bob + "'><body>y</body></message>")
				if n := copies(a["two"].Take()); n != 0 {
					t.Errorf("a disabled resource got %d copies", n)
				}
			}},
		{Name: "bare-jid-targets", Rule: "XEP-0280 §7, RFC 6121 §8.5.2.1.1: a message to the bare JID is not copied to the resources it was delivered to, only to the other enabled ones",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one", "two"}, "one", "two")
				neg := h.Login("alice", "neg")
				neg.Send("<presence><priority>-1</priority></presence>")
				enable(t, neg, "enable")
				neg.Take()
				b.Send("<message type='chat' to='" + alice + "'><body>bare</body></message>")
				for _, r := range []string{"one", "two"} {
					got := a[r].Take()
					if len(mt.Filter(got, "message")) != 1 || copies(got) != 0 {
						t.Errorf("alice/%s got %v; want the message, no carbon", r, got)
					}
				}
				if m := carbon(t, neg.Take(), "received"); m == nil {
					t.Errorf("the negative-priority enabled resource got no carbon")
				}
			}},
		{Name: "eligibility", Rule: "XEP-0280 §6: chat messages and normal ones with a body are copied; normal without body, groupchat, headline and error are not",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one", "two"}, "one", "two")
				for _, tc := range []struct {
					msg  string
					want int
				}{
					{"<message type='chat'><body>x</body></message>", 1},
					{"<message type='chat'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", 1},
					{"<message><body>x</body></message>", 1},
					{"<message type='normal'><body>x</body></message>", 1},
					{"<message type='normal'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>", 0},
					{"<message type='groupchat'><body>x</body></message>", 0},
					{"<message type='headline'><body>x</body></message>", 0},
					{"<message type='error'><body>x</body></message>", 0},
				} {
					to := tc.msg[:len("<message")] + " to='" + alice + "/one'" + tc.msg[len("<message"):]
					b.Send(to)
					if n := copies(a["two"].Take()); n != tc.want {
						t.Errorf("%s: %d copies; want %d", tc.msg, n, tc.want)
					}
				}
			}},
		{Name: "private", Rule: "XEP-0280 §6: a message with <private/> is not copied either way, and the receiving server removes <private/>",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one", "two"}, "one", "two")
				a["one"].Send("<message type='chat' to='" + bob + "/pc'><body>secret</body><private xmlns='urn:xmpp:carbons:2'/></message>")
				b.Send("<message type='chat' to='" + alice + "/one'><body>secret back</body><private xmlns='urn:xmpp:carbons:2'/></message>")
				if n := copies(a["two"].Take()); n != 0 {
					t.Errorf("alice/two got %d copies of private messages", n)
				}
				for _, s := range []*mt.Session{a["one"], b} {
					for _, m := range mt.Filter(s.Take(), "message") {
						if m.Child(carbons.NS, "private") != nil {
							t.Errorf("%s got %s with <private/> still in", s.JID, m)
						}
					}
				}
			}},
		{Name: "no-copy-hint", Rule: "XEP-0334 §4.3, XEP-0280 §6: a message with <no-copy/> is not copied",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one", "two"}, "one", "two")
				b.Send("<message type='chat' to='" + alice + "/one'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>")
				if n := copies(a["two"].Take()); n != 0 {
					t.Errorf("%d copies of a no-copy message", n)
				}
			}},
		{Name: "forged", Rule: "XEP-0280 §11: a carbon not from the user's own bare JID, local or remote, is dropped",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one"}, "one")
				forged := "<received xmlns='urn:xmpp:carbons:2'><forwarded xmlns='urn:xmpp:forward:0'><message xmlns='jabber:client' type='chat' from='evil@example.org/x' to='" + alice + "/one'><body>forged</body></message></forwarded></received>"
				b.Send("<message type='chat' to='" + alice + "/one'>" + forged + "</message>")
				h.FromRemote("<message type='chat' from='" + romeo + "/r' to='" + alice + "/one'>" + forged + "</message>")
				h.FromRemote("<message type='chat' from='" + romeo + "/r' to='" + alice + "'>" + forged + "</message>")
				if got := a["one"].Take(); len(got) != 0 {
					t.Errorf("alice got %v", got)
				}
			}},
		{Name: "rerouted-not-copied-again", Rule: "XEP-0198 §4, RFC 6120 §10.4.3 (tern): a message routed again because its client never acknowledged it is not copied a second time",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := online(t, h, []string{"one"}, "one", "other")
				neg := h.Login("alice", "neg") // never a target of the bare JID
				neg.Send("<presence><priority>-1</priority></presence>")
				enable(t, neg, "enable")
				neg.Take()
				b.Send("<message type='chat' id='m' to='" + alice + "/one'><body>once</body></message>")
				msg := mt.Filter(a["one"].Take(), "message", "id", "m")
				if len(msg) != 1 || carbon(t, neg.Take(), "received") == nil {
					t.Fatalf("first delivery: want the message and one carbon")
				}
				a["one"].Logout()
				h.Router.Undelivered(context.Background(), a["one"].JID, msg)
				if got := mt.Filter(a["other"].Take(), "message", "id", "m"); len(got) != 1 {
					t.Errorf("alice/other got %v; want the message routed again to the bare JID", got)
				}
				if n := copies(neg.Take()); n != 0 {
					t.Errorf("alice/neg got %d more copies", n)
				}
			}},
		{Name: "discoverable", Rule: "XEP-0280 §3: the server advertises urn:xmpp:carbons:2",
			Run: func(t *testing.T, h *mt.Harness) {
				for _, f := range h.Router.Features(router.Host) {
					if f == carbons.NS {
						return
					}
				}
				t.Errorf("server features lack %s", carbons.NS)
			}},
	})
}
