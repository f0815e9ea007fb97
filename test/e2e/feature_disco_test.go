package e2e

import (
	"slices"
	"testing"
)

const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
)

// TestDisco also runs the small server queries (version, time, ping, last activity): they
// need no special configuration, so they share this server.
func TestDisco(t *testing.T) {
	t.Parallel()
	opts := ternOpts{ExtraTOML: "[domain.contacts]\nadmin = [\"xmpp:admin@localhost\"]\nabuse = [\"mailto:abuse@localhost\"]"}
	var rows []featureRow
	rows = append(rows, discoRows()...)
	rows = append(rows, serverQueryRows()...)
	rows = append(rows, lastActivityRows()...)
	runFeatureRows(t, opts, rows)
}

func discoFeatures(q *elem) []string {
	var out []string
	for _, f := range q.children(nsDiscoInfo, "feature") {
		out = append(out, f.attr("var"))
	}
	return out
}

func hasIdentity(q *elem, category, typ string) bool {
	for _, id := range q.children(nsDiscoInfo, "identity") {
		if id.attr("category") == category && id.attr("type") == typ {
			return true
		}
	}
	return false
}

func discoRows() []featureRow {
	return []featureRow{
		{name: "server-info", rule: "XEP-0030 §3.1: the server's identity is server/im and its features include every protocol it serves (each XEP's 'Determining Support')",
			users: []string{"da1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				r := c.iq("get", srv.domain, "<query xmlns='"+nsDiscoInfo+"'/>")
				q := r.child(nsDiscoInfo, "query")
				if q == nil {
					t.Fatalf("disco#info to the server: %s", r)
				}
				if !hasIdentity(q, "server", "im") {
					t.Errorf("identities of %s: want category=server type=im", q)
				}
				got := discoFeatures(q)
				for _, want := range []struct{ ns, rule string }{
					{nsDiscoInfo, "XEP-0030 §3.1"},
					{nsDiscoItems, "XEP-0030 §4.1"},
					{"urn:xmpp:ping", "XEP-0199 §8"},
					{"jabber:iq:version", "XEP-0092 §3"},
					{"urn:xmpp:time", "XEP-0202 §4"},
					{"jabber:iq:last", "XEP-0012 Determining Support"},
					{"vcard-temp", "XEP-0054 §4 Determining Support"},
					{"urn:xmpp:blocking", "XEP-0191 §5.1 User Discovers Support"},
					{"urn:xmpp:carbons:2", "XEP-0280 §3 Discovering Support"},
					{"msgoffline", "XEP-0160 §5"},
				} {
					if !slices.Contains(got, want.ns) {
						t.Errorf("server disco#info lacks %s (%s); features: %v", want.ns, want.rule, got)
					}
				}
			}},
		{name: "contact-addresses", rule: "XEP-0157 §3: the server's disco#info carries a serverinfo form with the configured addresses (XEP-0128)",
			users: []string{"da2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				q := c.iq("get", srv.domain, "<query xmlns='"+nsDiscoInfo+"'/>").child(nsDiscoInfo, "query")
				var form *elem
				for _, x := range q.children("jabber:x:data", "x") {
					for _, f := range x.children("jabber:x:data", "field") {
						if f.attr("var") == "FORM_TYPE" && f.path("value").Text == "http://jabber.org/network/serverinfo" {
							form = x
						}
					}
				}
				if form == nil {
					t.Fatalf("disco#info %s: no form with FORM_TYPE http://jabber.org/network/serverinfo", q)
				}
				if form.attr("type") != "result" {
					t.Errorf("serverinfo form %s: type must be 'result' (XEP-0128 §2)", form)
				}
				want := map[string]string{"admin-addresses": "xmpp:admin@localhost", "abuse-addresses": "mailto:abuse@localhost"}
				for _, f := range form.children("jabber:x:data", "field") {
					if v, ok := want[f.attr("var")]; ok && f.path("value").Text == v {
						delete(want, f.attr("var"))
					}
				}
				if len(want) > 0 {
					t.Errorf("serverinfo form %s: missing %v", form, want)
				}
			}},
		{name: "account-info", rule: "XEP-0030 §3.1: the server answers disco#info for an account, identity account/registered",
			users: []string{"da3", "db3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				for _, to := range []string{u[0], u[1]} {
					r := c.iq("get", to, "<query xmlns='"+nsDiscoInfo+"'/>")
					if q := r.child(nsDiscoInfo, "query"); q == nil || !hasIdentity(q, "account", "registered") {
						t.Errorf("disco#info to %s: got %s; want identity account/registered", to, r)
					}
				}
			}},
		{name: "items", rule: "XEP-0030 §4.1: disco#items to the server returns a (possibly empty) list",
			users: []string{"da4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				r := c.iq("get", srv.domain, "<query xmlns='"+nsDiscoItems+"'/>")
				if r.attr("type") != "result" || r.child(nsDiscoItems, "query") == nil {
					t.Errorf("disco#items to the server: got %s; want a result with <query/>", r)
				}
			}},
		{name: "unknown-node", rule: "XEP-0030 §3.2, §7: a node that does not exist is item-not-found",
			users: []string{"da5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				for _, q := range []string{
					"<query xmlns='" + nsDiscoInfo + "' node='no-such-node'/>",
					"<query xmlns='" + nsDiscoItems + "' node='no-such-node'/>",
				} {
					wantCondition(t, q, c.iq("get", srv.domain, q), "item-not-found")
				}
			}},
	}
}
