package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

const nsSM = "urn:xmpp:sm:3"

func TestStreamManagement(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, smRows())
}

func isSM(local string) func(*elem) bool {
	return func(e *elem) bool { return e.Space == nsSM && e.Local == local }
}

// enableSM enables XEP-0198 on c without asking for resumption and checks the answer:
// <enabled/>, and no resumption offered.
func enableSM(t *testing.T, c *xclient) {
	t.Helper()
	if !strings.Contains(c.features, nsSM) {
		t.Fatalf("features after authentication %s: no <sm xmlns='%s'/> (XEP-0198 §2)", c.features, nsSM)
	}
	c.send("<enable xmlns='" + nsSM + "'/>")
	e := c.wait("<enabled/> (XEP-0198 §3)", isSM("enabled"))
	if e.attr("resume") == "true" || e.attr("resume") == "1" {
		t.Errorf("<enabled/> offers resumption (%s) to a client that did not ask", e)
	}
}

// enableResumable enables XEP-0198 with resumption and returns the session's id (§5).
func enableResumable(t *testing.T, c *xclient) string {
	t.Helper()
	c.send("<enable xmlns='" + nsSM + "' resume='true'/>")
	e := c.wait("<enabled resume='true'/> (XEP-0198 §5)", isSM("enabled"))
	if e.attr("resume") != "true" || len(e.attr("id")) < 16 || e.attr("max") == "" {
		t.Fatalf("got %s; want <enabled id='...' resume='true' max='...'/>", e)
	}
	return e.attr("id")
}

// resumeStream logs user in on a new connection and sends <resume/>; it returns the raw
// connection and the server's answer (<resumed/> or <failed/>) as text.
func resumeStream(t *testing.T, srv *target, user, previd, h string) (*rawClient, string) {
	t.Helper()
	raw := dialRaw(t, srv, false)
	if ok, f := authenticate(raw, srv, user, loginOpts{}); !ok {
		t.Fatalf("login %s: %s", user, f)
	}
	raw.send(streamHeader(srv.domain))
	raw.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)
	raw.send("<resume xmlns='" + nsSM + "' previd='" + previd + "' h='" + h + "'/>")
	return raw, raw.expect(`<resumed[^>]*/>|<failed[^>]*/>|(?s)<failed[^>]*>.*?</failed>`)[0]
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
		{name: "resume", rule: "XEP-0198 §5: a session whose connection died stays bound; <resume/> on a new connection gets <resumed h/> and every stanza not acknowledged, including what arrived meanwhile; another user cannot resume it",
			users: []string{"sm6", "smb6", "smc6"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "phone", "")
				id := enableResumable(t, a)
				b := online(t, &srv.target, u[1], "b", "")
				for _, body := range []string{"r1", "r2"} {
					b.send("<message type='chat' to='" + a.jid + "'><body>" + body + "</body></message>")
					a.wait("message "+body, isMessageWithBody(body))
				}
				a.send("<a xmlns='" + nsSM + "' h='1'/>") // r1 only
				a.raw.conn.Close()
				b.send("<message type='chat' to='" + a.jid + "'><body>r3</body></message>")
				b.sync()

				if _, answer := resumeStream(t, &srv.target, u[2], id, "1"); !strings.Contains(answer, "item-not-found") {
					t.Errorf("another user resuming %s's session: got %s; want <failed><item-not-found/></failed>", u[0], answer)
				}
				raw, answer := resumeStream(t, &srv.target, u[0], id, "1")
				if r := parseElem(t, answer); r.Local != "resumed" || r.attr("previd") != id || r.attr("h") != "0" {
					t.Fatalf("resume: got %s; want <resumed previd='%s' h='0'/> (a sent no stanza after enabling)", answer, id)
				}
				c := streamClient(t, raw, a.jid, "")
				c.wait("r2 sent again (not acknowledged)", isMessageWithBody("r2"))
				c.wait("r3, which arrived while the connection was down", isMessageWithBody("r3"))
				b.send("<message type='chat' to='" + a.jid + "'><body>r4</body></message>")
				c.wait("r4, sent to the same full JID after the resumption", isMessageWithBody("r4"))
				c.none("r1 again (acknowledged)", isMessageWithBody("r1"), b)
			}},
		{name: "resume-after-idle", rule: "XEP-0198 §5: a session idle long enough to be parked (no goroutine) hibernates too when its connection drops, and resumes",
			users: []string{"sm8", "smb8"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "idle", "")
				id := enableResumable(t, a)
				b := online(t, &srv.target, u[1], "b", "")
				time.Sleep(3 * time.Second) // past c2s parkAfter (2s): the session is parked
				a.raw.conn.Close()
				b.send("<message type='chat' to='" + a.jid + "'><body>to the parked one</body></message>")
				b.sync()
				raw, answer := resumeStream(t, &srv.target, u[0], id, "0")
				if r := parseElem(t, answer); r.Local != "resumed" {
					t.Fatalf("resume after idling: got %s; want <resumed/>", answer)
				}
				c := streamClient(t, raw, a.jid, "")
				c.wait("the message sent while the connection was down", isMessageWithBody("to the parked one"))
			}},
		{name: "resume-while-old-connection-open", rule: "XEP-0198 §5: resuming while the server still holds the previous connection closes that one and resumes",
			users: []string{"sm7"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "laptop", "")
				id := enableResumable(t, a)
				raw, answer := resumeStream(t, &srv.target, u[0], id, "0")
				if !strings.Contains(answer, "<resumed") {
					t.Fatalf("resume with the old connection open: got %s; want <resumed/>", answer)
				}
				a.waitStreamEnd()
				c := streamClient(t, raw, a.jid, "")
				c.sync()
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

// TestStreamManagementResumeExpires: a session nobody resumes within limits.resume_timeout
// ends as if its connection had just closed: its contacts see it go unavailable, what it had
// not acknowledged goes to offline storage, and its id no longer resumes anything (§5).
func TestStreamManagementResumeExpires(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{Users: []string{"exp@localhost", "friend@localhost"}, ExtraTOML: `resume_timeout = "1s"`})
	a := online(t, &srv.target, srv.user("exp"), "phone", "")
	b := online(t, &srv.target, srv.user("friend"), "b", "")
	befriend(t, a, b)
	id := enableResumable(t, a)
	b.send("<message type='chat' to='" + a.jid + "'><body>while you were out</body></message>")
	a.wait("the message", isMessageWithBody("while you were out"))
	a.raw.conn.Close() // never acknowledged
	b.wait("unavailable presence once the resumption window has passed", isPresenceFrom(a.jid, "unavailable"))
	if _, answer := resumeStream(t, &srv.target, a.bare, id, "0"); !strings.Contains(answer, "item-not-found") {
		t.Errorf("resuming an expired session: got %s; want <failed><item-not-found/></failed>", answer)
	}
	back := online(t, &srv.target, a.bare, "phone2", "")
	m := back.wait("the unacknowledged message from offline storage", isMessageWithBody("while you were out"))
	if m.child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("stored message %s has no <delay/> (XEP-0203)", m)
	}
}

// TestStreamManagementHibernationSurvivesCrash: a message for a session that is waiting to be
// resumed is kept as offline storage keeps it, on disk, not only in the session's memory: after
// kill -9 and a restart, the user's next login gets it.
func TestStreamManagementHibernationSurvivesCrash(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{Users: []string{"hib@localhost", "sender@localhost"}})
	a := hibernating(t, srv, srv.user("hib"))
	b := online(t, &srv.target, srv.user("sender"), "b", "")
	b.send("<message type='chat' to='" + a.jid + "'><body>on disk</body></message>")
	b.sync() // routed, so stored, before the answer
	srv.crash(t)
	srv.restart(t)
	back := online(t, &srv.target, a.bare, "phone2", "")
	back.wait("the message sent while the session waited for resumption, after kill -9", isMessageWithBody("on disk"))
}

// hibernating logs user in as "phone" with a resumable session, cuts its connection, and
// returns once the server keeps the session for resumption (XEP-0198 §5).
func hibernating(t *testing.T, srv *ternProc, user string) *xclient {
	t.Helper()
	a := online(t, &srv.target, user, "phone", "")
	enableResumable(t, a)
	a.raw.conn.Close()
	waitLog(t, srv, "session kept for resumption", a.jid)
	return a
}

// waitLog polls the server's log until a line holds every one of parts.
func waitLog(t *testing.T, srv *ternProc, parts ...string) {
	t.Helper()
	deadline := time.Now().Add(rawTimeout)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(srv.logFile)
		for _, line := range strings.Split(string(b), "\n") {
			ok := true
			for _, p := range parts {
				ok = ok && strings.Contains(line, p)
			}
			if ok {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in %s:\n%s", parts, srv.logFile, tail(srv.logFile))
}
