package router

import (
	"sync"

	"github.com/tern-xmpp/tern/internal/jid"
	"github.com/tern-xmpp/tern/internal/stream"
	"github.com/tern-xmpp/tern/internal/xml"
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

// Resource is one bound resource and the per-session state features keep.
type Resource struct {
	JID     jid.JID
	Session Session

	lanes Lanes // its stanzas held by hooks, and those waiting behind them

	mu         sync.Mutex
	presence   *xml.Element // last broadcast available presence, nil if not available
	priority   int
	interested bool // requested the roster (RFC 6121 §2.1.6)
	carbons    bool
	inactive   bool                // XEP-0352 client state
	directed   map[string]struct{} // full JIDs sent directed presence (RFC 6121 §4.6)
	everAvail  bool
	everNonNeg bool
	blocklist  bool
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

func (r *Resource) Interested() bool   { r.mu.Lock(); defer r.mu.Unlock(); return r.interested }
func (r *Resource) SetInterested()     { r.mu.Lock(); r.interested = true; r.mu.Unlock() }
func (r *Resource) Carbons() bool      { r.mu.Lock(); defer r.mu.Unlock(); return r.carbons }
func (r *Resource) SetCarbons(on bool) { r.mu.Lock(); r.carbons = on; r.mu.Unlock() }
func (r *Resource) Inactive() bool     { r.mu.Lock(); defer r.mu.Unlock(); return r.inactive }
func (r *Resource) SetInactive(v bool) { r.mu.Lock(); r.inactive = v; r.mu.Unlock() }

// AddDirected records a directed-presence target; RemoveDirected forgets it.
func (r *Resource) AddDirected(to string) {
	r.mu.Lock()
	if r.directed == nil {
		r.directed = map[string]struct{}{}
	}
	r.directed[to] = struct{}{}
	r.mu.Unlock()
}
func (r *Resource) RemoveDirected(to string) { r.mu.Lock(); delete(r.directed, to); r.mu.Unlock() }

// TakeDirected returns and clears the directed-presence targets.
func (r *Resource) TakeDirected() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.directed))
	for k := range r.directed {
		out = append(out, k)
	}
	r.directed = nil
	return out
}

// Directed reports whether to was sent directed presence.
func (r *Resource) Directed(to string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.directed[to]
	return ok
}

// HasDirected reports whether any directed presence is outstanding.
func (r *Resource) HasDirected() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.directed) > 0
}

// SetBlocklistRequested marks that the client asked for its block list
// (XEP-0191 §3.2: only those get pushes).
func (r *Resource) SetBlocklistRequested() { r.mu.Lock(); r.blocklist = true; r.mu.Unlock() }

// BlocklistRequested reports SetBlocklistRequested.
func (r *Resource) BlocklistRequested() bool { r.mu.Lock(); defer r.mu.Unlock(); return r.blocklist }
