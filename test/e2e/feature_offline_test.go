package e2e

import (
	"fmt"
	"strings"
	"testing"
)

func TestOffline(t *testing.T) {
	t.Parallel()
	t.Run("quota-3", func(t *testing.T) {
		t.Parallel()
		runFeatureRows(t, ternOpts{OfflineQuota: 3}, offlineRows())
	})
	t.Run("survives-sigkill", func(t *testing.T) {
		t.Parallel()
		// XEP-0160 §3: stored means stored; a crash right after must not lose the message.
		srv := startTern(t, ternOpts{})
		alice, bob := srv.users[0], srv.users[1]
		a := online(t, &srv.target, alice, "a", "")
		a.send("<message type='chat' to='" + bob + "'><body>before the crash</body></message>")
		a.sync() // the server has handled (and stored) the message before it answers the ping
		srv.crash(t)
		srv.restart(t)
		b := online(t, &srv.target, bob, "b", "")
		b.wait("the message stored before SIGKILL", isMessageWithBody("before the crash"))
	})
}

func offlineRows() []featureRow {
	send := func(c *xclient, to string, bodies ...string) {
		for i, b := range bodies {
			c.send(fmt.Sprintf("<message type='chat' id='m%d' to='%s'><body>%s</body></message>", i+1, to, b))
		}
	}
	return []featureRow{
		{name: "quota", rule: "XEP-0160 §4 (tern: offline_quota): past the quota the sender gets service-unavailable, never silence",
			users: []string{"oa1", "ob1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				send(a, u[1], "1", "2", "3", "4")
				e := a.wait("an error for the 4th message", func(e *elem) bool {
					return e.Local == "message" && e.attr("type") == "error"
				})
				if e.attr("id") != "m4" {
					t.Errorf("error %s: want it for m4, the first over the quota of 3", e)
				}
				wantCondition(t, "4th message over the quota", e, "service-unavailable")
				a.none("no error for the messages within the quota", func(e *elem) bool {
					return e.Local == "message" && e.attr("type") == "error"
				})
			}},
		{name: "chat-state-only-not-stored", rule: "XEP-0160 §3, XEP-0085 §5.6: a message with only a chat state is not stored offline",
			users: []string{"oa2", "ob2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				a.send("<message type='chat' to='" + u[1] + "'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
				send(a, u[1], "real")
				a.sync()
				b := online(t, &srv.target, u[1], "b", "")
				b.wait("the message with a body", isMessageWithBody("real"))
				b.none("the chat-state-only message", func(e *elem) bool {
					return e.Local == "message" && e.child("http://jabber.org/protocol/chatstates", "composing") != nil
				})
			}},
		{name: "order-kept", rule: "XEP-0160 §4, RFC 6120 §10.1: offline messages are delivered in the order they were sent",
			users: []string{"oa3", "ob3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				send(a, u[1], "first", "second", "third")
				a.sync()
				b := online(t, &srv.target, u[1], "b", "")
				var got []string
				for range 3 {
					m := b.wait("an offline message", func(e *elem) bool { return e.Local == "message" && e.child("", "body") != nil })
					got = append(got, m.child("", "body").Text)
					if d := m.child("urn:xmpp:delay", "delay"); d == nil || d.attr("stamp") == "" {
						t.Errorf("offline message %s: want an XEP-0203 <delay/> with a stamp", m)
					}
				}
				if strings.Join(got, ",") != "first,second,third" {
					t.Errorf("offline messages arrived as %v; want first, second, third", got)
				}
			}},
	}
}
