package router

import (
	"sync"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Session is a connected client as the router sees it (c2s, later
// WebSocket and BOSH).
type Session interface {
	// Send queues a stanza for the client without blocking; the element
	// must not be mutated afterwards. It reports false when the session
	// is closing and the stanza was not taken.
	Send(el *xml.Element) bool
	// Backlog is the number of bytes queued and not yet written, or -1
	// once the session is closing.
	Backlog() int
	// NotifyDrained calls fn once the output queued so far is written
	// (ok) or the session closed before (!ok).
	NotifyDrained(fn func(ok bool))
	// Close ends the stream with the given error (nil: a plain close).
	Close(err *stream.Error)
	// RemoteAddr is the client's address, for logs.
	RemoteAddr() string
}

// Resource is one bound resource: its presence (what routing needs, RFC
// 6121 §8.5) and the typed slots features keep on it (values.go).
type Resource struct {
	JID     jid.JID
	Session Session

	lanes Lanes // its stanzas held by hooks, and those waiting behind them

	mu         sync.Mutex
	presence   *xml.Element // last broadcast available presence, nil if not available
	priority   int
	everAvail  bool
	everNonNeg bool
	vals       values // features' slots
}

// Presence returns the last available presence (nil: unavailable) and priority.
func (r *Resource) Presence() (*xml.Element, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.presence, r.priority
}

// SetPresence records the broadcast presence (nil for unavailable). It
// reports whether this is the first available presence of the session,
// and whether it is the first with a non-negative priority (from then on
// the resource takes messages for the bare JID: offline delivery).
func (r *Resource) SetPresence(p *xml.Element, priority int) (initial, firstNonNegative bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	initial = p != nil && !r.everAvail
	firstNonNegative = p != nil && priority >= 0 && !r.everNonNeg
	if p != nil {
		r.everAvail = true
		r.everNonNeg = r.everNonNeg || priority >= 0
	}
	r.presence, r.priority = p, priority
	return initial, firstNonNegative
}

// Available reports whether the resource has sent available presence.
func (r *Resource) Available() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.presence != nil
}
