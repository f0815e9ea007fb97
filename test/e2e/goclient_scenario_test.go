package e2e

import (
	"context"
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/roster"
	"mellium.im/xmpp/stanza"
)

// scenarioStepTimeout bounds each step of TestRosterPresenceOfflineMellium; nothing else is timed.
const scenarioStepTimeout = 15 * time.Second

// TestRosterPresenceOfflineMellium runs the roster/presence/offline scenario of scenario.py with
// mellium.im/xmpp instead of slixmpp: mutual subscription (RFC 6121 §3), presence exchange
// (§4), chat both ways (§5), and offline storage delivered in order with XEP-0203 <delay/>
// once the contact is back (§8.5.2.2.1, XEP-0160). Prosody, the reference, has no
// SCRAM-SHA-256 (see its lacks), so the SCRAM-SHA-1 row is the one that runs on both servers.
func TestRosterPresenceOfflineMellium(t *testing.T) {
	rows := []struct {
		name string
		mech sasl.Mechanism
	}{
		{"scram-sha-256", sasl.ScramSha256},
		{"scram-sha-1", sasl.ScramSha1},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			t.Parallel()
			forEachServer(t, func(t *testing.T, srv *target) {
				srv.require(t, row.mech.Name)
				runMelliumScenario(t, srv, row.mech)
			})
		})
	}
}

func runMelliumScenario(t *testing.T, srv *target, mech sasl.Mechanism) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	A, B := jid.MustParse(srv.users[0]), jid.MustParse(srv.users[1])
	sc := &melliumScenario{t: t, srv: srv, ctx: ctx}

	// 1. Log in; a roster get before initial presence makes each an interested resource (§2.1.6).
	alice := sc.login(A, mech, "login-alice")
	bob := sc.login(B, mech, "login-bob")

	// 2. alice subscribes to bob (§3.1.1-§3.1.3).
	sc.send(alice, "subscribe-alice", stanza.Presence{To: B, Type: stanza.SubscribePresence})
	sc.wait(alice, 0, "subscribe-push-alice", "RFC 6121 §3.1.2",
		"a roster push for "+B.String()+" with subscription='none' ask='subscribe'", isPushOf(B, "none", "subscribe"))
	sc.wait(bob, 0, "subscribe-delivered-bob", "RFC 6121 §3.1.3",
		"presence type='subscribe' from "+A.String(), isPresenceOf(A, "subscribe", false))

	// 3. bob approves: pushes on both sides, 'subscribed' and bob's available presence to alice.
	sc.send(bob, "approve-bob", stanza.Presence{To: A, Type: stanza.SubscribedPresence})
	sc.wait(bob, 0, "approve-push-bob", "RFC 6121 §3.1.5",
		"a roster push for "+A.String()+" with subscription='from'", isPushOf(A, "from", ""))
	sc.wait(alice, 0, "approve-push-alice", "RFC 6121 §3.1.6",
		"a roster push for "+B.String()+" with subscription='to'", isPushOf(B, "to", ""))
	sc.wait(alice, 0, "approve-subscribed-alice", "RFC 6121 §3.1.6",
		"presence type='subscribed' from "+B.String(), isPresenceOf(B, "subscribed", false))
	p := sc.wait(alice, 0, "presence-bob-to-alice", "RFC 6121 §3.1.5, §4.2.2 (bob's presence to the new subscriber)",
		"available presence from "+bob.addr.String(), isPresenceOf(B, "", true))
	if got := p.attr("from"); got != bob.addr.String() {
		sc.fail("presence-bob-to-alice", "RFC 6121 §4.2.2, RFC 6120 §8.1.2.1", "available presence from "+bob.addr.String(), p.String())
	}

	// 4. bob subscribes back and alice approves: both items end 'both'.
	sc.send(bob, "subscribe-back-bob", stanza.Presence{To: A, Type: stanza.SubscribePresence})
	sc.wait(alice, 0, "subscribe-back-delivered-alice", "RFC 6121 §3.1.3",
		"presence type='subscribe' from "+B.String(), isPresenceOf(B, "subscribe", false))
	sc.send(alice, "approve-alice", stanza.Presence{To: B, Type: stanza.SubscribedPresence})
	sc.wait(alice, 0, "both-push-alice", "RFC 6121 §3.1.5",
		"a roster push for "+B.String()+" with subscription='both'", isPushOf(B, "both", ""))
	sc.wait(bob, 0, "both-push-bob", "RFC 6121 §3.1.6",
		"a roster push for "+A.String()+" with subscription='both'", isPushOf(A, "both", ""))
	sc.wait(bob, 0, "subscribed-delivered-bob", "RFC 6121 §3.1.6",
		"presence type='subscribed' from "+A.String(), isPresenceOf(A, "subscribed", false))
	p = sc.wait(bob, 0, "presence-alice-to-bob", "RFC 6121 §3.1.5, §4.2.2 (alice's presence to the new subscriber)",
		"available presence from "+alice.addr.String(), isPresenceOf(A, "", true))
	if got := p.attr("from"); got != alice.addr.String() {
		sc.fail("presence-alice-to-bob", "RFC 6121 §4.2.2, RFC 6120 §8.1.2.1", "available presence from "+alice.addr.String(), p.String())
	}
	sc.rosterBoth(alice, B, "roster-both-alice")
	sc.rosterBoth(bob, A, "roster-both-bob")

	// 5. Chat both ways: alice to bob's bare JID, bob back to the full JID it came from.
	nonce := randomPassword(t)[:8]
	m1, m2 := "hello bob "+nonce, "hello alice "+nonce
	sc.send(alice, "chat-alice-to-bob", chatMessage{Message: stanza.Message{To: B, Type: stanza.ChatMessage}, Body: m1})
	got := sc.wait(bob, 0, "chat-alice-to-bob", "RFC 6121 §8.5.2.1.1 (chat to the bare JID reaches the available resource)",
		fmt.Sprintf("chat %q from %s", m1, alice.addr), isChatBody(m1))
	if got.attr("from") != alice.addr.String() {
		sc.fail("chat-alice-to-bob", "RFC 6120 §8.1.2.1 (the server stamps the sender's full JID)",
			fmt.Sprintf("chat %q from %s", m1, alice.addr), got.String())
	}
	sc.send(bob, "chat-bob-to-alice", chatMessage{Message: stanza.Message{To: alice.addr, Type: stanza.ChatMessage}, Body: m2})
	got = sc.wait(alice, 0, "chat-bob-to-alice", "RFC 6121 §8.5.3.1 (message to a connected full JID)",
		fmt.Sprintf("chat %q from %s", m2, bob.addr), isChatBody(m2))
	if got.attr("from") != bob.addr.String() {
		sc.fail("chat-bob-to-alice", "RFC 6120 §8.1.2.1 (the server stamps the sender's full JID)",
			fmt.Sprintf("chat %q from %s", m2, bob.addr), got.String())
	}

	// 6. bob closes his session; alice, his subscriber, learns he is gone. That presence is
	// also the barrier after which bob has no available resource.
	mark := alice.mark()
	bob.close(t, "logout-bob")
	sc.wait(alice, mark, "unavailable-bob", "RFC 6121 §4.5.2 (unavailable broadcast when the session ends)",
		"unavailable presence from "+bob.addr.String(), func(e *elem) bool {
			return e.Local == "presence" && e.attr("type") == "unavailable" && e.attr("from") == bob.addr.String()
		})

	// 7. alice sends three chats to bob's bare JID; a roster get is a barrier proving the server
	// handled them, and none may bounce.
	mark = alice.mark()
	bodies := []string{"offline 1/3 " + nonce, "offline 2/3 " + nonce, "offline 3/3 " + nonce}
	for _, body := range bodies {
		sc.send(alice, "offline-send", chatMessage{Message: stanza.Message{To: B, Type: stanza.ChatMessage}, Body: body})
	}
	sc.roster(alice, "offline-send")
	if errs := alice.find(mark, func(e *elem) bool { return e.Local == "message" && e.attr("type") == "error" }); len(errs) > 0 {
		sc.fail("offline-send", "RFC 6121 §8.5.2.2.1, XEP-0160 §3 (chat to a contact with no available resource is stored)",
			"no error for the 3 messages", errs[0].String())
	}

	// 8. bob logs in again with initial presence: the three messages, in send order, each
	// carrying an XEP-0203 <delay/> with a stamp.
	bob2 := sc.login(B, mech, "relogin-bob")
	var gotBodies []string
	var msgs []*elem
	since := 0
	for range bodies {
		i, m := sc.waitAt(bob2, since, "offline-delivery", "XEP-0160 §4, RFC 6121 §8.5.2.2.1 (stored messages delivered on initial presence)",
			fmt.Sprintf("the 3 stored messages %q", bodies), func(e *elem) bool {
				return e.Local == "message" && e.attr("type") != "error" && e.child("", "body") != nil
			})
		since = i + 1
		msgs = append(msgs, m)
		gotBodies = append(gotBodies, m.child("", "body").Text)
	}
	if strings.Join(gotBodies, "\n") != strings.Join(bodies, "\n") {
		sc.fail("offline-order", "RFC 6120 §10.1, XEP-0160 §4 (delivered in the order sent)",
			fmt.Sprintf("%q", bodies), fmt.Sprintf("%q", gotBodies))
	}
	for _, m := range msgs {
		if from, err := jid.Parse(m.attr("from")); err != nil || !from.Bare().Equal(A) {
			sc.fail("offline-from", "RFC 6120 §8.1.2.1 (the stored message keeps its sender)", "from "+A.String()+"/<resource>", m.String())
		}
		d := m.child("urn:xmpp:delay", "delay")
		if d == nil || d.attr("stamp") == "" {
			sc.fail("offline-delay", "XEP-0203 §3, XEP-0160 §4 (offline messages carry <delay xmlns='urn:xmpp:delay' stamp=.../>)",
				"a <delay xmlns='urn:xmpp:delay' stamp='...'/>", m.String())
		}
		if _, err := time.Parse(time.RFC3339Nano, d.attr("stamp")); err != nil {
			sc.fail("offline-delay", "XEP-0203 §3, XEP-0082 (stamp is a UTC DateTime)", "a DateTime stamp", fmt.Sprintf("%s (%v)", m, err))
		}
	}
	t.Logf("%s: offline messages delivered with stamps %s, %s, %s", srv.name,
		msgs[0].child("urn:xmpp:delay", "delay").attr("stamp"), msgs[1].child("urn:xmpp:delay", "delay").attr("stamp"),
		msgs[2].child("urn:xmpp:delay", "delay").attr("stamp"))
}

// melliumScenario carries what every step of the scenario needs to report a failure.
type melliumScenario struct {
	t   *testing.T
	srv *target
	ctx context.Context
}

// fail stops the scenario at step: what rule says, what was expected, what arrived.
func (sc *melliumScenario) fail(step, rule, expected, got string) {
	sc.t.Helper()
	sc.t.Fatalf("%s: step %s (%s): expected %s; got %s", sc.srv.name, step, rule, expected, got)
}

// stepCtx bounds one step.
func (sc *melliumScenario) stepCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(sc.ctx, scenarioStepTimeout)
}

func (sc *melliumScenario) send(c *scenarioClient, step string, v any) {
	sc.t.Helper()
	ctx, cancel := sc.stepCtx()
	defer cancel()
	var err error
	if p, ok := v.(stanza.Presence); ok {
		err = c.s.Send(ctx, p.Wrap(nil))
	} else {
		err = c.s.Encode(ctx, v)
	}
	if err != nil {
		sc.fail(step, "RFC 6120 §8", "to send a stanza", err.Error())
	}
}

// login opens a session as user with exactly mech (STARTTLS first), fetches the roster and
// then sends initial presence (RFC 6121 §2.1.6, §4.2.1).
func (sc *melliumScenario) login(user jid.JID, mech sasl.Mechanism, step string) *scenarioClient {
	t := sc.t
	t.Helper()
	ctx, cancel := sc.stepCtx()
	defer cancel()
	conn, err := net.DialTimeout("tcp", sc.srv.c2s, scenarioStepTimeout)
	if err != nil {
		sc.fail(step, "RFC 6120 §3", "a TCP connection to "+sc.srv.c2s, err.Error())
	}
	tlsCfg := &tls.Config{ServerName: sc.srv.domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	s, err := xmpp.NewClientSession(ctx, user, conn,
		xmpp.StartTLS(tlsCfg), xmpp.SASL("", sc.srv.password, mech), xmpp.BindResource())
	if err != nil {
		conn.Close()
		sc.fail(step, "RFC 6120 §5-§7", "STARTTLS, "+mech.Name+" and resource binding", err.Error())
	}
	c := &scenarioClient{s: s, conn: conn, addr: s.LocalAddr(), changed: make(chan struct{}, 1), served: make(chan error, 1)}
	go func() {
		err := s.Serve(xmpp.HandlerFunc(c.handle))
		if err == nil {
			err = io.EOF
		}
		c.record(nil, err)
		c.served <- err
	}()
	t.Cleanup(func() { c.close(t, "cleanup") })
	sc.roster(c, step)
	sc.send(c, step, stanza.Presence{Type: stanza.AvailablePresence})
	return c
}

// roster fetches c's roster with mellium's roster package.
func (sc *melliumScenario) roster(c *scenarioClient, step string) map[string]roster.Item {
	sc.t.Helper()
	ctx, cancel := sc.stepCtx()
	defer cancel()
	items := map[string]roster.Item{}
	iter := roster.Fetch(ctx, c.s)
	for iter.Next() {
		it := iter.Item()
		items[it.JID.String()] = it
	}
	err := iter.Err()
	iter.Close()
	if err != nil {
		sc.fail(step, "RFC 6121 §2.1.3 (roster get is answered with the roster)", "a roster result", err.Error())
	}
	return items
}

// rosterBoth asserts c's roster holds contact with subscription='both'.
func (sc *melliumScenario) rosterBoth(c *scenarioClient, contact jid.JID, step string) {
	sc.t.Helper()
	items := sc.roster(c, step)
	it, ok := items[contact.String()]
	if !ok || it.Subscription != "both" {
		got := fmt.Sprintf("%+v", items)
		if ok {
			got = fmt.Sprintf("item %+v", it)
		}
		sc.fail(step, "RFC 6121 §2.1.2.5, §3.1.5-§3.1.6 (mutual subscription is 'both')",
			"roster item "+contact.String()+" with subscription='both'", got)
	}
}

// wait returns the first stanza c received at or after index since that matches pred, failing
// step after scenarioStepTimeout.
func (sc *melliumScenario) wait(c *scenarioClient, since int, step, rule, expected string, pred func(*elem) bool) *elem {
	sc.t.Helper()
	_, e := sc.waitAt(c, since, step, rule, expected, pred)
	return e
}

func (sc *melliumScenario) waitAt(c *scenarioClient, since int, step, rule, expected string, pred func(*elem) bool) (int, *elem) {
	sc.t.Helper()
	timer := time.NewTimer(scenarioStepTimeout)
	defer timer.Stop()
	for i := since; ; {
		c.mu.Lock()
		log, ended := c.log, c.ended
		c.mu.Unlock()
		for ; i < len(log); i++ {
			if pred(log[i]) {
				return i, log[i]
			}
		}
		if ended != nil {
			sc.fail(step, rule, expected, fmt.Sprintf("the session of %s ended (%v); %s", c.addr, ended, c.describe(since)))
		}
		select {
		case <-c.changed:
		case <-timer.C:
			sc.fail(step, rule, expected, fmt.Sprintf("nothing matching within %s; %s", scenarioStepTimeout, c.describe(since)))
		}
	}
}

// scenarioClient is a mellium session that logs every stanza it receives, in order, and
// answers roster pushes (RFC 6121 §2.1.6).
type scenarioClient struct {
	s       *xmpp.Session
	conn    net.Conn
	addr    jid.JID // bound full JID
	served  chan error
	changed chan struct{}

	mu    sync.Mutex
	log   []*elem
	ended error // set when Serve returned

	closeOnce sync.Once
}

func (c *scenarioClient) mark() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.log)
}

func (c *scenarioClient) find(since int, pred func(*elem) bool) []*elem {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*elem
	for _, e := range c.log[since:] {
		if pred(e) {
			out = append(out, e)
		}
	}
	return out
}

// describe lists (the last dozen of) the stanzas received since index since.
func (c *scenarioClient) describe(since int) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	got := c.log[since:]
	var parts []string
	for _, e := range got[max(0, len(got)-12):] {
		s := e.String()
		if len(s) > 400 {
			s = s[:400] + "..."
		}
		parts = append(parts, s)
	}
	if len(parts) == 0 {
		return fmt.Sprintf("%s received nothing", c.addr)
	}
	return fmt.Sprintf("%s received %d stanza(s): %s", c.addr, len(got), strings.Join(parts, " "))
}

func (c *scenarioClient) record(e *elem, err error) {
	c.mu.Lock()
	if e != nil {
		c.log = append(c.log, e)
	}
	if err != nil && c.ended == nil {
		c.ended = err
	}
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// handle logs the stanza and acknowledges roster pushes; mellium answers other IQs itself.
func (c *scenarioClient) handle(t xmlstream.TokenReadEncoder, start *xml.StartElement) error {
	// Re-emit the start element (see melliumClient.handle).
	d := xml.NewTokenDecoder(xmlstream.MultiReader(xmlstream.Token(*start), t))
	e, err := readElem(d, nil)
	if err != nil {
		return err
	}
	if e.Local == "iq" && e.attr("type") == "set" && e.child(roster.NS, "query") != nil {
		// mellium blanks a 'from' equal to our bare JID; any other sender is not the server.
		if from := e.attr("from"); from == "" || from == c.addr.Bare().String() {
			if _, err := xmlstream.Copy(t, stanza.IQ{ID: e.attr("id"), Type: stanza.ResultIQ}.Wrap(nil)); err != nil {
				return err
			}
		}
	}
	c.record(e, nil)
	return nil
}

// close ends the session: our </stream:stream>, then the server's (RFC 6120 §4.4).
func (c *scenarioClient) close(t *testing.T, step string) {
	c.closeOnce.Do(func() {
		c.s.Close()
		select {
		case err := <-c.served:
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				t.Logf("%s: session of %s ended with %v", step, c.addr, err)
			}
		case <-time.After(stopTimeout):
			t.Errorf("%s: the server did not close %s's stream within %s of ours (RFC 6120 §4.4)", step, c.addr, stopTimeout)
		}
		c.conn.Close()
	})
}

// isPushOf matches a roster push (RFC 6121 §2.1.6) for contact with subscription sub and, if
// ask is not "", that ask.
func isPushOf(contact jid.JID, sub, ask string) func(*elem) bool {
	return func(e *elem) bool {
		if e.Local != "iq" || e.attr("type") != "set" {
			return false
		}
		for _, it := range e.path(roster.NS + " query").kidsOrNil() {
			if it.Local == "item" && it.attr("jid") == contact.String() && it.attr("subscription") == sub &&
				(ask == "" || it.attr("ask") == ask) {
				return true
			}
		}
		return false
	}
}

// isPresenceOf matches a presence of type typ ("" = available) from bare JID from, or from
// one of its full JIDs if full.
func isPresenceOf(from jid.JID, typ string, full bool) func(*elem) bool {
	return func(e *elem) bool {
		if e.Local != "presence" || e.attr("type") != typ {
			return false
		}
		j, err := jid.Parse(e.attr("from"))
		if err != nil || !j.Bare().Equal(from) {
			return false
		}
		return !full || j.Resourcepart() != ""
	}
}

func isChatBody(body string) func(*elem) bool {
	return func(e *elem) bool {
		b := e.child("", "body")
		return e.Local == "message" && b != nil && b.Text == body
	}
}
