package offline_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/offline"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice = "alice@example.org"
	romeo = "romeo@remote.example"
	quota = 3
)

func mods() []module.Module {
	return []module.Module{roster.Module{}, presence.Module{}, offline.Module{Quota: quota}}
}

func chat(id, body string) string {
	return "<message type='chat' id='" + id + "' to='" + alice + "'><body>" + body + "</body></message>"
}

// stored is how many messages alice has in offline storage.
func stored(t *testing.T, h *mt.Harness) int {
	t.Helper()
	n, err := h.Store.Offline().Count(context.Background(), alice)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// drained waits until alice's delivered messages are deleted: offline
// deletes a batch on a goroutine of its own once the session wrote it.
func drained(t *testing.T, h *mt.Harness) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); stored(t, h) > 0; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d delivered messages still stored after 5s", stored(t, h))
		}
	}
}

func bodies(els []*xml.Element) string {
	var out []string
	for _, m := range mt.Filter(els, "message") {
		out = append(out, m.ChildText("", "body"))
	}
	return strings.Join(out, ",")
}

func TestOffline(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "stored-and-delivered-with-delay", Rule: "XEP-0160 §3, XEP-0203: a message for a user with no available resource is stored, then delivered in order at the next available presence, stamped with <delay/> from the server",
			Run: func(t *testing.T, h *mt.Harness) {
				b := h.Online("bob", "pc")
				b.Take()
				for i, body := range []string{"one", "two", "three"} {
					b.Send(chat("m"+string(rune('1'+i)), body))
				}
				if got := b.Take(); len(got) != 0 {
					t.Errorf("the sender got %v; want nothing (stored)", got)
				}
				before := time.Now().Add(-time.Second)
				got := mt.Filter(h.Online("alice", "phone").Take(), "message")
				if bodies(got) != "one,two,three" {
					t.Fatalf("delivered %q; want one,two,three", bodies(got))
				}
				for _, m := range got {
					d := m.Child(offline.NSDelay, "delay")
					if d == nil || d.Attr("from") != "example.org" || d.Text() != "Offline Storage" {
						t.Fatalf("%s: want <delay from='example.org'>Offline Storage</delay>", m)
					}
					if at, err := time.Parse(time.RFC3339, d.Attr("stamp")); err != nil || at.Before(before) || at.After(time.Now()) {
						t.Errorf("delay stamp %q (%v); want the time it was stored, UTC", d.Attr("stamp"), err)
					}
				}
				drained(t, h)
				if got := mt.Filter(h.Online("alice", "tablet").Take(), "message"); len(got) != 0 {
					t.Errorf("the next login got %v again", got)
				}
			}},
		{Name: "negative-priority-only", Rule: "RFC 6121 §8.5.2.1.1, XEP-0160 §3: with only negative-priority resources a message is stored, and delivered when a resource first turns non-negative",
			Run: func(t *testing.T, h *mt.Harness) {
				b, neg := h.Online("bob", "pc"), h.Login("alice", "neg")
				neg.Send("<presence><priority>-1</priority></presence>")
				neg.Take()
				b.Send(chat("m1", "while negative"))
				if got := mt.Filter(neg.Take(), "message"); len(got) != 0 || stored(t, h) != 1 {
					t.Fatalf("negative resource got %v, %d stored; want nothing delivered, one stored", got, stored(t, h))
				}
				neg.Send("<presence><priority>0</priority></presence>")
				if got := bodies(neg.Take()); got != "while negative" {
					t.Errorf("after priority 0 got %q; want the stored message", got)
				}
			}},
		{Name: "connected-not-available", Rule: "RFC 6121 §8.5.2.1.1: a resource that sent no presence is not available: messages are stored until its initial presence",
			Run: func(t *testing.T, h *mt.Harness) {
				b, a := h.Online("bob", "pc"), h.Login("alice", "phone")
				b.Send(chat("m1", "early"))
				if got := a.Take(); len(got) != 0 {
					t.Fatalf("a resource with no presence got %v", got)
				}
				a.Send("<presence/>")
				if got := bodies(a.Take()); got != "early" {
					t.Errorf("at initial presence got %q; want the stored message", got)
				}
			}},
		{Name: "quota", Rule: "XEP-0160 §3 (tern: limits.offline_quota): past the quota the sender gets service-unavailable for that message, never silence",
			Run: func(t *testing.T, h *mt.Harness) {
				b := h.Online("bob", "pc")
				b.Take()
				for i := 1; i <= quota+1; i++ {
					b.Send(chat("m"+string(rune('0'+i)), "x"))
				}
				errs := mt.Filter(b.Take(), "message", "type", "error")
				if len(errs) != 1 || errs[0].Attr("id") != "m4" || mt.ErrorCondition(errs[0]) != "service-unavailable" {
					t.Errorf("sender got %v; want one service-unavailable for m4", errs)
				}
				if n := stored(t, h); n != quota {
					t.Errorf("%d stored; want %d", n, quota)
				}
			}},
		{Name: "remote-sender", Rule: "XEP-0160 §3: a message over federation is stored like a local one, and a quota error goes back to the remote sender",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				for i := 1; i <= quota+1; i++ {
					h.FromRemote("<message type='chat' id='r" + string(rune('0'+i)) + "' from='" + romeo + "/r' to='" + alice + "'><body>far</body></message>")
				}
				if got := fed.Take(); len(got) != 1 || got[0].Attr("id") != "r4" || mt.ErrorCondition(got[0]) != "service-unavailable" {
					t.Errorf("federation got %v; want one service-unavailable for r4", got)
				}
				if got := bodies(h.Online("alice", "phone").Take()); got != "far,far,far" {
					t.Errorf("delivered %q; want the three stored", got)
				}
			}},
		{Name: "not-stored-kinds", Rule: "XEP-0160 §3, XEP-0085 §5.6, XEP-0334 §4.2: chat states alone, <no-store/>, headline and error messages are not stored",
			Run: func(t *testing.T, h *mt.Harness) {
				b := h.Online("bob", "pc")
				b.Take()
				for _, m := range []string{
					"<message type='chat' to='" + alice + "'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>",
					"<message type='chat' to='" + alice + "'><body>x</body><no-store xmlns='urn:xmpp:hints'/></message>",
					"<message type='headline' to='" + alice + "'><body>news</body></message>",
					"<message type='error' to='" + alice + "'><body>x</body></message>",
					"<message type='chat' to='" + alice + "'/>",
				} {
					b.Send(m)
				}
				if n := stored(t, h); n != 0 {
					t.Errorf("%d stored; want none", n)
				}
				if got := b.Take(); len(got) != 0 {
					t.Errorf("the sender got %v; want nothing (these are dropped silently)", got)
				}
			}},
		{Name: "store-hint", Rule: "XEP-0334 §4.4: <store/> keeps a message offline storage would otherwise drop (a chat state)",
			Run: func(t *testing.T, h *mt.Harness) {
				h.Online("bob", "pc").Send("<message type='chat' to='" + alice + "'><active xmlns='http://jabber.org/protocol/chatstates'/><store xmlns='urn:xmpp:hints'/></message>")
				if n := stored(t, h); n != 1 {
					t.Errorf("%d stored; want the hinted message", n)
				}
			}},
		{Name: "groupchat-bounced", Rule: "RFC 6121 §8.5.2.1.1: a groupchat message for an account with no available resource is service-unavailable, not stored",
			Run: func(t *testing.T, h *mt.Harness) {
				b := h.Online("bob", "pc")
				b.Take()
				b.Send("<message type='groupchat' id='g' to='" + alice + "'><body>x</body></message>")
				if errs := mt.Filter(b.Take(), "message", "type", "error"); len(errs) != 1 || mt.ErrorCondition(errs[0]) != "service-unavailable" {
					t.Errorf("sender got %v; want service-unavailable", errs)
				}
				if n := stored(t, h); n != 0 {
					t.Errorf("%d stored; want none", n)
				}
			}},
		{Name: "own-delay-only", Rule: "XEP-0203 §3, XEP-0160 §3: the stored message carries the server's delay, not one the sender put in",
			Run: func(t *testing.T, h *mt.Harness) {
				h.Online("bob", "pc").Send("<message type='chat' to='" + alice + "'><body>x</body><delay xmlns='urn:xmpp:delay' from='evil.example' stamp='2000-01-01T00:00:00Z'/></message>")
				got := mt.Filter(h.Online("alice", "phone").Take(), "message")
				if len(got) != 1 {
					t.Fatalf("delivered %v; want one message", got)
				}
				var froms []string
				for _, d := range got[0].Elements() {
					if d.Space == offline.NSDelay {
						froms = append(froms, d.Attr("from"))
					}
				}
				if strings.Join(froms, ",") != "example.org" {
					t.Errorf("delays from %v; want only the server's (example.org)", froms)
				}
			}},
		{Name: "no-such-account", Rule: "RFC 6121 §8.5.1: a message for a local account that does not exist is service-unavailable, and not stored",
			Run: func(t *testing.T, h *mt.Harness) {
				b := h.Online("bob", "pc")
				b.Take()
				b.Send("<message type='chat' id='n' to='nobody@example.org'><body>x</body></message>")
				if errs := mt.Filter(b.Take(), "message", "type", "error"); len(errs) != 1 || mt.ErrorCondition(errs[0]) != "service-unavailable" {
					t.Errorf("sender got %v; want service-unavailable", errs)
				}
				if n, _ := h.Store.Offline().Count(context.Background(), "nobody@example.org"); n != 0 {
					t.Errorf("%d stored for a non-existent account", n)
				}
			}},
	})
}

// XEP-0160 §3, RFC 6120 §10.1: a backlog larger than one delivery batch
// arrives whole, in order, once; each next batch is read after the session
// wrote the previous one, on offline's own goroutine, hence the wait.
func TestOfflineBacklog(t *testing.T) {
	const n = 250
	h := mt.New(t, []string{"alice", "bob"}, roster.Module{}, presence.Module{}, offline.Module{})
	b := h.Online("bob", "pc")
	for i := range n {
		b.Send(chat("m", strconv.Itoa(i)))
	}
	a := h.Online("alice", "phone")
	var got []*xml.Element
	for deadline := time.Now().Add(10 * time.Second); len(got) < n && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		got = append(got, mt.Filter(a.Take(), "message")...)
	}
	drained(t, h)
	got = append(got, mt.Filter(a.Take(), "message")...)
	if len(got) != n {
		t.Fatalf("got %d messages; want %d", len(got), n)
	}
	for i, m := range got {
		if m.ChildText("", "body") != strconv.Itoa(i) {
			t.Fatalf("message %d has body %q; want them in order", i, m.ChildText("", "body"))
		}
	}
}
