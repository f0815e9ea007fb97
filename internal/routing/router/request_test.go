package router

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// answerRemote plays a federated peer: it answers each iq with answer(st),
// from whatever address answer chooses.
type answerRemote struct {
	r      *Router
	answer func(st *Stanza) *Stanza
	mu     sync.Mutex
	sent   []*Stanza
}

func (a *answerRemote) Send(ctx context.Context, st *Stanza) {
	a.mu.Lock()
	a.sent = append(a.sent, st)
	a.mu.Unlock()
	if reply := a.answer(st); reply != nil {
		go a.r.FromRemote(context.Background(), &Lanes{}, reply)
	}
}

func reply(st *Stanza, from, typ string) *Stanza {
	el := xml.New(xml.NSServer, "iq", "from", from, "to", st.From.String(), "id", st.ID, "type", typ)
	out, err := NewStanza(el)
	if err != nil {
		panic(err)
	}
	return out
}

// TestRequest: the server's own iq reaches the peer with a random id and
// its answer comes back; an answer from another address than the one
// asked does not count (RFC 6120 §8.2.3), so the request times out.
func TestRequest(t *testing.T) {
	r := newTestRouter()
	from, peer := jid.MustParse("example.org"), jid.MustParse("peer.example")
	for _, c := range []struct {
		name, answerFrom, typ string
		wantErr               bool
	}{
		{"result", "peer.example", "result", false},
		{"error", "peer.example", "error", false},
		{"spoofed", "other.example", "result", true},
		{"spoofed user", "mallory@peer.example", "result", true},
	} {
		t.Run(c.name, func(t *testing.T) {
			rem := &answerRemote{r: r, answer: func(st *Stanza) *Stanza { return reply(st, c.answerFrom, c.typ) }}
			r.SetRemote(rem)
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			got, err := r.Request(ctx, from, peer, "get", xml.New("urn:example", "q"))
			if c.wantErr {
				if err == nil || !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("answer from %s: got %v, %v; want no answer (time-out)", c.answerFrom, got, err)
				}
			} else if err != nil || got.Type != c.typ {
				t.Fatalf("got %+v, %v; want a %s", got, err, c.typ)
			}
			rem.mu.Lock()
			defer rem.mu.Unlock()
			if len(rem.sent) != 1 {
				t.Fatalf("%d stanzas sent; want 1", len(rem.sent))
			}
			s := rem.sent[0]
			if s.El.Attr("from") != "example.org" || s.El.Attr("to") != "peer.example" || !strings.HasPrefix(s.ID, "req-") || len(s.ID) != 4+24 ||
				s.El.Child("urn:example", "q") == nil {
				t.Errorf("sent %s", s.El)
			}
			if n := len(r.reqs.m); n != 0 {
				t.Errorf("%d requests still awaiting answers", n)
			}
		})
	}
	if _, err := r.Request(context.Background(), jid.MustParse("nothere.example"), peer, "get", nil); err == nil {
		t.Error("a request from a domain not served here was sent")
	}
	if _, err := r.Request(context.Background(), from, peer, "result", nil); err == nil {
		t.Error("a request of type result was sent")
	}
}

// TestIQLater: a handler that returns ErrLater answers from a goroutine
// with Reply; the reply reaches the sender, and an error reply carries
// the condition.
func TestIQLater(t *testing.T) {
	r := newTestRouter("alice@example.org")
	_, fs := online(t, r, "alice@example.org/a", 0, true)
	done := make(chan struct{})
	if err := r.HandleIQ(Host, "get", "urn:example:slow", func(iq *IQ) (*xml.Element, error) {
		go func() {
			defer close(done)
			if iq.Payload().Attr("fail") != "" {
				iq.Reply(nil, stanza.ErrItemNotFound)
				return
			}
			iq.Reply(xml.New("urn:example:slow", "answer"), nil)
		}()
		return nil, ErrLater
	}); err != nil {
		t.Fatal(err)
	}
	for _, fail := range []bool{false, true} {
		done = make(chan struct{})
		q := xml.New("urn:example:slow", "q")
		if fail {
			q.SetAttr("fail", "1")
		}
		el := xml.New(xml.NSClient, "iq", "from", "alice@example.org/a", "to", "example.org", "type", "get", "id", "s1").Append(q)
		st, _ := NewStanza(el)
		res := r.Resource(jid.MustParse("alice@example.org/a"))
		r.FromClient(context.Background(), res, st)
		<-done
		fs.mu.Lock()
		got := fs.got[len(fs.got)-1]
		fs.mu.Unlock()
		if fail {
			if errorCondition(got) != "item-not-found" {
				t.Errorf("failing slow handler: got %s; want item-not-found", got)
			}
		} else if got.Attr("type") != "result" || got.Attr("id") != "s1" || got.Child("urn:example:slow", "answer") == nil {
			t.Errorf("slow handler: got %s; want the result with its answer", got)
		}
	}
}

// TestFeaturesOn: a feature registered with HandleIQOn is listed only on
// the domains it is offered on.
func TestFeaturesOn(t *testing.T) {
	r := newTestRouter()
	noop := func(*IQ) (*xml.Element, error) { return nil, nil }
	if err := r.HandleIQOn(Host, "get", "urn:example:some", func(d string) bool { return d == "direct.example" }, noop); err != nil {
		t.Fatal(err)
	}
	if err := r.HandleIQ(Host, "get", "urn:example:all", noop); err != nil {
		t.Fatal(err)
	}
	has := func(l []string, f string) bool {
		for _, x := range l {
			if x == f {
				return true
			}
		}
		return false
	}
	if l := r.FeaturesOn(Host, "direct.example"); !has(l, "urn:example:some") || !has(l, "urn:example:all") {
		t.Errorf("on direct.example: %v", l)
	}
	if l := r.FeaturesOn(Host, "example.org"); has(l, "urn:example:some") || !has(l, "urn:example:all") {
		t.Errorf("on example.org: %v", l)
	}
}
