package router

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stanza"
)

// Holding: a hook of a holdable event (EvStanzaOut, EvStanzaIn,
// EvStanzaRemote) may keep a stanza while it does I/O (a certificate
// check, a discovery, an archive write) and let it go on later, on another
// goroutine, without blocking the stream it came from: ev.Hold, then
// Resume, Bounce or Drop. Meanwhile later stanzas of the same sender to the
// same recipient wait behind it (order is kept per pair, as RFC 6120 §10.1
// asks of a server), others pass. Each stream bounds what it has held or
// waiting (MaxHeld): past that its reader waits (back-pressure), and a held
// stanza not let go in time is bounced.

const (
	// MaxHeld bounds the stanzas one stream has held or waiting behind a
	// held one; its reader waits while it is reached.
	MaxHeld = 256
	// DefaultHoldTimeout is how long a stanza may stay held unless the
	// hook says otherwise.
	DefaultHoldTimeout = 30 * time.Second
)

// Lanes keep the held stanzas of one stream (a client session, a server
// stream) and those waiting behind them. The zero value is ready.
type Lanes struct {
	n    atomic.Int32 // held or waiting stanzas
	mu   sync.Mutex
	m    map[laneKey]*lane
	cond *sync.Cond // readers waiting for room (admit)

	// The stream's routing step, reused (see begin): state.mu guards
	// base and ctx too.
	state     routeState
	base, ctx context.Context
	baseClean bool // base carries no routing state: begin may skip ctx.Value
}

type laneKey struct{ from, to string } // sender's full JID, recipient's bare JID

// lane: q[0] is held or being resumed, the rest wait for it.
type lane struct{ q []*holdStep }

// holdStep is a stanza part-way through the hooks of a holdable event.
type holdStep struct {
	name  string
	ev    *Event
	lanes *Lanes
	next  int32 // the next hook to run
	then  int8  // thenFromClient...: routing once every hook let it pass
	inq   bool  // counted in lanes.n (held or waiting)
	held  *Held // set by Hold during the hook that holds
}

// holdEvent is a holdable event and its step in one allocation; events
// that cannot be held do not carry a step (a smaller Event for every
// message/out and message/delivered).
type holdEvent struct {
	ev   Event
	step holdStep
}

// key is the step's lane: its sender and recipient.
func (s *holdStep) key() laneKey {
	st := s.ev.Stanza
	return laneKey{st.From.String(), st.To.Bare().String()}
}

// Held is a stanza a hook keeps; exactly one of Resume, Bounce, Drop and
// the time-out takes effect (the first), from any goroutine, even before
// the hook has returned.
type Held struct {
	r         *Router
	step      *holdStep
	timeout   time.Duration
	onTimeout *stanza.Error

	mu      sync.Mutex
	parked  bool                      // the router has it in its lane: a let-go acts at once
	done    bool                      // let go (or about to be)
	pending func(ctx context.Context) // a let-go that came before parking; nil end: resume
	early   bool
	timer   *time.Timer
}

// Hold keeps the event's stanza after the hook returns (its return value is
// then ignored). Unless let go within timeout (0: DefaultHoldTimeout), the
// stanza is bounced with onTimeout (nil: internal-server-error). Hold
// returns nil on an event that cannot be held.
func (ev *Event) Hold(timeout time.Duration, onTimeout *stanza.Error) *Held {
	if ev.step == nil {
		return nil
	}
	if ev.step.held != nil {
		return ev.step.held
	}
	if timeout <= 0 {
		timeout = DefaultHoldTimeout
	}
	if onTimeout == nil {
		onTimeout = stanza.ErrInternalServerError.WithText("a check on this stanza did not finish in time")
	}
	ev.step.held = &Held{r: ev.Router, step: ev.step, timeout: timeout, onTimeout: onTimeout}
	return ev.step.held
}

// Resume lets the stanza go on: the remaining hooks, then routing.
func (h *Held) Resume() { h.letGo(nil) }

// Bounce ends the stanza with an error reply to its sender.
func (h *Held) Bounce(e *stanza.Error) {
	h.letGo(func(ctx context.Context) { h.r.ReplyError(ctx, h.step.ev.Stanza, e) })
}

// Drop ends the stanza without a word (the hook took care of it).
func (h *Held) Drop() { h.letGo(func(context.Context) {}) }

// Take is Drop reporting whether it took effect: false when the time-out
// (or another let-go) came first, so the hook must not act in its place.
func (h *Held) Take() bool { return h.letGo(func(context.Context) {}) }

func (h *Held) letGo(end func(ctx context.Context)) bool {
	h.mu.Lock()
	if h.done {
		h.mu.Unlock()
		return false
	}
	h.done = true
	if !h.parked {
		h.pending, h.early = end, true // armed runs it once the lane is set
		h.mu.Unlock()
		return true
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.mu.Unlock()
	h.r.letGo(h.step, end)
	return true
}

// armed is called once the step is parked in its lane: it runs a let-go
// that came early, or starts the time-out.
func (h *Held) armed() {
	h.mu.Lock()
	h.parked = true
	if h.early {
		end := h.pending
		h.mu.Unlock()
		h.r.letGo(h.step, end)
		return
	}
	h.timer = time.AfterFunc(h.timeout, func() {
		st := h.step.ev.Stanza
		h.mu.Lock()
		late := h.done
		h.mu.Unlock()
		if !late {
			h.r.log.Warn("held stanza timed out; bounced", "event", h.step.name, "from", st.From.String(), "to", st.To.String())
		}
		h.Bounce(h.onTimeout)
	})
	h.mu.Unlock()
}

// What routing does with a stanza once every hook of a holdable event let
// it pass (no closure per stanza).
const (
	thenFromClient int8 = iota // fromClient: a local client's stanza
	thenToAccount              // toAccount: delivery to a local account
	thenRemote                 // federation
)

func (r *Router) then(ctx context.Context, then int8, origin *Resource, st *Stanza) {
	switch then {
	case thenFromClient:
		r.fromClient(ctx, origin, st)
	case thenToAccount:
		r.toAccount(ctx, st)
	case thenRemote:
		r.remote.Send(ctx, st)
	}
}

// fireHold runs the hooks of a holdable event, then what then says unless
// a hook handled the stanza. It queues the stanza behind a held one of the
// same sender and recipient.
func (r *Router) fireHold(ctx context.Context, name string, origin *Resource, st *Stanza, then int8) {
	hooked := len(r.hooks.of(name)) > 0
	l := r.lanesOf(ctx)
	if !hooked && l.n.Load() == 0 {
		r.then(ctx, then, origin, st) // the common case: nothing to run
		return
	}
	he := holdEvents.Get().(*holdEvent)
	he.ev = Event{Ctx: ctx, Origin: origin, Stanza: st}
	step := &he.step
	*step = holdStep{name: name, ev: &he.ev, then: then, lanes: l}
	if l.n.Load() > 0 {
		l.mu.Lock()
		if ln := l.m[step.key()]; ln != nil {
			step.inq = true
			l.n.Add(1)
			ln.q = append(ln.q, step)
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
	}
	if r.runStep(ctx, step) {
		if !step.inq {
			// Done here, never held or queued: nothing refers to it
			// any more (hooks may not keep the *Event past their
			// return unless they Hold it).
			*he = holdEvent{}
			holdEvents.Put(he)
			return
		}
		r.finish(step)
	}
}

// holdEvents recycles the events of stanzas that no hook held: two per
// message otherwise (stanza/out and stanza/in), the largest allocation
// on the message path.
var holdEvents = sync.Pool{New: func() any { return new(holdEvent) }}

// runStep runs the hooks from step.next on; it reports whether the stanza
// is done (handled or routed), false when a hook holds it.
func (r *Router) runStep(ctx context.Context, step *holdStep) bool {
	l := r.hooks.of(step.name)
	ev := step.ev
	ev.Ctx, ev.Router, ev.step = ctx, r, step
	for i := int(step.next); i < len(l); i++ {
		step.held = nil
		handled := l[i].fn(ev)
		if h := step.held; h != nil {
			step.next = int32(i + 1)
			r.park(step)
			h.armed()
			return false
		}
		if handled {
			ev.step = nil
			return true
		}
	}
	ev.step = nil
	r.then(ctx, step.then, ev.Origin, ev.Stanza)
	return true
}

// park makes a held step the head of its lane.
func (r *Router) park(step *holdStep) {
	l := step.lanes
	l.mu.Lock()
	defer l.mu.Unlock()
	if step.inq {
		return // already the head of its lane (a resumed stanza held again)
	}
	step.inq = true
	l.n.Add(1)
	if l.m == nil {
		l.m = map[laneKey]*lane{}
	}
	l.m[step.key()] = &lane{q: []*holdStep{step}}
}

// letGo continues a held step on the calling goroutine, in a routing step
// of its own: end (bounce or drop) or the remaining hooks, then the
// stanzas that waited behind it.
func (r *Router) letGo(step *holdStep, end func(ctx context.Context)) {
	ctx := Detach(step.ev.Ctx)
	r.run(ctx, step.lanes, func(ctx context.Context) {
		if end != nil {
			end(ctx)
		} else if !r.runStep(ctx, step) {
			return // held again
		}
		r.finish(step)
	})
}

// finish removes a done step from its lane and runs the next ones that
// do not hold.
func (r *Router) finish(step *holdStep) {
	for step != nil && step.inq {
		l := step.lanes
		l.mu.Lock()
		key := step.key()
		ln := l.m[key]
		var next *holdStep
		if ln != nil && len(ln.q) > 0 && ln.q[0] == step {
			ln.q = ln.q[1:]
			if len(ln.q) == 0 {
				delete(l.m, key)
			} else {
				next = ln.q[0]
			}
		}
		if l.n.Add(-1) < MaxHeld && l.cond != nil {
			l.cond.Broadcast()
		}
		l.mu.Unlock()
		if next == nil {
			return
		}
		ctx := Detach(next.ev.Ctx)
		done := false
		r.run(ctx, next.lanes, func(ctx context.Context) { done = r.runStep(ctx, next) })
		if !done {
			return // held: it goes on when let go
		}
		step = next
	}
}

// admit waits while the stream has MaxHeld stanzas held or waiting: the
// reader of a stream calls it before handing the router a new stanza.
func (l *Lanes) admit() {
	if l.n.Load() < MaxHeld {
		return
	}
	l.mu.Lock()
	if l.cond == nil {
		l.cond = sync.NewCond(&l.mu)
	}
	for l.n.Load() >= MaxHeld {
		l.cond.Wait()
	}
	l.mu.Unlock()
}

// Held reports the stanzas held or waiting on these lanes (tests, metrics).
func (l *Lanes) Held() int { return int(l.n.Load()) }
