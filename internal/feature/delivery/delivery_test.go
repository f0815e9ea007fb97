package delivery_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/delivery"
	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/feature/offline"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice = "alice@example.org"
	bob   = "bob@example.org"
	romeo = "romeo@remote.example"
)

// row is one rule, checked on a harness of its own with the module's
// section changed by cfg.
type row struct {
	name, rule string
	cfg        func(c *delivery.Config)
	setup      func(m *delivery.Module) // before Register, as the server does
	run        func(t *testing.T, h *mt.Harness, m *delivery.Module)
}

func testConfig() delivery.Config {
	c := delivery.DefaultConfig
	c.Domains = []string{mt.Domain}
	c.Timeout = "300ms"
	c.ScanInterval = "20ms"
	return c
}

func newHarness(t *testing.T, cfg func(c *delivery.Config), setup ...func(m *delivery.Module)) (*mt.Harness, *delivery.Module) {
	m := delivery.New(100)
	m.Cfg = testConfig()
	if cfg != nil {
		cfg(&m.Cfg)
	}
	for _, f := range setup {
		if f != nil {
			f(m)
		}
	}
	h := mt.New(t, []string{"alice", "bob"}, disco.Module{}, roster.Module{}, presence.Module{}, offline.Module{Quota: 100}, m)
	t.Cleanup(m.Close) // before the store closes (clean-ups run last first)
	return h, m
}

func runRows(t *testing.T, rows []row) {
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			t.Parallel()
			t.Logf("checks %s", r.rule)
			h, m := newHarness(t, r.cfg, r.setup)
			r.run(t, h, m)
		})
	}
}

// collect is what a session got within d, or as soon as want messages
// arrived (held stanzas go on on other goroutines).
func collect(s *mt.Session, want int, d time.Duration) []*xml.Element {
	var got []*xml.Element
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		got = append(got, mt.Filter(s.Take(), "message")...)
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
	}
}

func collectRemote(r *mt.Remote, want int, d time.Duration) []*xml.Element {
	var got []*xml.Element
	for deadline := time.Now().Add(d); ; time.Sleep(5 * time.Millisecond) {
		got = append(got, r.Take()...)
		if len(got) >= want || time.Now().After(deadline) {
			return got
		}
	}
}

func chat(to, id, body string) string {
	return "<message type='chat' id='" + id + "' to='" + to + "'><body>" + body + "</body></message>"
}

// amps keeps the deliver notices among els.
func amps(els []*xml.Element) []*xml.Element {
	var out []*xml.Element
	for _, el := range els {
		if el.Child(delivery.NS, "amp") != nil {
			out = append(out, el)
		}
	}
	return out
}

func errorsOf(els []*xml.Element) []*xml.Element { return mt.Filter(els, "message", "type", "error") }

// checkNotice asserts the TIM+ notice shape (checklist item 14).
func checkNotice(t *testing.T, n *xml.Element, from, id, to, ampTo, ampFrom, value string) {
	t.Helper()
	a := n.Child(delivery.NS, "amp")
	r := a.Child(delivery.NS, "rule")
	if n.Attr("from") != from || n.Attr("id") != id || n.Attr("to") != to || a.Attr("status") != "notify" ||
		a.Attr("to") != ampTo || a.Attr("from") != ampFrom || r == nil ||
		r.Attr("action") != "notify" || r.Attr("condition") != "deliver" || r.Attr("value") != value {
		t.Errorf("notice %s; want from=%s id=%s to=%s, amp status=notify to=%s from=%s, rule notify/deliver/%s", n, from, id, to, ampTo, ampFrom, value)
	}
}

func tracked(t *testing.T, h *mt.Harness, owner string) int {
	t.Helper()
	n, err := h.Store.Tracking().Count(context.Background(), owner)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func waitTracked(t *testing.T, h *mt.Harness, owner string, want int) {
	t.Helper()
	for deadline := time.Now().Add(3 * time.Second); tracked(t, h, owner) != want; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s has %d tracked messages; want %d", owner, tracked(t, h, owner), want)
		}
	}
}

func isTimeout(el *xml.Element) bool {
	e := el.Child("", "error")
	return el.Attr("type") == "error" && e != nil && e.Attr("type") == "wait" && mt.ErrorCondition(el) == "remote-server-timeout"
}

func TestDelivery(t *testing.T) {
	runRows(t, []row{
		{name: "online-direct", rule: "TIM+ checklist 14, XEP-0079 §3.3.1 deliver=direct, §3.4.4 notify: a chat with a body pushed to a session earns the sender's bare JID a notice from orig.to with orig.id, amp@to the recipient's bare JID, amp@from the sender's full JID; the entry completes",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Take()
				b.Take()
				a.Send(chat(bob, "X", "hello"))
				if got := collect(b, 1, 2*time.Second); len(got) != 1 || got[0].ChildText("", "body") != "hello" {
					t.Fatalf("bob got %v; want the message", got)
				}
				got := amps(collect(a, 1, 2*time.Second))
				if len(got) != 1 {
					t.Fatalf("alice got %d notices; want 1", len(got))
				}
				checkNotice(t, got[0], bob, "X", alice, bob, alice+"/phone", "direct")
				waitTracked(t, h, alice, 0)
				if extra := collect(a, 1, 500*time.Millisecond); len(extra) != 0 {
					t.Errorf("after the notice alice got %v (a time-out error?)", extra)
				}
			}},
		{name: "offline-stored", rule: "TIM+ checklist 15, XEP-0079 §3.3.1 deliver=stored: a chat for an offline user earns a stored notice; the recipient gets the message with <delay/> at login",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a := h.Online("alice", "phone")
				a.Take()
				a.Send(chat(bob+"/gone", "Y", "later"))
				got := amps(collect(a, 1, 2*time.Second))
				if len(got) != 1 {
					t.Fatalf("alice got %d notices; want 1", len(got))
				}
				checkNotice(t, got[0], bob+"/gone", "Y", alice, bob, alice+"/phone", "stored")
				msgs := collect(h.Online("bob", "pc"), 1, 2*time.Second)
				if len(msgs) != 1 || msgs[0].Child(delivery.NSDelay, "delay") == nil {
					t.Fatalf("bob at login got %v; want the message with a delay", msgs)
				}
				if len(amps(msgs)) != 0 {
					t.Error("the recipient got a notice")
				}
				waitTracked(t, h, alice, 0)
			}},
		{name: "chat-state-only", rule: "TIM+ checklist 16 (DefaultTxParser): a chat-state-only message earns no notice and is not tracked; nor one without an id, nor a normal message",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Take()
				b.Take()
				a.Send("<message type='chat' id='c1' to='" + bob + "'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
				a.Send("<message type='chat' to='" + bob + "'><body>no id</body></message>")
				a.Send("<message id='n1' to='" + bob + "'><body>normal</body></message>")
				if got := collect(b, 3, 2*time.Second); len(got) != 3 {
					t.Fatalf("bob got %d messages; want 3", len(got))
				}
				if got := collect(a, 1, 500*time.Millisecond); len(got) != 0 {
					t.Errorf("alice got %v; want nothing", got)
				}
				if n := tracked(t, h, alice); n != 0 {
					t.Errorf("%d tracked; want none", n)
				}
			}},
		{name: "no-notice-to-server", rule: "XEP-0079 §3.4.4: nothing answers a message from the server itself or one to oneself",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a := h.Online("alice", "phone")
				a.Take()
				h.Router.Route(context.Background(), mustStanza(t, "<message xmlns='jabber:client' type='chat' id='s1' from='example.org' to='"+alice+"'><body>motd</body></message>"))
				a.Send(chat(alice+"/phone", "self", "note to self"))
				if got := collect(a, 3, 500*time.Millisecond); len(amps(got)) != 0 {
					t.Errorf("got %v; want no notice", got)
				}
			}},
		{name: "remote-sender", rule: "TIM+ checklist 14 (recipient side): a chat from another domain delivered here earns its sender a notice over federation",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				b := h.Online("bob", "pc")
				b.Take()
				h.FromRemote("<message type='chat' id='R1' from='" + romeo + "/balcony' to='" + bob + "'><body>hi</body></message>")
				got := amps(collectRemote(fed, 1, 2*time.Second))
				if len(got) != 1 {
					t.Fatalf("federation got %d notices; want 1", len(got))
				}
				checkNotice(t, got[0], bob, "R1", romeo, bob, romeo+"/balcony", "direct")
			}},
		{name: "timeout", rule: "TIM+ checklist 17 (MonitorToErrorMessageTransformer): no notice within the time-out: the sender gets type=error id=X from the recipient, remote-server-timeout (wait), once",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				a.Take()
				a.Send(chat(romeo, "T1", "anyone?"))
				if got := collectRemote(fed, 1, 2*time.Second); len(got) != 1 {
					t.Fatalf("federation got %v", got)
				}
				if n := tracked(t, h, alice); n != 1 {
					t.Fatalf("%d tracked once the message left; want 1 (tracked before it leaves)", n)
				}
				got := collect(a, 1, 3*time.Second)
				if len(got) != 1 || !isTimeout(got[0]) || got[0].Attr("id") != "T1" || got[0].Attr("from") != romeo || got[0].Attr("to") != alice+"/phone" {
					t.Fatalf("alice got %v; want one remote-server-timeout error id T1 from %s", got, romeo)
				}
				if txt := got[0].Child("", "error").ChildText("", "text"); !strings.Contains(txt, "300ms") {
					t.Errorf("error text %q; want the time-out named", txt)
				}
				if extra := collect(a, 1, 500*time.Millisecond); len(extra) != 0 {
					t.Errorf("a second error: %v", extra)
				}
				waitTracked(t, h, alice, 0)
			}},
		{name: "error-completes", rule: "TIM+ checklist 18 (GeneralReleaseStrategy): an error reply from the recipient completes it: the sender gets that error and no time-out error",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				a.Take()
				a.Send(chat(romeo, "E1", "unknown user?"))
				collectRemote(fed, 1, 2*time.Second)
				h.FromRemote("<message type='error' id='E1' from='" + romeo + "' to='" + alice + "/phone'><error type='cancel'><service-unavailable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
				got := collect(a, 2, time.Second)
				if len(got) != 1 || mt.ErrorCondition(got[0]) != "service-unavailable" {
					t.Fatalf("alice got %v; want the error once", got)
				}
				waitTracked(t, h, alice, 0)
			}},
		{name: "local-no-notice", rule: "TIM+ checklist 17 for a local recipient: with notices off for its domain nothing answers, and the sender gets the time-out error",
			cfg: func(c *delivery.Config) { c.Notify = delivery.ModeOff },
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Take()
				a.Send(chat(bob, "L1", "hi"))
				collect(b, 2, 200*time.Millisecond)
				got := collect(a, 1, 3*time.Second)
				if len(got) != 1 || !isTimeout(got[0]) || got[0].Attr("from") != bob {
					t.Fatalf("alice got %v; want the time-out error from %s", got, bob)
				}
			}},
		{name: "local-unknown-user", rule: "TIM+ checklist 18 for a local recipient: service-unavailable for an account that does not exist (RFC 6121 §8.5.1) completes it: no time-out error follows",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a := h.Online("alice", "phone")
				a.Take()
				a.Send(chat("nobody@example.org", "L2", "hi"))
				got := collect(a, 2, time.Second)
				if len(got) != 1 || mt.ErrorCondition(got[0]) != "service-unavailable" {
					t.Fatalf("alice got %v; want service-unavailable once", got)
				}
				waitTracked(t, h, alice, 0)
			}},
		{name: "notice-completes-remote", rule: "TIM+ checklist 14 (sender side): a notice from the recipient's server with the id completes the entry; the sender gets the notice",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				a.Take()
				a.Send(chat(romeo, "N1", "hi"))
				collectRemote(fed, 1, 2*time.Second)
				h.FromRemote("<message id='N1' from='" + romeo + "' to='" + alice + "'><amp xmlns='http://jabber.org/protocol/amp' status='notify' to='" + romeo + "' from='" + alice + "/phone'><rule action='notify' condition='deliver' value='direct'/></amp></message>")
				if got := amps(collect(a, 1, 2*time.Second)); len(got) != 1 {
					t.Fatalf("alice got %d notices; want 1", len(got))
				}
				waitTracked(t, h, alice, 0)
				if extra := collect(a, 1, 600*time.Millisecond); len(extra) != 0 {
					t.Errorf("after the notice: %v", extra)
				}
			}},
		{name: "notice-other-recipient", rule: "TIM+ message monitor: only the recipient's notice completes its entry (by id and recipient)",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				a.Take()
				a.Send(chat(romeo, "N2", "hi"))
				collectRemote(fed, 1, 2*time.Second)
				h.FromRemote("<message id='N2' from='juliet@other.example' to='" + alice + "'><amp xmlns='http://jabber.org/protocol/amp' status='notify'><rule action='notify' condition='deliver' value='direct'/></amp></message>")
				got := collect(a, 2, 3*time.Second)
				if len(got) != 2 || !isTimeout(got[1]) {
					t.Fatalf("alice got %v; want the stray notice, then the time-out error", got)
				}
			}},
		{name: "sender-offline", rule: "TIM+ checklist 19 (OfflineMessageStrategy; the RI drops errors): a notice, an error reply and a time-out error for an offline sender are stored and delivered at its next login",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				a.Take()
				for _, id := range []string{"S1", "S2", "S3"} {
					a.Send(chat(romeo, id, "bye"))
				}
				collectRemote(fed, 3, 2*time.Second)
				a.Logout()
				h.FromRemote("<message id='S1' from='" + romeo + "' to='" + alice + "'><amp xmlns='http://jabber.org/protocol/amp' status='notify' to='" + romeo + "' from='" + alice + "/phone'><rule action='notify' condition='deliver' value='stored'/></amp></message>")
				h.FromRemote("<message type='error' id='S2' from='" + romeo + "' to='" + alice + "/phone'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
				time.Sleep(700 * time.Millisecond) // S3 times out meanwhile
				got := collect(h.Online("alice", "tablet"), 3, 3*time.Second)
				ids := map[string]*xml.Element{}
				for _, el := range got {
					ids[el.Attr("id")] = el
					if el.Child(delivery.NSDelay, "delay") == nil {
						t.Errorf("%s: want a delay stamp", el)
					}
				}
				if len(got) != 3 || ids["S1"] == nil || len(amps([]*xml.Element{ids["S1"]})) != 1 ||
					mt.ErrorCondition(ids["S2"]) != "item-not-found" || ids["S3"] == nil || !isTimeout(ids["S3"]) {
					t.Fatalf("at login alice got %v; want the notice S1, the error S2, the time-out S3", got)
				}
			}},
		{name: "untracked-error-unchanged", rule: "RFC 6121 §8.5.2.1.1: an error for a message that is not tracked is not stored for an offline user (only TIM+ tracked traffic is)",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				h.FromRemote("<message type='error' id='U1' from='" + romeo + "' to='" + alice + "/phone'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>")
				if got := collect(h.Online("alice", "tablet"), 1, 300*time.Millisecond); len(got) != 0 {
					t.Errorf("alice got %v; want nothing", got)
				}
			}},
		{name: "quota", rule: "tern: max_pending bounds a user's tracked messages; past it a message still goes, untracked",
			cfg: func(c *delivery.Config) { c.MaxPending = 2; c.Timeout = "1h" },
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				fed := h.Federate()
				a := h.Online("alice", "phone")
				for _, id := range []string{"q1", "q2", "q3"} {
					a.Send(chat(romeo, id, "x"))
				}
				if got := collectRemote(fed, 3, 2*time.Second); len(got) != 3 {
					t.Fatalf("federation got %d messages; want 3", len(got))
				}
				if n := tracked(t, h, alice); n != 2 {
					t.Errorf("%d tracked; want 2 (max_pending)", n)
				}
			}},
		{name: "domain-not-listed", rule: "tern: notify and track = direct-domains act on the listed (Direct) domains only",
			cfg: func(c *delivery.Config) { c.Domains = nil },
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Take()
				a.Send(chat(bob, "D1", "plain"))
				collect(b, 2, time.Second)
				if got := collect(a, 1, 300*time.Millisecond); len(got) != 0 {
					t.Errorf("alice got %v; want nothing", got)
				}
				if n := tracked(t, h, alice); n != 0 {
					t.Errorf("%d tracked; want none", n)
				}
			}},
		{name: "direct-flag", rule: "tern: Module.Direct (the domains' direct flag) counts for direct-domains",
			cfg:   func(c *delivery.Config) { c.Domains = nil },
			setup: func(m *delivery.Module) { m.Direct = func(d string) bool { return d == mt.Domain } },
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Take()
				a.Send(chat(bob, "D2", "direct"))
				collect(b, 1, time.Second)
				if got := amps(collect(a, 1, 2*time.Second)); len(got) != 1 {
					t.Errorf("alice got %d notices; want 1", len(got))
				}
			}},
		{name: "disco", rule: "XEP-0079 §2.1.1, §8: the server advertises the protocol, action=notify and condition=deliver (the reference server forgets)",
			run: func(t *testing.T, h *mt.Harness, m *delivery.Module) {
				r := h.Online("alice", "phone").Reply("<iq type='get' id='d' to='example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>")
				for _, f := range []string{delivery.NS, delivery.FeatureNotify, delivery.FeatureDeliver} {
					if !strings.Contains(r.String(), "var=\""+f+"\"") {
						t.Errorf("disco#info lacks %s: %s", f, r)
					}
				}
			}},
		{name: "client-rules", rule: "XEP-0079 §2.2.1: unsupported actions get <unsupported-actions/>, unsupported conditions <unsupported-conditions/>, malformed rules bad-request naming the problem; a supported rule passes",
			run: clientRules},
		{name: "client-rules-untracked", rule: "XEP-0079 §2.2.1 as above where nothing is tracked or notified (the rules are checked on message/out then)",
			cfg: func(c *delivery.Config) { c.Domains, c.Track, c.Notify = nil, delivery.ModeOff, delivery.ModeOff },
			run: clientRules},
	})
}

// clientRules sends rules the server cannot honour and one it can.
func clientRules(t *testing.T, h *mt.Harness, m *delivery.Module) {
	a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
	a.Take()
	b.Take()
	send := func(id, amp string) {
		a.Send("<message type='chat' id='" + id + "' to='" + bob + "'><body>b</body><amp xmlns='http://jabber.org/protocol/amp'>" + amp + "</amp></message>")
	}
	cases := []struct{ id, amp, app, text string }{
		{"r1", "<rule action='alert' condition='deliver' value='stored'/>", "unsupported-actions", "action alert"},
		{"r2", "<rule action='notify' condition='expire-at' value='2030-01-01T00:00:00Z'/>", "unsupported-conditions", "expire-at"},
		{"r3", "<rule action='notify' condition='deliver'/>", "invalid-rules", "rule 1 (condition deliver) has no value"},
		{"r4", "", "invalid-rules", "no <rule/>"},
		{"r5", "<rule action='notify' condition='deliver' value='sideways'/>", "invalid-rules", `"sideways" is not a value of condition deliver`},
	}
	for _, c := range cases {
		send(c.id, c.amp)
		got := collect(a, 1, time.Second)
		if len(got) != 1 || mt.ErrorCondition(got[0]) != "bad-request" || got[0].Attr("from") != "example.org" {
			t.Errorf("%s: got %v; want bad-request from the server", c.id, got)
			continue
		}
		e := got[0].Child("", "error")
		if e.Child(delivery.NS, c.app) == nil || !strings.Contains(e.ChildText("", "text"), c.text) {
			t.Errorf("%s: error %s; want <%s/> and a text with %q", c.id, e, c.app, c.text)
		}
	}
	if got := collect(b, 1, 200*time.Millisecond); len(got) != 0 {
		t.Errorf("bob got refused messages %v", got)
	}
	send("ok", "<rule action='notify' condition='deliver' value='direct'/>")
	if got := collect(b, 1, time.Second); len(got) != 1 {
		t.Errorf("a supported rule: bob got %v; want the message", got)
	}
}

func mustStanza(t *testing.T, s string) *router.Stanza {
	t.Helper()
	el, err := xml.Parse([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	st, serr := router.NewStanza(el)
	if serr != nil {
		t.Fatal(serr)
	}
	return st
}

// TestSurvivesRestart: the entries are in the database, so a new server
// over the same store (after a restart or kill -9) sends the time-out
// errors of messages the old one tracked; an offline sender finds it
// stored.
func TestSurvivesRestart(t *testing.T) {
	h, m := newHarness(t, func(c *delivery.Config) { c.Timeout = "200ms" })
	fed := h.Federate()
	a := h.Online("alice", "phone")
	a.Send(chat(romeo, "K1", "before the crash"))
	collectRemote(fed, 1, 2*time.Second)
	m.Close() // the old server is gone: its scanner never runs again
	if n := tracked(t, h, alice); n != 1 {
		t.Fatalf("%d tracked; want 1", n)
	}

	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := router.New(log, []string{mt.Domain}, h.Store.Users())
	m2 := delivery.New(100)
	m2.Cfg = testConfig()
	host := module.NewHost(r, h.Store, log, nil, time.Now)
	if err := host.Load([]module.Module{roster.Module{}, presence.Module{}, offline.Module{Quota: 100}, m2}, nil); err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		n, err := h.Store.Offline().Count(context.Background(), alice)
		if err != nil {
			t.Fatal(err)
		}
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no time-out error stored for the offline sender after the restart")
		}
	}
	msgs, err := h.Store.Offline().Fetch(context.Background(), alice, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := string(msgs[0].Stanza); !strings.Contains(s, "remote-server-timeout") || !strings.Contains(s, "K1") {
		t.Errorf("stored %s; want the time-out error of K1", s)
	}
	if n := tracked(t, h, alice); n != 0 {
		t.Errorf("%d tracked after the time-out; want 0", n)
	}
}
