package disco_test

import (
	"context"
	"slices"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// feature registers what a feature module would: an iq namespace for the
// server, one for accounts, a plain feature, an identity, and a service
// on a domain of its own.
type feature struct{}

func (feature) Name() string { return "feature" }

func (feature) Register(h *module.Host) error {
	none := func(*router.IQ) (*xml.Element, error) { return nil, nil }
	h.HandleIQ(router.Host, "get", "urn:example:server-q", none)
	h.HandleIQ(router.Self|router.Account, "get", "urn:example:account-q", none)
	h.AddFeature(router.Host, "urn:example:plain")
	h.AddIdentity(router.Host, router.Identity{Category: "pubsub", Type: "pep"})
	h.AddService(router.Service{Domain: "rooms.example.org", Parent: mt.Domain, Name: "Rooms",
		Identities: []router.Identity{{Category: "conference", Type: "text", Name: "Rooms"}},
		Features:   []string{"http://jabber.org/protocol/muc"},
		Handle:     func(context.Context, *router.Stanza) bool { return false }})
	return nil
}

func mods() []module.Module { return []module.Module{disco.Module{}, feature{}} }

func info(s *mt.Session, to, node string) *xml.Element {
	if node != "" {
		node = " node='" + node + "'"
	}
	return s.Reply("<iq type='get' id='i' to='" + to + "'><query xmlns='" + disco.NSInfo + "'" + node + "/></iq>")
}

func items(s *mt.Session, to, node string) *xml.Element {
	if node != "" {
		node = " node='" + node + "'"
	}
	return s.Reply("<iq type='get' id='i' to='" + to + "'><query xmlns='" + disco.NSItems + "'" + node + "/></iq>")
}

// described renders a disco#info result as identities and features.
func described(t *testing.T, r *xml.Element) (ids, features []string) {
	t.Helper()
	q := r.Child(disco.NSInfo, "query")
	if r.Attr("type") != "result" || q == nil {
		t.Fatalf("disco#info: %s", r)
	}
	for _, e := range q.Elements() {
		switch e.Name {
		case "identity":
			ids = append(ids, e.Attr("category")+"/"+e.Attr("type"))
		case "feature":
			features = append(features, e.Attr("var"))
		}
	}
	return ids, features
}

func TestDisco(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "server-info", Rule: "XEP-0030 §3.1: the server is server/im and lists the identities and features the modules registered (derived, never a second list)",
			Run: func(t *testing.T, h *mt.Harness) {
				ids, fs := described(t, info(h.Login("alice", "phone"), mt.Domain, ""))
				if !slices.Contains(ids, "server/im") || !slices.Contains(ids, "pubsub/pep") {
					t.Errorf("identities %v; want server/im and the registered pubsub/pep", ids)
				}
				for _, want := range []string{disco.NSInfo, disco.NSItems, "urn:example:server-q", "urn:example:plain"} {
					if !slices.Contains(fs, want) {
						t.Errorf("features %v lack %s", fs, want)
					}
				}
				if slices.Contains(fs, "urn:example:account-q") {
					t.Errorf("an account-only namespace is listed for the server")
				}
			}},
		{Name: "account-info", Rule: "XEP-0030 §3.1: the server answers for an account, own or another's: account/registered and the account features",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				for _, to := range []string{"alice@example.org", "bob@example.org"} {
					ids, fs := described(t, info(a, to, ""))
					if !slices.Contains(ids, "account/registered") || !slices.Contains(fs, "urn:example:account-q") || slices.Contains(fs, "urn:example:server-q") {
						t.Errorf("%s: identities %v features %v; want account/registered and only account features", to, ids, fs)
					}
				}
			}},
		{Name: "no-such-account", Rule: "XEP-0030 §3.1, RFC 6121 §8.5.1: disco#info to a local account that does not exist is service-unavailable",
			Run: func(t *testing.T, h *mt.Harness) {
				if r := info(h.Login("alice", "phone"), "nobody@example.org", ""); mt.ErrorCondition(r) != "service-unavailable" {
					t.Errorf("got %s", r)
				}
			}},
		{Name: "items-list-services", Rule: "XEP-0030 §4.1: disco#items of the server lists the services hosted beside it (Host.AddService), with their names; an account has no items",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				q := items(a, mt.Domain, "").Child(disco.NSItems, "query")
				if got := q.Elements(); len(got) != 1 || got[0].Attr("jid") != "rooms.example.org" || got[0].Attr("name") != "Rooms" {
					t.Errorf("server items %v; want rooms.example.org named Rooms", got)
				}
				if r := items(a, "bob@example.org", ""); r.Attr("type") != "result" || len(r.Child(disco.NSItems, "query").Elements()) != 0 {
					t.Errorf("account items %s; want an empty result", r)
				}
			}},
		{Name: "service-info", Rule: "XEP-0030 §3.1: a service answers disco#info with the identities and features it was added with",
			Run: func(t *testing.T, h *mt.Harness) {
				ids, fs := described(t, info(h.Login("alice", "phone"), "rooms.example.org", ""))
				if !slices.Equal(ids, []string{"conference/text"}) || !slices.Equal(fs, []string{"http://jabber.org/protocol/muc"}) {
					t.Errorf("identities %v features %v", ids, fs)
				}
			}},
		{Name: "unknown-node", Rule: "XEP-0030 §3.2, §7: a node that does not exist is item-not-found, for info and items, at the server and at an account",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				for _, to := range []string{mt.Domain, "bob@example.org"} {
					for _, r := range []*xml.Element{info(a, to, "nope"), items(a, to, "nope")} {
						if mt.ErrorCondition(r) != "item-not-found" {
							t.Errorf("%s: %s; want item-not-found", to, r)
						}
					}
				}
			}},
		{Name: "remote-asks", Rule: "XEP-0030 §3.1: another server's disco#info to the domain is answered over federation",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				h.FromRemote("<iq type='get' id='r' from='remote.example' to='example.org'><query xmlns='" + disco.NSInfo + "'/></iq>")
				got := fed.Take()
				if len(got) != 1 {
					t.Fatalf("federation got %v", got)
				}
				if ids, _ := described(t, got[0]); !slices.Contains(ids, "server/im") {
					t.Errorf("identities %v", ids)
				}
			}},
	})
}
