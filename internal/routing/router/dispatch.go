package router

import (
	"context"
	"sync"
)

// A routing step runs to the end before the stanzas it generates are
// routed: a hook that calls Route (a reply, a presence broadcast, an error)
// while it holds a lock of its own does not re-enter the router, the
// stanza waits in the step's queue and is routed once the hook chain has
// returned. That removes the re-entry deadlocks (crossing subscriptions)
// and keeps what one step generates in the order it was generated.

type stateKey struct{}

// routeState is a routing step under way: the queue of what it generated
// and the lanes of the stream it came from. One goroutine drains it at a
// time; others may queue into it (then the drainer routes for them).
type routeState struct {
	mu     sync.Mutex
	active bool // its owner drains the queue; false: Route starts afresh
	queue  []queued
	lanes  *Lanes
}

// queued is a stanza to route, or another step (fn) to run.
type queued struct {
	st *Stanza
	fn func(ctx context.Context)
}

func stateOf(ctx context.Context) *routeState {
	rs, _ := ctx.Value(stateKey{}).(*routeState)
	return rs
}

// lanesOf returns the lanes of the stream the routing in ctx came from.
func (r *Router) lanesOf(ctx context.Context) *Lanes {
	if rs := stateOf(ctx); rs != nil && rs.lanes != nil {
		return rs.lanes
	}
	return &r.lanes
}

// enqueue queues q behind the step under way in ctx; false when there is
// none (the caller starts one).
func enqueue(ctx context.Context, q queued) bool {
	rs := stateOf(ctx)
	if rs == nil {
		return false
	}
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if !rs.active {
		return false
	}
	rs.queue = append(rs.queue, q)
	return true
}

// begin starts a routing step for a stream's lanes and returns its
// context; end drains what the step queued. A stream reuses one state and
// context (no allocation per stanza) while its callers pass the context
// they passed first; a step already under way in ctx is joined instead.
func (r *Router) begin(ctx context.Context, l *Lanes) (context.Context, *routeState) {
	if l != nil {
		// The common case, a stream passing its own context again: no
		// ctx.Value walk (through a WithoutCancel it allocates).
		rs := &l.state
		rs.mu.Lock()
		if l.baseClean && !rs.active && l.base == ctx {
			rs.active = true
			rs.mu.Unlock()
			return l.ctx, rs
		}
		rs.mu.Unlock()
	}
	outer := stateOf(ctx)
	if rs := outer; rs != nil {
		rs.mu.Lock()
		active := rs.active
		rs.mu.Unlock()
		if active {
			return ctx, nil
		}
		if l == nil {
			l = rs.lanes
		}
	}
	if l == nil {
		l = &r.lanes
	}
	rs := &l.state
	rs.mu.Lock()
	if l.base == nil {
		l.base, l.ctx, rs.lanes = ctx, context.WithValue(ctx, stateKey{}, rs), l
		l.baseClean = outer == nil
	}
	if rs.active || l.base != ctx {
		// Busy on another goroutine, or another base: a state of its own.
		rs.mu.Unlock()
		own := &routeState{active: true, lanes: l}
		return context.WithValue(ctx, stateKey{}, own), own
	}
	rs.active = true
	rs.mu.Unlock()
	return l.ctx, rs
}

// end drains the step's queue (nil: the step was joined, nothing to do).
func (r *Router) end(ctx context.Context, rs *routeState) {
	if rs == nil {
		return
	}
	for i := 0; ; i++ {
		rs.mu.Lock()
		if i == len(rs.queue) {
			if cap(rs.queue) > 16 {
				rs.queue = nil // a broadcast's queue is not kept per stream
			} else {
				clear(rs.queue)
				rs.queue = rs.queue[:0]
			}
			rs.active = false
			rs.mu.Unlock()
			return
		}
		q := rs.queue[i]
		rs.mu.Unlock()
		if q.fn != nil {
			q.fn(ctx)
		} else {
			r.route(ctx, q.st)
		}
	}
}

// run executes fn as a routing step on lanes (nil: those of ctx's step, or
// the server's), or queues it behind the step under way in ctx.
func (r *Router) run(ctx context.Context, lanes *Lanes, fn func(ctx context.Context)) {
	if enqueue(ctx, queued{fn: fn}) {
		return
	}
	ctx, rs := r.begin(ctx, lanes)
	fn(ctx)
	r.end(ctx, rs)
}

// Detach returns ctx without the routing state of the step under way, for
// work that continues later on another goroutine (a callback, a held
// stanza's check): what it routes starts a step of its own.
func Detach(ctx context.Context) context.Context {
	if stateOf(ctx) == nil {
		return ctx
	}
	return context.WithValue(ctx, stateKey{}, (*routeState)(nil))
}
