package e2e

import (
	"fmt"
	"testing"
)

// featureRow is one spec rule checked against a shared server: users are the localparts it
// may use (created for it alone, so rows run in parallel without seeing each other).
type featureRow struct {
	name  string
	rule  string
	users []string
	run   func(t *testing.T, srv *ternProc, u []string) // u: bare JIDs, in the order of users
}

// runFeatureRows starts one tern (opts plus every row's users) and runs the rows in parallel.
func runFeatureRows(t *testing.T, opts ternOpts, rows []featureRow) {
	t.Helper()
	for _, r := range rows {
		for _, u := range r.users {
			opts.Users = append(opts.Users, u+"@localhost")
		}
	}
	srv := startTern(t, opts)
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			var u []string
			for _, l := range r.users {
				u = append(u, srv.user(l))
			}
			t.Logf("checks %s", r.rule)
			r.run(t, srv, u)
		})
	}
}

func TestPresence(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, presenceRows())
}

func presenceRows() []featureRow {
	return []featureRow{
		{name: "initial-broadcast", rule: "RFC 6121 §4.2.2: initial presence goes to subscribers and the user's other available resources",
			users: []string{"pa1", "pb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a1 := online(t, &srv.target, u[0], "one", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a1, b)
				a2 := connect(t, &srv.target, u[0], loginOpts{resource: "two"})
				a2.send("<presence><status>second</status></presence>")
				b.wait("initial presence of "+a2.jid, isPresenceFrom(a2.jid, ""))
				a1.wait("initial presence of own other resource "+a2.jid, isPresenceFrom(a2.jid, ""))
				a2.wait("presence of own other resource "+a1.jid+" (§4.2.2)", isPresenceFrom(a1.jid, ""))
			}},
		{name: "probe-on-login", rule: "RFC 6121 §4.2.2, §4.3.2: the server probes contacts at initial presence and delivers their current presence",
			users: []string{"pa2", "pb2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "<show>away</show><status>lunch</status>")
				befriend(t, a, b)
				a.close()
				a = connect(t, &srv.target, u[0], loginOpts{resource: "again"})
				a.send("<presence/>")
				p := a.wait("presence of contact "+b.jid+" answering the probe", isPresenceFrom(b.jid, ""))
				if got := p.child("", "status"); got == nil || got.Text != "lunch" {
					t.Errorf("probe answer %s: want the contact's current presence with status 'lunch'", p)
				}
			}},
		{name: "directed-then-close", rule: "RFC 6121 §4.6.3: a user's unavailable goes to entities it sent directed presence to",
			users: []string{"pa3", "pc3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				c := online(t, &srv.target, u[1], "c", "")
				a.send("<presence to='" + c.jid + "'><status>hi stranger</status></presence>")
				c.wait("directed presence from "+a.jid, isPresenceFrom(a.jid, ""))
				a.close()
				c.wait("unavailable from "+a.jid+" after its stream closed (§4.6.3)", isPresenceFrom(a.jid, "unavailable"))
			}},
		{name: "tcp-drop", rule: "RFC 6121 §4.5.2 (pitfalls): a client whose TCP connection just drops is broadcast as unavailable",
			users: []string{"pa4", "pb4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a, b)
				a.drop()
				b.wait("unavailable from "+a.jid+" after its TCP connection dropped", isPresenceFrom(a.jid, "unavailable"))
			}},
		{name: "bare-to-highest-priority", rule: "RFC 6121 §8.5.2.1.1: a message to the bare JID goes to the highest-priority resource, never to negative ones",
			users: []string{"pa5", "pb5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				hi := online(t, &srv.target, u[1], "hi", "<priority>5</priority>")
				lo := online(t, &srv.target, u[1], "lo", "<priority>1</priority>")
				neg := online(t, &srv.target, u[1], "neg", "<priority>-1</priority>")
				a.send("<message type='chat' to='" + u[1] + "'><body>prio</body></message>")
				hi.wait("the message, at the highest priority resource", isMessageWithBody("prio"))
				lo.none("a lower-priority resource gets nothing", isMessageWithBody("prio"), a)
				neg.none("a negative-priority resource gets nothing", isMessageWithBody("prio"), a)
			}},
		{name: "all-negative-goes-offline", rule: "RFC 6121 §8.5.2.1.1: with only negative-priority resources the message is stored offline",
			users: []string{"pa6", "pb6"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				neg := online(t, &srv.target, u[1], "neg", "<priority>-5</priority>")
				a.send("<message type='chat' to='" + u[1] + "'><body>later</body></message>")
				neg.none("a negative-priority resource gets nothing", isMessageWithBody("later"), a)
				b := online(t, &srv.target, u[1], "b", "<priority>0</priority>")
				m := b.wait("the offline message at the next non-negative login", isMessageWithBody("later"))
				if m.child("urn:xmpp:delay", "delay") == nil {
					t.Errorf("offline message %s has no XEP-0203 <delay/>", m)
				}
			}},
		{name: "absent-full-jid-to-bare", rule: "RFC 6121 §8.5.3.2.1: a chat message to an unavailable full JID is treated as sent to the bare JID",
			users: []string{"pa7", "pb7"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "here", "")
				a.send("<message type='chat' to='" + u[1] + "/gone'><body>redirected</body></message>")
				m := b.wait("the message for "+u[1]+"/gone", isMessageWithBody("redirected"))
				if m.attr("to") != u[1]+"/gone" && m.attr("to") != u[1] && m.attr("to") != b.jid {
					t.Errorf("delivered %s: 'to' is not the recipient", m)
				}
			}},
		{name: "priority-out-of-range", rule: "RFC 6121 §4.7.2.3: priority is -128..127; outside it the presence is a bad-request",
			users: []string{"pa8"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				for _, prio := range []string{"128", "-129", "high"} {
					a := connect(t, &srv.target, u[0], loginOpts{resource: "p" + prio})
					a.send(fmt.Sprintf("<presence id='bad'><priority>%s</priority></presence>", prio))
					e := a.wait("an error for priority "+prio, func(e *elem) bool {
						return e.Local == "presence" && e.attr("type") == "error"
					})
					wantCondition(t, "priority "+prio, e, "bad-request")
				}
			}},
	}
}
