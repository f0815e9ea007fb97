package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestRegression holds regression rows for fixed server bugs, each citing the rule it guards.
// Registration is on (XEP-0077) so a row can remove and re-create an account in-band.
func TestRegression(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{Registration: true}, regressionRows())
}

// isBodyMessage matches any message with a body.
func isBodyMessage(e *elem) bool { return e.Local == "message" && e.child("", "body") != nil }

// rosterItem returns the item for contact in a roster result or push, nil if there is none.
func rosterItem(r *elem, contact string) *elem {
	q := r.child("jabber:iq:roster", "query")
	if q == nil {
		return nil
	}
	for _, it := range q.children("jabber:iq:roster", "item") {
		if it.attr("jid") == contact {
			return it
		}
	}
	return nil
}

func regressionRows() []featureRow {
	return []featureRow{
		{name: "offline-on-first-non-negative-priority",
			rule:  "RFC 6121 §8.5.2.1.1, XEP-0160 §3: stored messages are delivered when a resource first sends non-negative priority, even after an initial negative one",
			users: []string{"ra1", "rb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				a.send("<message type='chat' to='" + u[1] + "'><body>stored-before-login</body></message>")
				a.sync()
				b := online(t, &srv.target, u[1], "b", "<priority>-1</priority>")
				a.send("<message type='chat' to='" + u[1] + "'><body>stored-while-negative</body></message>")
				b.none("a negative-priority resource gets no offline or bare-JID message (§8.5.2.1.1)", isBodyMessage, a)
				b.send("<presence><priority>0</priority></presence>")
				var got []string
				for range 2 {
					got = append(got, b.wait("an offline message after priority 0 (XEP-0160 §3)", isBodyMessage).child("", "body").Text)
				}
				if strings.Join(got, ",") != "stored-before-login,stored-while-negative" {
					t.Errorf("offline messages after priority 0: got %v; want stored-before-login, stored-while-negative", got)
				}
				b.none("no offline message delivered twice", isBodyMessage)
			}},
		{name: "account-removal-ends-subscriptions",
			rule:  "RFC 6121 §2.5.2, XEP-0077 §3.2: removing an account unsubscribes its contacts; a re-registered name inherits nothing",
			users: []string{"ra2", "rb2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a, b)
				b.forget()
				wantCondition(t, "account removal (XEP-0077 §3.2)", a.iq("set", "", "<query xmlns='"+nsRegister+"'><remove/></query>"), "")
				a.waitStreamEnd()
				b.wait("unsubscribe from the removed account's bare JID (RFC 6121 §2.5.2)", isPresenceFrom(u[0], "unsubscribe"))
				b.wait("unsubscribed from the removed account's bare JID (RFC 6121 §2.5.2)", isPresenceFrom(u[0], "unsubscribed"))
				b.wait("unavailable from the removed account's resource", func(e *elem) bool {
					return e.Local == "presence" && e.attr("type") == "unavailable" && (e.attr("from") == a.jid || e.attr("from") == u[0])
				})
				b.wait("a roster push ending the subscription with "+u[0], func(e *elem) bool {
					it := e.path("jabber:iq:roster query", "item")
					return isRosterPush(u[0])(e) && (it.attr("subscription") == "none" || it.attr("subscription") == "remove")
				})

				raw, _ := preAuthStream(t, &srv.target)
				pw := "re-registered-pass"
				wantCondition(t, "re-register the removed name (XEP-0077 §3.1)", rawIQ(t, raw, "rereg", "set", registerQuery(strings.Split(u[0], "@")[0], pw)), "")
				a2 := connect(t, &srv.target, u[0], loginOpts{password: pw, resource: "new"})
				if q := a2.rosterGet().child("jabber:iq:roster", "query"); q == nil || len(q.children("", "item")) != 0 {
					t.Errorf("roster of the re-registered account: got %s; want empty", q)
				}
				if it := rosterItem(b.rosterGet(), u[0]); it != nil {
					if s := it.attr("subscription"); s != "none" || it.attr("ask") != "" {
						t.Errorf("contact's roster item for the re-registered account: got %s; want none or no item", it)
					}
				}
				a2.send("<presence/>")
				a2.wait("own initial presence reflected", isPresenceFrom(a2.jid, ""))
				b.none("presence of the re-registered account (no subscription inherited)", isPresenceFrom(a2.jid, ""), a2)
				b.send("<presence><status>still here</status></presence>")
				a2.none("presence of the old account's contact (no subscription inherited)", isPresenceFrom(b.jid, ""), b)
			}},
		{name: "whitespace-keepalive-then-message",
			rule:  "RFC 6120 §4.6.1: whitespace keepalives keep the session alive, and it still receives stanzas (idle-session parking)",
			users: []string{"ra3", "rb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				for deadline := time.Now().Add(3 * time.Second); time.Now().Before(deadline); {
					b.send(" ")
					time.Sleep(300 * time.Millisecond)
				}
				a.send("<message type='chat' to='" + b.jid + "'><body>after-whitespace</body></message>")
				b.wait("a message after 3 s of whitespace keepalives", isMessageWithBody("after-whitespace"))
				b.sync()
				// Idle past the park delay (2 s), wake the parked session with whitespace only,
				// idle again: it parks anew and still receives and reads.
				time.Sleep(2500 * time.Millisecond)
				b.send(" ")
				time.Sleep(2500 * time.Millisecond)
				a.send("<message type='chat' to='" + b.jid + "'><body>after-park</body></message>")
				b.wait("a message after parking woken by whitespace", isMessageWithBody("after-park"))
				b.sync()
				if r := b.endReason(); r != "no" {
					t.Errorf("stream ended (%s); want the session kept alive by whitespace", r)
				}
			}},
		{name: "offline-large-batch-not-lost",
			rule:  "XEP-0160 §3, RFC 6120 §10.1: stored messages are all delivered, in order, once; later ones are delivered at the next login with nothing redelivered",
			users: []string{"ra4", "rb4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				filler := strings.Repeat("0123456789abcdef", 20<<10/16) // ~20 KB
				body := func(i int) string { return fmt.Sprintf("m%02d-%s", i, filler) }
				send := func(from, to int) {
					for i := from; i <= to; i++ {
						a.send(fmt.Sprintf("<message type='chat' id='big%d' to='%s'><body>%s</body></message>", i, u[1], body(i)))
					}
					a.sync()
				}
				receive := func(b *xclient, from, to int) {
					for i := from; i <= to; i++ {
						m := b.wait(fmt.Sprintf("offline message %d", i), isBodyMessage)
						if got := m.child("", "body").Text; got != body(i) {
							t.Fatalf("offline message %d: got body %.8q… (%d bytes); want %.8q… (in order, none lost)", i, got, len(got), body(i))
						}
					}
					b.none("no further offline message (nothing redelivered)", isBodyMessage)
				}
				send(1, 30)
				a.none("no error storing 30 messages", func(e *elem) bool { return e.attr("type") == "error" })
				b := online(t, &srv.target, u[1], "b", "")
				receive(b, 1, 30)
				b.close()
				send(31, 35)
				b = online(t, &srv.target, u[1], "b2", "")
				receive(b, 31, 35)
			}},
	}
}
