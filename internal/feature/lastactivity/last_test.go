package lastactivity_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/lastactivity"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice  = "alice@example.org"
	bob    = "bob@example.org"
	uptime = 90 * time.Second
)

func mods() []module.Module {
	return []module.Module{roster.Module{}, presence.Module{}, lastactivity.Module{Started: time.Now().Add(-uptime)}}
}

func query(to string) string {
	return "<iq type='get' id='l' to='" + to + "'><query xmlns='jabber:iq:last'/></iq>"
}

// seconds returns the 'seconds' of a result and its text.
func seconds(t *testing.T, r *xml.Element) (int, string) {
	t.Helper()
	q := r.Child(lastactivity.NS, "query")
	if r.Attr("type") != "result" || q == nil {
		t.Fatalf("got %s; want a result with <query/>", r)
	}
	n, err := strconv.Atoi(q.Attr("seconds"))
	if err != nil || n < 0 {
		t.Fatalf("%s: seconds is not a non-negative integer", r)
	}
	return n, q.Text()
}

func subscribed(t *testing.T, h *mt.Harness, owner, contact string) {
	t.Helper()
	if _, err := h.Store.Roster().PutItem(context.Background(), owner, storage.RosterItem{Contact: contact, Subscription: storage.SubFrom}, 0); err != nil {
		t.Fatal(err)
	}
}

func TestLastActivity(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob", "carol"}, mods, []mt.Rule{
		{Name: "server-uptime", Rule: "XEP-0012 Server and Component Query: the server answers its uptime in seconds, with no text",
			Run: func(t *testing.T, h *mt.Harness) {
				n, text := seconds(t, h.Login("alice", "phone").Reply(query("example.org")))
				if n < int(uptime.Seconds()) || n > int(uptime.Seconds())+30 || text != "" {
					t.Errorf("seconds %d, text %q; want about %v and no text", n, text, uptime)
				}
			}},
		{Name: "online-user", Rule: "XEP-0012 Online User Query (answered by the server): an available account has been idle 0 seconds",
			Run: func(t *testing.T, h *mt.Harness) {
				subscribed(t, h, alice, bob)
				h.Online("alice", "phone")
				if n, _ := seconds(t, h.Login("bob", "pc").Reply(query(alice))); n != 0 {
					t.Errorf("seconds %d; want 0", n)
				}
			}},
		{Name: "offline-user", Rule: "XEP-0012 Offline User Query: a subscriber learns the seconds since the last logout and the last status",
			Run: func(t *testing.T, h *mt.Harness) {
				subscribed(t, h, alice, bob)
				a := h.Online("alice", "phone")
				a.Send("<presence type='unavailable'><status>Heading Home</status></presence>")
				a.Logout()
				n, text := seconds(t, h.Login("bob", "pc").Reply(query(alice)))
				if n > 30 || text != "Heading Home" {
					t.Errorf("seconds %d, text %q; want a few seconds and 'Heading Home'", n, text)
				}
			}},
		{Name: "not-subscribed", Rule: "XEP-0012 Offline User Query: an entity not subscribed to the user's presence is forbidden",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Online("alice", "phone")
				a.Logout()
				if r := h.Login("carol", "pc").Reply(query(alice)); mt.ErrorCondition(r) != "forbidden" {
					t.Errorf("got %s; want forbidden", r)
				}
			}},
		{Name: "own-account", Rule: "XEP-0012 Offline User Query: the user may ask for its own account without a subscription",
			Run: func(t *testing.T, h *mt.Harness) {
				h.Online("alice", "one").Logout()
				seconds(t, h.Login("alice", "two").Reply(query(alice)))
			}},
		{Name: "never-logged-out", Rule: "XEP-0012 Offline User Query: with no logout recorded there is nothing to answer: service-unavailable",
			Run: func(t *testing.T, h *mt.Harness) {
				subscribed(t, h, alice, bob)
				if r := h.Login("bob", "pc").Reply(query(alice)); mt.ErrorCondition(r) != "service-unavailable" {
					t.Errorf("got %s; want service-unavailable", r)
				}
			}},
	})
}
