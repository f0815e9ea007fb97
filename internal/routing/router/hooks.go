package router

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"sync"
	"sync/atomic"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Event names. A hook returns true when it fully handled the event, which
// stops the chain (like Prosody's events).
const (
	// From a local client, before routing (blocking, carbons "sent").
	EvMessageOut = "message/out"
	// Presence from a local client with no 'to': broadcast (presence feature).
	EvPresenceBroadcast = "presence/broadcast"
	// Directed presence from a local client (to set, available/unavailable).
	EvPresenceDirected = "presence/directed"
	// Subscription presence from a local client (roster feature).
	EvSubscriptionOut = "presence/subscription/out"
	// Subscription presence for a local user (roster feature).
	EvSubscriptionIn = "presence/subscription/in"
	// Probe for a local user (presence feature answers).
	EvProbeIn = "presence/probe/in"
	// Any stanza from a local client, before anything else: holdable (see
	// hold.go), e.g. for an outbound trust check.
	EvStanzaOut = "stanza/out"
	// Any stanza for a local user, before delivery (blocking): holdable,
	// e.g. for an archive write or an inbound trust check.
	EvStanzaIn = "stanza/in"
	// Any stanza leaving for another domain, before federation takes it:
	// holdable, e.g. for a check of the peer domain.
	EvStanzaRemote = "stanza/remote"
	// An iq get or set from a local client to another entity (not its own
	// account, not the server).
	EvIQOut = "iq/out"
	// A message delivered to one resource (carbons "received").
	EvMessageDelivered = "message/delivered"
	// A stored message written to a session that came online (fired by
	// the offline feature once the session wrote it): Direct sends its
	// "dispatched" notification.
	EvMessageFetched = "message/fetched"
	// A message that no resource could take (offline storage).
	EvMessageOffline = "message/offline"
	// A message offline storage kept, once durable (fired by the offline
	// feature): delivery tracking sends its "stored" notice.
	EvMessageStored = "message/stored"
	// Session lifecycle.
	EvBound       = "session/bound"       // resource bound
	EvAvailable   = "session/available"   // first available presence (deliver offline)
	EvUnavailable = "session/unavailable" // resource went unavailable or closed
	EvClosed      = "session/closed"      // resource unbound
	// EvStopping: the server is about to close its streams (shutdown).
	EvStopping = "server/stopping"
	// A top-level element from a client that is not a stanza (CSI, ...):
	// keyed by namespace, see HandleNonza.
)

// Event is what a hook receives.
type Event struct {
	Ctx    context.Context
	Router *Router
	Origin *Resource // the local resource that sent it, if any
	Stanza *Stanza
	// For EvMessageDelivered: the resources it was delivered to.
	Targets []*Resource
	// For EvAccountDeleting: the account.
	Account jid.JID

	step *holdStep // set while a holdable event runs (hold.go)
}

// HookFunc handles an event; true stops the chain. The *Event is the
// router's: a hook must not keep it past its return (it is reused), except
// through the Held that Hold returns.
type HookFunc func(ev *Event) bool

type hook struct {
	prio int
	fn   HookFunc
}

// hooks is copied on write: hooks are registered at start-up and read for
// every stanza, so readers load a snapshot without a lock.
type hooks struct {
	mu   sync.Mutex // serialises writers
	snap atomic.Pointer[map[string][]hook]
}

// of returns the hooks of name, highest priority first.
func (h *hooks) of(name string) []hook {
	if m := h.snap.Load(); m != nil {
		return (*m)[name]
	}
	return nil
}

// Hook registers fn for the event name; higher priorities run first.
func (r *Router) Hook(name string, prio int, fn HookFunc) {
	r.hooks.mu.Lock()
	defer r.hooks.mu.Unlock()
	m := map[string][]hook{}
	if old := r.hooks.snap.Load(); old != nil {
		maps.Copy(m, *old)
	}
	// A new slice: a reader may hold the old one.
	l := append(append([]hook(nil), m[name]...), hook{prio, fn})
	sort.SliceStable(l, func(i, j int) bool { return l[i].prio > l[j].prio })
	m[name] = l
	r.hooks.snap.Store(&m)
}

// Fire runs the hooks of name until one returns true, and reports that.
// Hooked reports whether event name has hooks (a caller may skip building
// the event).
func (r *Router) Hooked(name string) bool { return len(r.hooks.of(name)) > 0 }

func (r *Router) Fire(name string, ev *Event) bool {
	l := r.hooks.of(name)
	ev.Router = r
	for _, h := range l {
		if h.fn(ev) {
			return true
		}
	}
	return false
}

// NonzaFunc handles a top-level element that is not a stanza.
type NonzaFunc func(ctx context.Context, res *Resource, el *xml.Element)

// HandleNonza registers a handler for top-level elements of a namespace
// (XEP-0352 CSI), with the stream feature to advertise (nil for none).
// A namespace handled twice is an error.
func (r *Router) HandleNonza(ns string, feature *xml.Element, fn NonzaFunc) error {
	if r.nonzas[ns] != nil {
		return fmt.Errorf("top-level elements in %s are handled twice", ns)
	}
	r.nonzas[ns] = fn
	if feature != nil {
		r.streamFeatures = append(r.streamFeatures, feature)
	}
	return nil
}

// Nonza returns the handler for a namespace.
func (r *Router) Nonza(ns string) NonzaFunc { return r.nonzas[ns] }

// StreamFeatures lists the features features added for bound sessions.
func (r *Router) StreamFeatures() []*xml.Element { return r.streamFeatures }
