package e2e

import (
	"testing"
)

func TestCarbons(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, carbonsRows())
}

const nsCarbons = "urn:xmpp:carbons:2"

func enableCarbons(t *testing.T, c *xclient) {
	t.Helper()
	wantCondition(t, "enable carbons (XEP-0280 §4)", c.iq("set", "", "<enable xmlns='"+nsCarbons+"'/>"), "")
}

// isCarbon matches a carbon of kind (sent/received) wrapping a message with body, from owner's
// bare JID (XEP-0280 §11: only those are genuine).
func isCarbon(kind, owner, body string) func(*elem) bool {
	return func(e *elem) bool {
		m := e.path(nsCarbons+" "+kind, "urn:xmpp:forward:0 forwarded", "message")
		return e.Local == "message" && e.attr("from") == owner && m != nil && m.child("", "body") != nil && m.child("", "body").Text == body
	}
}

func carbonsRows() []featureRow {
	return []featureRow{
		{name: "sent-and-received", rule: "XEP-0280 §7, §8: resources with carbons enabled get <received/> and <sent/> copies; others do not",
			users: []string{"ca1", "cb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a1 := online(t, &srv.target, u[0], "one", "")
				a2 := online(t, &srv.target, u[0], "two", "")
				plain := online(t, &srv.target, u[0], "plain", "")
				b := online(t, &srv.target, u[1], "b", "")
				enableCarbons(t, a1)
				enableCarbons(t, a2)
				b.send("<message type='chat' to='" + a1.jid + "'><body>to one</body></message>")
				a1.wait("the message itself", isMessageWithBody("to one"))
				a2.wait("a <received/> carbon", isCarbon("received", u[0], "to one"))
				a1.send("<message type='chat' to='" + b.jid + "'><body>from one</body></message>")
				b.wait("the message", isMessageWithBody("from one"))
				a2.wait("a <sent/> carbon", isCarbon("sent", u[0], "from one"))
				a1.none("no carbon of its own sent message", isCarbon("sent", u[0], "from one"), b)
				plain.none("no carbons without enabling them", func(e *elem) bool {
					return e.child(nsCarbons, "sent") != nil || e.child(nsCarbons, "received") != nil
				}, a1, b)
			}},
		{name: "private-not-copied", rule: "XEP-0280 §6: a message with <private/> is not copied, and the receiving server removes <private/>",
			users: []string{"ca2", "cb2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a1 := online(t, &srv.target, u[0], "one", "")
				a2 := online(t, &srv.target, u[0], "two", "")
				b := online(t, &srv.target, u[1], "b", "")
				enableCarbons(t, a1)
				enableCarbons(t, a2)
				a1.send("<message type='chat' to='" + b.jid + "'><body>secret</body><private xmlns='" + nsCarbons + "'/></message>")
				b.send("<message type='chat' to='" + a1.jid + "'><body>secret back</body><private xmlns='" + nsCarbons + "'/></message>")
				withoutPrivate := func(body string) func(*elem) bool {
					return func(e *elem) bool { return isMessageWithBody(body)(e) && e.child(nsCarbons, "private") == nil }
				}
				b.wait("the private message, <private/> removed", withoutPrivate("secret"))
				a1.wait("the private message, <private/> removed", withoutPrivate("secret back"))
				a2.none("no carbon of private messages", func(e *elem) bool {
					return e.child(nsCarbons, "sent") != nil || e.child(nsCarbons, "received") != nil
				}, a1, b)
			}},
		{name: "forged-carbon-dropped", rule: "XEP-0280 §11: a carbon not from the user's own bare JID is forged; tern drops it",
			users: []string{"ca3", "cb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				enableCarbons(t, a)
				b.send("<message type='chat' to='" + a.jid + "'><received xmlns='" + nsCarbons + "'><forwarded xmlns='urn:xmpp:forward:0'>" +
					"<message xmlns='jabber:client' type='chat' from='evil@" + srv.domain + "/x' to='" + a.jid + "'><body>forged</body></message>" +
					"</forwarded></received></message>")
				a.none("the forged carbon", func(e *elem) bool { return e.child(nsCarbons, "received") != nil }, b)
			}},
	}
}
