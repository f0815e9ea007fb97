package e2e

import (
	"strings"
	"testing"
)

func TestRoster(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, rosterRows())
}

const nsRoster = "jabber:iq:roster"

func rosterRows() []featureRow {
	return []featureRow{
		{name: "versioning", rule: "RFC 6121 §2.6: pushes carry ver; a get with the current ver is an empty result, with an old ver the full roster",
			users: []string{"ra1", "rb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				if !strings.Contains(a.features, "urn:xmpp:features:rosterver") {
					t.Errorf("stream features %s: roster versioning not advertised (§2.6.1)", a.features)
				}
				first := a.iq("get", "", "<query xmlns='jabber:iq:roster' ver=''/>")
				v1 := first.child(nsRoster, "query")
				if v1 == nil || !v1.hasAttr("ver") {
					t.Fatalf("roster get with ver='': got %s; want a query with 'ver' (§2.6.3)", first)
				}
				wantCondition(t, "roster set", a.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='"+u[1]+"' name='B'/></query>"), "")
				push := a.wait("roster push for "+u[1], isRosterPush(u[1]))
				v2 := push.child(nsRoster, "query").attr("ver")
				if v2 == "" || v2 == v1.attr("ver") {
					t.Fatalf("roster push %s: want a new non-empty 'ver' (was %q) (§2.6.3)", push, v1.attr("ver"))
				}
				cur := a.iq("get", "", "<query xmlns='jabber:iq:roster' ver='"+xmlAttr(v2)+"'/>")
				if cur.attr("type") != "result" || len(cur.Kids) != 0 {
					t.Errorf("roster get with the current ver: got %s; want an empty result (§2.6.3)", cur)
				}
				old := a.iq("get", "", "<query xmlns='jabber:iq:roster' ver='"+xmlAttr(v1.attr("ver"))+"'/>")
				q := old.child(nsRoster, "query")
				if q == nil || q.attr("ver") != v2 || len(q.children(nsRoster, "item")) != 1 || q.child(nsRoster, "item").attr("jid") != u[1] {
					t.Errorf("roster get with an old ver: got %s; want the full roster (one item) at ver %q (§2.6.3)", old, v2)
				}
			}},
		{name: "set-validation", rule: "RFC 6121 §2.3.3: one item per set, no duplicate group; own JID is not allowed",
			users: []string{"ra2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				for _, r := range []struct{ name, query, cond string }{
					{"two-items", "<item jid='x@localhost'/><item jid='y@localhost'/>", "bad-request"},
					{"duplicate-group", "<item jid='x@localhost'><group>G</group><group>G</group></item>", "bad-request"},
					{"own-jid", "<item jid='" + u[0] + "'/>", "not-allowed"},
					{"valid", "<item jid='x@localhost'><group>G</group><group>H</group></item>", ""},
				} {
					wantCondition(t, r.name, a.iq("set", "", "<query xmlns='jabber:iq:roster'>"+r.query+"</query>"), r.cond)
				}
			}},
		{name: "remove", rule: "RFC 6121 §2.5.2: removal pushes subscription='remove' and cancels both subscriptions with the contact",
			users: []string{"ra3", "rb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a, b)
				wantCondition(t, "roster remove", a.iq("set", "", "<query xmlns='jabber:iq:roster'><item jid='"+u[1]+"' subscription='remove'/></query>"), "")
				a.wait("roster push with subscription='remove'", func(e *elem) bool {
					return isRosterPush(u[1])(e) && e.path(nsRoster+" query", "item").attr("subscription") == "remove"
				})
				b.wait("unsubscribe from "+u[0], isPresenceFrom(u[0], "unsubscribe"))
				b.wait("unsubscribed from "+u[0], isPresenceFrom(u[0], "unsubscribed"))
				if items := a.rosterGet().child(nsRoster, "query").children(nsRoster, "item"); len(items) != 0 {
					t.Errorf("roster after removal has %d items; want none", len(items))
				}
			}},
		{name: "pre-approval", rule: "RFC 6121 §3.4: subscribed sent before the request pre-approves it; the later subscribe is approved automatically",
			users: []string{"ra4", "rb4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				if !strings.Contains(a.features, "urn:xmpp:features:pre-approval") {
					t.Errorf("stream features %s: pre-approval not advertised (§3.4.1)", a.features)
				}
				b := online(t, &srv.target, u[1], "b", "")
				a.rosterGet()
				b.rosterGet()
				a.send("<presence type='subscribed' to='" + u[1] + "'/>")
				a.wait("roster push with approved='true'", func(e *elem) bool {
					return isRosterPush(u[1])(e) && e.path(nsRoster+" query", "item").attr("approved") == "true"
				})
				b.send("<presence type='subscribe' to='" + u[0] + "'/>")
				b.wait("roster push: subscription='to' without a's action", func(e *elem) bool {
					return isRosterPush(u[0])(e) && e.path(nsRoster+" query", "item").attr("subscription") == "to"
				})
				a.wait("roster push: subscription='from'", func(e *elem) bool {
					return isRosterPush(u[1])(e) && e.path(nsRoster+" query", "item").attr("subscription") == "from"
				})
				a.none("the pre-approved request is not delivered (§3.4.2)", isPresenceFrom(u[1], "subscribe"), b)
			}},
		{name: "unsolicited-subscribed-ignored", rule: "RFC 6121 §3.1.6: an inbound subscribed without a pending request changes nothing",
			users: []string{"ra5", "rb5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				a.rosterGet()
				b.send("<presence type='subscribed' to='" + u[0] + "'/>")
				a.none("an unsolicited subscribed is not delivered", isPresenceFrom(u[1], "subscribed"), b)
				a.none("no roster push for it", isRosterPush(u[1]), b)
				if items := a.rosterGet().child(nsRoster, "query").children(nsRoster, "item"); len(items) != 0 {
					t.Errorf("roster after an unsolicited subscribed has %d items; want none", len(items))
				}
			}},
		{name: "pending-request-redelivered", rule: "RFC 6121 §3.1.3: an unanswered subscription request is delivered at each login until answered",
			users: []string{"ra6", "rb6"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				b := online(t, &srv.target, u[1], "b", "")
				b.send("<presence type='subscribe' to='" + u[0] + "'><status>add me</status></presence>")
				b.sync()
				for i := range 2 {
					a := connect(t, &srv.target, u[0], loginOpts{resource: "login" + string(rune('0'+i))})
					a.send("<presence/>")
					p := a.wait("the pending subscription request at login", isPresenceFrom(u[1], "subscribe"))
					if s := p.child("", "status"); s == nil || s.Text != "add me" {
						t.Errorf("redelivered request %s: want the original stanza with its status", p)
					}
					a.close()
				}
			}},
	}
}
