package e2e

import (
	"strings"
	"testing"
)

const nsSM = "urn:xmpp:sm:3"

func TestStreamManagement(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, smRows())
}

func isSM(local string) func(*elem) bool {
	return func(e *elem) bool { return e.Space == nsSM && e.Local == local }
}

// enableSM enables XEP-0198 on c and checks the answer: <enabled/>, and no resumption offered.
func enableSM(t *testing.T, c *xclient) {
	t.Helper()
	if !strings.Contains(c.features, nsSM) {
		t.Fatalf("features after authentication %s: no <sm xmlns='%s'/> (XEP-0198 §2)", c.features, nsSM)
	}
	c.send("<enable xmlns='" + nsSM + "' resume='true'/>")
	e := c.wait("<enabled/> (XEP-0198 §3)", isSM("enabled"))
	if e.attr("resume") == "true" || e.attr("resume") == "1" {
		t.Errorf("<enabled/> offers resumption (%s), which tern does not keep", e)
	}
}

// ackH asks the server for its count of stanzas handled from c (XEP-0198 §4).
func ackH(c *xclient) string {
	c.send("<r xmlns='" + nsSM + "'/>")
	return c.wait("<a/> answering <r/> (XEP-0198 §4)", isSM("a")).attr("h")
}

func smRows() []featureRow {
	return []featureRow{
		{name: "enable-and-count", rule: "XEP-0198 §3, §4: <enable/> after bind gets <enabled/>; <r/> is answered with the stanzas handled since; the server asks for acks of what it sends; a second <enable/> fails",
			users: []string{"sm1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				enableSM(t, c)
				if h := ackH(c); h != "0" {
					t.Errorf("h before any stanza = %q, want 0", h)
				}
				c.send("<presence/>")
				c.wait("own presence", isPresenceFrom(c.jid, ""))
				c.iq("get", c.domain(), "<ping xmlns='urn:xmpp:ping'/>")
				if h := ackH(c); h != "2" {
					t.Errorf("h after a presence and an iq = %q, want 2", h)
				}
				c.wait("the server's own <r/> after sending stanzas (XEP-0198 §4)", isSM("r"))
				c.send("<a xmlns='" + nsSM + "' h='2'/>") // the presence and the ping result
				c.send("<enable xmlns='" + nsSM + "'/>")
				f := c.wait("<failed/> for a second <enable/>", isSM("failed"))
				if f.child(nsStanzaErr, "unexpected-request") == nil {
					t.Errorf("second <enable/>: got %s; want <failed><unexpected-request/></failed>", f)
				}
				c.sync() // the session goes on
			}},
		{name: "enable-before-bind", rule: "XEP-0198 §3: <enable/> before binding fails with unexpected-request; §5: <resume/> of an unknown session fails with item-not-found; binding still works",
			users: []string{"sm2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				raw := dialRaw(t, &srv.target, false)
				if ok, f := authenticate(raw, &srv.target, u[0], loginOpts{}); !ok {
					t.Fatal(f)
				}
				raw.send(streamHeader(srv.domain))
				raw.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)
				raw.send("<enable xmlns='" + nsSM + "'/>")
				raw.expect(`<failed[^>]*urn:xmpp:sm:3[^>]*>\s*<unexpected-request[^>]*xmpp-stanzas`)
				raw.send("<resume xmlns='" + nsSM + "' previd='nosuchsession' h='0'/>")
				raw.expect(`<failed[^>]*urn:xmpp:sm:3[^>]*>\s*<item-not-found[^>]*xmpp-stanzas`)
				raw.send("<iq type='set' id='b1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>")
				raw.expect(`<jid>[^<]+</jid>`)
			}},
		{name: "unacked-messages-rerouted", rule: "XEP-0198 §4 and RFC 6120 §10.4.3: messages a client got but never acknowledged when its connection dies are not lost: they are stored offline and come with the next login; acknowledged ones do not come again",
			users: []string{"sm3", "smb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "phone", "")
				enableSM(t, a)
				b := online(t, &srv.target, u[1], "b", "")
				for _, body := range []string{"one", "two", "three"} {
					b.send("<message type='chat' to='" + a.jid + "'><body>" + body + "</body></message>")
					a.wait("message "+body, isMessageWithBody(body))
				}
				a.send("<a xmlns='" + nsSM + "' h='1'/>") // only "one" was acknowledged
				a.raw.conn.Close()                        // the phone loses its network: no </stream:stream>
				back := online(t, &srv.target, u[0], "phone2", "")
				for _, body := range []string{"two", "three"} {
					m := back.wait("unacknowledged message "+body+" again, from offline storage or re-routing", isMessageWithBody(body))
					if m.attr("from") != b.jid {
						t.Errorf("re-routed %s: from %q, want %q", body, m.attr("from"), b.jid)
					}
				}
				back.none("the acknowledged message again", isMessageWithBody("one"), b)
				if n := metricValue(t, srv, "tern_sm_unacked_rerouted_total"); n < 2 {
					t.Errorf("tern_sm_unacked_rerouted_total = %v, want at least the 2 messages handed back", n)
				}
			}},
		{name: "unacked-iq-bounced", rule: "XEP-0198 §4 and RFC 6120 §10.4.3: an iq request a client never acknowledged before its connection died is answered with an error, not left unanswered",
			users: []string{"sm4", "smb4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				a.answerPings.Store(false)
				enableSM(t, a)
				b := online(t, &srv.target, u[1], "b", "")
				b.send("<iq type='get' id='lost1' to='" + a.jid + "'><query xmlns='jabber:iq:version'/></iq>")
				a.wait("the iq", func(e *elem) bool { return e.Local == "iq" && e.attr("id") == "lost1" })
				a.raw.conn.Close()
				r := b.wait("an answer to the iq whose recipient vanished", func(e *elem) bool { return e.Local == "iq" && e.attr("id") == "lost1" })
				if r.errorCondition() != "service-unavailable" {
					t.Errorf("got %s; want an error with service-unavailable", r)
				}
			}},
		{name: "ack-too-high", rule: "XEP-0198 §4: acknowledging more stanzas than were sent is a stream error (undefined-condition with <handled-count-too-high/>)",
			users: []string{"sm5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				enableSM(t, c)
				c.send("<a xmlns='" + nsSM + "' h='5'/>")
				e := c.waitStreamEnd()
				if e.streamErrorCondition() != "undefined-condition" || e.child(nsSM, "handled-count-too-high") == nil {
					t.Errorf("got %v; want <undefined-condition/> with <handled-count-too-high xmlns='%s'/>", e, nsSM)
				}
			}},
	}
}
