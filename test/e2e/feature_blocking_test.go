package e2e

import (
	"testing"
)

func TestBlocking(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, blockingRows())
}

const nsBlocking = "urn:xmpp:blocking"

func blockIQ(op string, jids ...string) string {
	s := "<" + op + " xmlns='" + nsBlocking + "'>"
	for _, j := range jids {
		s += "<item jid='" + j + "'/>"
	}
	return s + "</" + op + ">"
}

func blocklist(t *testing.T, c *xclient) []string {
	t.Helper()
	r := c.iq("get", "", "<blocklist xmlns='"+nsBlocking+"'/>")
	l := r.child(nsBlocking, "blocklist")
	if l == nil {
		t.Fatalf("blocklist get: %s", r)
	}
	var out []string
	for _, it := range l.children(nsBlocking, "item") {
		out = append(out, it.attr("jid"))
	}
	return out
}

// isBlockPush matches a push of op (block/unblock) with exactly the given items.
func isBlockPush(op string, jids ...string) func(*elem) bool {
	return func(e *elem) bool {
		p := e.child(nsBlocking, op)
		if e.Local != "iq" || e.attr("type") != "set" || p == nil || len(p.Kids) != len(jids) {
			return false
		}
		for i, it := range p.Kids {
			if it.attr("jid") != jids[i] {
				return false
			}
		}
		return true
	}
}

func blockingRows() []featureRow {
	return []featureRow{
		{name: "block-unblock-pushes", rule: "XEP-0191 §5.2-§5.5: block, unblock, unblock all; pushes go to every resource that requested the list",
			users: []string{"ba1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a1 := connect(t, &srv.target, u[0], loginOpts{resource: "one"})
				a2 := connect(t, &srv.target, u[0], loginOpts{resource: "two"})
				a3 := connect(t, &srv.target, u[0], loginOpts{resource: "never-asked"})
				if l := blocklist(t, a1); len(l) != 0 {
					t.Errorf("initial blocklist %v; want empty", l)
				}
				blocklist(t, a2)
				x, y := "x@"+srv.domain, "y@"+srv.domain
				wantCondition(t, "block with no item (§5.3: bad-request)", a1.iq("set", "", blockIQ("block")), "bad-request")
				wantCondition(t, "block", a1.iq("set", "", blockIQ("block", x)), "")
				a1.wait("block push", isBlockPush("block", x))
				a2.wait("block push", isBlockPush("block", x))
				if l := blocklist(t, a1); len(l) != 1 || l[0] != x {
					t.Errorf("blocklist after block %v; want [%s]", l, x)
				}
				wantCondition(t, "unblock", a1.iq("set", "", blockIQ("unblock", x)), "")
				a2.wait("unblock push", isBlockPush("unblock", x))
				wantCondition(t, "block two", a1.iq("set", "", blockIQ("block", x, y)), "")
				a2.wait("block push of two", isBlockPush("block", x, y))
				wantCondition(t, "unblock all", a1.iq("set", "", blockIQ("unblock")), "")
				a1.wait("unblock-all push", isBlockPush("unblock"))
				a2.wait("unblock-all push", isBlockPush("unblock"))
				if l := blocklist(t, a1); len(l) != 0 {
					t.Errorf("blocklist after unblock all %v; want empty", l)
				}
				a3.none("no pushes for a resource that never requested the list", func(e *elem) bool {
					return e.child(nsBlocking, "block") != nil || e.child(nsBlocking, "unblock") != nil
				}, a1)
			}},
		{name: "inbound-from-blocked", rule: "XEP-0191 §5.3: stanzas from a blocked JID are not delivered; message and iq get service-unavailable",
			users: []string{"ba2", "bb2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				wantCondition(t, "block", a.iq("set", "", blockIQ("block", u[1])), "")
				b.send("<message type='chat' id='blocked1' to='" + a.jid + "'><body>let me in</body></message>")
				e := b.wait("an error for the message to a user who blocked us", func(e *elem) bool {
					return e.Local == "message" && e.attr("id") == "blocked1"
				})
				wantCondition(t, "message to a blocker", e, "service-unavailable")
				wantCondition(t, "iq to a blocker", b.iq("get", a.jid, "<query xmlns='jabber:iq:version'/>"), "service-unavailable")
				a.none("nothing from the blocked contact", func(e *elem) bool { return e.attr("from") == b.jid }, b)
			}},
		{name: "outbound-to-blocked", rule: "XEP-0191 §5.3: a message to a blocked JID is not-acceptable with <blocked xmlns='urn:xmpp:blocking:errors'/>",
			users: []string{"ba3", "bb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				wantCondition(t, "block", a.iq("set", "", blockIQ("block", u[1])), "")
				a.send("<message type='chat' id='out1' to='" + b.jid + "'><body>can you hear me</body></message>")
				e := a.wait("an error for our message to a blocked contact", func(e *elem) bool {
					return e.Local == "message" && e.attr("id") == "out1"
				})
				wantCondition(t, "message to a blocked JID", e, "not-acceptable")
				if e.path("error", "urn:xmpp:blocking:errors blocked") == nil {
					t.Errorf("error %s: want the application condition <blocked xmlns='urn:xmpp:blocking:errors'/>", e)
				}
				b.none("the message to a blocked JID is not routed", isMessageWithBody("can you hear me"), a)
			}},
		{name: "presence-stops", rule: "XEP-0191 §5.3: blocking sends unavailable to the contact, then no presence flows either way",
			users: []string{"ba4", "bb4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a, b)
				a.forget()
				b.forget()
				wantCondition(t, "block", a.iq("set", "", blockIQ("block", u[1])), "")
				b.wait("unavailable from the blocker", isPresenceFrom(a.jid, "unavailable"))
				a.send("<presence><show>dnd</show></presence>")
				b.send("<presence><show>xa</show></presence>")
				b.none("no presence from the blocker", isPresenceFrom(a.jid, ""), a)
				a.none("no presence from the blocked contact", isPresenceFrom(b.jid, ""), b)
			}},
		{name: "unblock-sends-presence", rule: "XEP-0191 §5.4: unblocking sends the user's current presence to a contact entitled to it",
			users: []string{"ba5", "bb5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a, b)
				wantCondition(t, "block", a.iq("set", "", blockIQ("block", u[1])), "")
				a.send("<presence><show>dnd</show></presence>")
				a.sync()
				b.forget()
				wantCondition(t, "unblock", a.iq("set", "", blockIQ("unblock", u[1])), "")
				p := b.wait("the blocker's current presence after unblock", isPresenceFrom(a.jid, ""))
				if s := p.child("", "show"); s == nil || s.Text != "dnd" {
					t.Errorf("presence after unblock %s: want the current one (show dnd)", p)
				}
			}},
	}
}
