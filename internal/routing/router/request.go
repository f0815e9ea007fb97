package router

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// MaxRequests bounds the server's own iq requests awaiting an answer: a
// peer that never answers costs a map entry each until its time-out.
const MaxRequests = 10000

// ErrTooManyRequests: MaxRequests are awaiting answers.
var ErrTooManyRequests = errors.New("router: too many requests awaiting an answer")

// requests are the server's iq requests awaiting their answer, by id.
type requests struct {
	mu sync.Mutex
	m  map[string]*waiter
}

type waiter struct {
	to   jid.JID // only an answer from the address asked counts (RFC 6120 §8.2.3)
	from jid.JID // and only one addressed to the asker
	ch   chan *Stanza
}

// Request sends an iq get or set from a local domain and waits for the
// result or error, until ctx ends. The id is random (crypto/rand), and an
// answer counts only if it comes from the address asked: another entity
// cannot answer for it. An error answer is returned as the *Stanza too
// (Type "error"). Not for hooks or handlers: they would hold their
// stream while waiting (an IQFunc returns ErrLater and asks from a
// goroutine).
func (r *Router) Request(ctx context.Context, from, to jid.JID, typ string, payload *xml.Element) (*Stanza, error) {
	if typ != "get" && typ != "set" {
		return nil, fmt.Errorf("router: a request is a get or a set, not %q", typ)
	}
	if !r.hosts[from.Domain()] || from.Local() != "" || from.Resource() != "" {
		return nil, fmt.Errorf("router: %s is not a domain served here", from)
	}
	var b [12]byte
	rand.Read(b[:]) // never fails (Go 1.24+)
	id := "req-" + hex.EncodeToString(b[:])
	w := &waiter{to: to, from: from, ch: make(chan *Stanza, 1)}
	r.reqs.mu.Lock()
	if len(r.reqs.m) >= MaxRequests {
		r.reqs.mu.Unlock()
		return nil, ErrTooManyRequests
	}
	if r.reqs.m == nil {
		r.reqs.m = map[string]*waiter{}
	}
	r.reqs.m[id] = w
	r.reqs.mu.Unlock()
	defer func() {
		r.reqs.mu.Lock()
		delete(r.reqs.m, id)
		r.reqs.mu.Unlock()
	}()
	el := xml.New(xml.NSClient, "iq", "from", from.String(), "to", to.String(), "type", typ, "id", id)
	if payload != nil {
		el.Append(payload)
	}
	// A routing step of its own: inside the caller's step the request
	// would wait in its queue while the caller waits for the answer.
	r.Route(context.Background(), &Stanza{El: el, Kind: stanza.IQ, Type: typ, ID: id, From: from, To: to})
	select {
	case st := <-w.ch:
		return st, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from %s: %w", to, ctx.Err())
	}
}

// answered hands an iq result or error addressed to a local domain to the
// Request awaiting it; false when none is (or it came from elsewhere).
func (r *Router) answered(st *Stanza) bool {
	if st.Type != "result" && st.Type != "error" {
		return false
	}
	r.reqs.mu.Lock()
	w := r.reqs.m[st.ID]
	if w != nil && w.to.Equal(st.From) && w.from.Equal(st.To) {
		delete(r.reqs.m, st.ID)
	} else {
		w = nil
	}
	r.reqs.mu.Unlock()
	if w == nil {
		return false
	}
	w.ch <- st
	return true
}

// ErrLater is what an IQFunc returns when it answers later, from another
// goroutine, with IQ.Reply: slow work (a network lookup) must not hold
// the stream's routing step.
var ErrLater = errors.New("router: the handler replies later")

// Reply answers the iq: a result with payload, or the error err (a
// *stanza.Error; any other error is internal-server-error, logged). For
// handlers that returned ErrLater; safe from any goroutine.
func (iq *IQ) Reply(payload *xml.Element, err error) {
	iq.reply(context.Background(), payload, err) // not the stream's step, which is over
}

func (iq *IQ) reply(ctx context.Context, payload *xml.Element, err error) {
	r := iq.Router
	if err != nil {
		se, ok := err.(*stanza.Error)
		if !ok {
			r.log.Error("iq handler failed", "ns", iq.Payload().Space, "err", err)
			se = stanza.ErrInternalServerError
		}
		r.ReplyError(ctx, iq.Stanza, se)
		return
	}
	r.Route(ctx, &Stanza{El: stanza.Result(iq.El, payload), Kind: stanza.IQ, Type: "result", ID: iq.ID, From: iq.To, To: iq.From})
}
