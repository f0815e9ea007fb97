package router

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func bodyOf(el *xml.Element) string {
	if b := el.Child("", "body"); b != nil {
		return b.Text()
	}
	return ""
}

func msgBody(from, to, body string) *Stanza {
	st := msg(from, to, "chat")
	st.El.Child("", "body").SetText(body)
	return st
}

func (f *fakeSession) bodies() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, el := range f.got {
		if el.Attr("type") == "error" {
			out = append(out, "error:"+errorCondition(el))
			continue
		}
		out = append(out, bodyOf(el))
	}
	return out
}

// holdFirst holds every message whose body starts with "hold" on the
// event and hands its Held on the channel.
func holdFirst(r *Router, event string, timeout time.Duration, onTimeout *stanza.Error) chan *Held {
	ch := make(chan *Held, 16)
	r.Hook(event, 0, func(ev *Event) bool {
		if ev.Stanza.Kind == "message" && strings.HasPrefix(bodyOf(ev.Stanza.El), "hold") {
			h := ev.Hold(timeout, onTimeout)
			if h == nil {
				panic("Hold returned nil on a holdable event")
			}
			ch <- h
		}
		return false
	})
	return ch
}

// A held stanza keeps its place: later stanzas of the same sender to the
// same recipient wait behind it, others pass (RFC 6120 §10.1 ordering);
// the stream that sent it is not blocked.
func TestHoldKeepsOrderPerSenderAndRecipient(t *testing.T) {
	for _, event := range []string{EvStanzaOut, EvStanzaIn} {
		t.Run(event, func(t *testing.T) {
			r := newTestRouter("juliet@example.org", "romeo@example.org", "nurse@example.org")
			romeo, _ := online(t, r, "romeo@example.org/a", 0, true)
			_, juliet := online(t, r, "juliet@example.org/j", 0, true)
			_, nurse := online(t, r, "nurse@example.org/n", 0, true)
			held := holdFirst(r, event, time.Minute, nil)
			ctx := context.Background()
			r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold 1"))
			r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "2"))
			r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "nurse@example.org", "to the nurse"))
			if got := juliet.bodies(); len(got) != 0 {
				t.Fatalf("juliet got %q while the first message is held; want nothing yet", got)
			}
			if got := nurse.bodies(); len(got) != 1 {
				t.Fatalf("the nurse got %q; another recipient must not wait behind a held stanza", got)
			}
			if n := romeo.lanes.Held(); n != 2 {
				t.Errorf("held or waiting on romeo's stream = %d; want 2", n)
			}
			h := <-held
			done := make(chan struct{})
			go func() { h.Resume(); close(done) }() // from another goroutine, as a check would
			<-done
			if got := juliet.bodies(); strings.Join(got, ",") != "hold 1,2" {
				t.Fatalf("juliet got %q; want the held message then the one behind it", got)
			}
			if n := romeo.lanes.Held(); n != 0 {
				t.Errorf("held or waiting after the resume = %d; want 0", n)
			}
			h.Resume() // a second let-go does nothing
			h.Bounce(stanza.ErrForbidden)
			if got := juliet.bodies(); len(got) != 2 {
				t.Errorf("juliet got %q after a second let-go; want the same two", got)
			}
		})
	}
}

func TestHoldBounceAndDrop(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, romeoS := online(t, r, "romeo@example.org/a", 0, true)
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	held := holdFirst(r, EvStanzaOut, time.Minute, nil)
	ctx := context.Background()
	r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold bounced"))
	r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold dropped"))
	r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "after"))
	(<-held).Bounce(stanza.ErrForbidden.WithText("no trusted certificate"))
	if got := romeoS.bodies(); strings.Join(got, ",") != "error:forbidden" {
		t.Fatalf("romeo got %q; want one forbidden error for the bounced message", got)
	}
	// The next one was waiting behind and is held in its turn.
	(<-held).Drop()
	if got := juliet.bodies(); strings.Join(got, ",") != "after" {
		t.Fatalf("juliet got %q; want only the message after the bounced and the dropped one", got)
	}
}

// A hold that is never let go bounces with the hook's error after its
// time-out, and what waited behind it goes on.
func TestHoldTimesOut(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, romeoS := online(t, r, "romeo@example.org/a", 0, true)
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	holdFirst(r, EvStanzaOut, 20*time.Millisecond, stanza.ErrRemoteServerTimeout)
	r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold forever"))
	r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", "next"))
	deadline := time.Now().Add(10 * time.Second)
	for len(juliet.bodies()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := romeoS.bodies(); strings.Join(got, ",") != "error:remote-server-timeout" {
		t.Errorf("romeo got %q; want remote-server-timeout for the message held too long", got)
	}
	if got := juliet.bodies(); strings.Join(got, ",") != "next" {
		t.Errorf("juliet got %q; want the message that waited behind", got)
	}
}

// Take after the time-out reports it came too late (the hook must not act
// in the stanza's place); before it, it ends the stanza as Drop does.
func TestHoldTakeAfterTimeout(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, romeoS := online(t, r, "romeo@example.org/a", 0, true)
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	held := holdFirst(r, EvStanzaOut, 20*time.Millisecond, stanza.ErrRemoteServerTimeout)
	r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold late"))
	h := <-held
	deadline := time.Now().Add(10 * time.Second)
	for len(romeoS.bodies()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if h.Take() {
		t.Error("Take after the time-out returned true")
	}
	r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold taken"))
	if h := <-held; !h.Take() || h.Take() {
		t.Error("Take in time: want true once, then false")
	}
	r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", "next"))
	for len(juliet.bodies()) == 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := juliet.bodies(); strings.Join(got, ",") != "next" {
		t.Errorf("juliet got %q; want only the message after the taken ones", got)
	}
}

// A stream with MaxHeld stanzas held or waiting is not read further until
// one is let go (back-pressure, bounded memory).
func TestHoldBackPressure(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, _ := online(t, r, "romeo@example.org/a", 0, true)
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	held := holdFirst(r, EvStanzaOut, time.Minute, nil)
	ctx := context.Background()
	r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "hold"))
	for range MaxHeld - 1 {
		r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "wait"))
	}
	sent := make(chan struct{})
	go func() {
		r.FromClient(ctx, romeo, msgBody("romeo@example.org/a", "juliet@example.org", "one more"))
		close(sent)
	}()
	select {
	case <-sent:
		t.Fatalf("FromClient returned with %d stanzas held or waiting; want it to wait at MaxHeld", MaxHeld)
	case <-time.After(50 * time.Millisecond):
	}
	(<-held).Resume()
	<-sent
	if got := juliet.bodies(); len(got) != MaxHeld+1 || got[MaxHeld] != "one more" {
		t.Fatalf("juliet got %d messages, last %q; want %d in order", len(got), got[len(got)-1], MaxHeld+1)
	}
}

// Hold is refused (nil) on an event that is not holdable.
func TestHoldOnlyOnHoldableEvents(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, _ := online(t, r, "romeo@example.org/a", 0, true)
	var got *Held
	r.Hook(EvMessageOut, 0, func(ev *Event) bool { got = ev.Hold(0, nil); return false })
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", "x"))
	if got != nil || len(juliet.bodies()) != 1 {
		t.Fatalf("Hold on %s = %v, juliet got %q; want nil and the message delivered", EvMessageOut, got, juliet.bodies())
	}
}

// A hook that routes while it holds a lock of its own (a reply, a
// presence) does not re-enter the router: the stanza is routed once the
// hook has returned, so a second hook needing the same lock cannot
// deadlock (the crossing-subscriptions case).
func TestRouteFromHookDoesNotReenter(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	var mu sync.Mutex
	r.Hook(EvStanzaIn, 0, func(ev *Event) bool {
		if bodyOf(ev.Stanza.El) != "ping" {
			mu.Lock() // the echo below must not arrive while we hold it
			mu.Unlock()
			return false
		}
		mu.Lock()
		defer mu.Unlock()
		ev.Router.Route(ev.Ctx, msgBody("romeo@example.org/a", "juliet@example.org", "echo"))
		return false
	})
	done := make(chan struct{})
	go func() {
		r.Route(context.Background(), msgBody("romeo@example.org/a", "juliet@example.org", "ping"))
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Route from inside a hook deadlocked")
	}
	if got := juliet.bodies(); strings.Join(got, ",") != "ping,echo" {
		t.Fatalf("juliet got %q; want the message, then what its hook routed", got)
	}
}

// An iq request from a client to another entity fires EvIQOut; a hook
// that handles it keeps it from being routed.
func TestIQOutEvent(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, _ := online(t, r, "romeo@example.org/a", 0, true)
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	var seen []string
	r.Hook(EvIQOut, 0, func(ev *Event) bool {
		seen = append(seen, ev.Stanza.Type)
		return ev.Stanza.Type == "set"
	})
	for _, typ := range []string{"get", "set", "result"} {
		el := xml.New(xml.NSClient, "iq", "from", "romeo@example.org/a", "to", "juliet@example.org/j", "type", typ, "id", typ)
		if typ != "result" {
			el.Append(xml.New("urn:example:q", "query"))
		}
		st, _ := NewStanza(el)
		r.FromClient(context.Background(), romeo, st)
	}
	if strings.Join(seen, ",") != "get,set" {
		t.Errorf("EvIQOut fired for %v; want get and set only", seen)
	}
	juliet.mu.Lock()
	n := len(juliet.got)
	juliet.mu.Unlock()
	if n != 2 {
		t.Errorf("juliet got %d iqs; want the get and the result (the set was handled by the hook)", n)
	}
}

// A let-go may come before the hook returns (a cache hit, a goroutine that
// finishes at once): the stanza goes on in order all the same.
func TestHoldLetGoBeforeHookReturns(t *testing.T) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	romeo, _ := online(t, r, "romeo@example.org/a", 0, true)
	_, juliet := online(t, r, "juliet@example.org/j", 0, true)
	r.Hook(EvStanzaIn, 0, func(ev *Event) bool {
		h := ev.Hold(time.Minute, nil)
		if bodyOf(ev.Stanza.El) == "sync" {
			h.Resume()
		} else {
			done := make(chan struct{})
			go func() { h.Resume(); close(done) }()
			<-done
		}
		return false
	})
	for _, b := range []string{"sync", "async", "sync"} {
		r.FromClient(context.Background(), romeo, msgBody("romeo@example.org/a", "juliet@example.org", b))
	}
	if got := juliet.bodies(); strings.Join(got, ",") != "sync,async,sync" {
		t.Fatalf("juliet got %q; want the three in order", got)
	}
	if n := romeo.lanes.Held(); n != 0 {
		t.Errorf("held or waiting = %d; want 0", n)
	}
}
