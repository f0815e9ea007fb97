package router

import (
	"context"
	"log/slog"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Remote sends stanzas to other domains (federation). Without one, remote
// stanzas bounce with remote-server-not-found.
type Remote interface {
	Send(ctx context.Context, st *Stanza)
}

// Router routes stanzas between local sessions, features and federation.
type Router struct {
	log    *slog.Logger
	hosts  map[string]bool
	reg    *registry
	hooks  hooks
	iqs    map[iqKey]IQFunc
	nonzas map[string]NonzaFunc
	users  storage.Users
	remote Remote

	features       map[Target][]string
	featureOn      map[string]func(domain string) bool // features of some domains only (HandleIQOn)
	identities     map[Target][]Identity
	infoForms      []FormFunc
	streamFeatures []*xml.Element
	services       map[string]*Service // by domain
	serviceOrder   []string
	lanes          Lanes    // stanzas the server generates on its own
	reqs           requests // the server's own iq requests awaiting answers (request.go)
	syncs          []func(ctx context.Context) error

	Metrics Metrics
}

// Metrics are the counters the router updates (nil funcs are skipped).
type Metrics struct {
	Routed func(kind string)
}

// New returns a router for the given local domains.
func New(log *slog.Logger, hosts []string, users storage.Users) *Router {
	r := &Router{
		log: log, hosts: map[string]bool{}, reg: newRegistry(), iqs: map[iqKey]IQFunc{},
		nonzas: map[string]NonzaFunc{}, users: users,
		features: map[Target][]string{}, identities: map[Target][]Identity{}, services: map[string]*Service{},
	}
	for _, h := range hosts {
		r.hosts[h] = true
	}
	return r
}

// SetRemote installs federation.
func (r *Router) SetRemote(rm Remote) { r.remote = rm }

// Log returns the router's logger.
func (r *Router) Log() *slog.Logger { return r.log }

// IsLocal reports whether domain is served here.
func (r *Router) IsLocal(domain string) bool { return r.hosts[domain] }

// Hosts returns the served domains.
func (r *Router) Hosts() []string {
	out := make([]string, 0, len(r.hosts))
	for h := range r.hosts {
		out = append(out, h)
	}
	return out
}

// Bind registers a resource. A session already bound to the same full JID
// is replaced: it gets a <conflict/> stream error (RFC 6120 §7.7.2.2).
func (r *Router) Bind(ctx context.Context, res *Resource) {
	r.run(ctx, &res.lanes, func(ctx context.Context) {
		if old := r.reg.bind(res); old != nil {
			r.unavailable(ctx, old)
			r.Fire(EvClosed, &Event{Ctx: ctx, Origin: old})
			old.Session.Close(stream.NewError("conflict", "replaced by a new session with the same resource"))
		}
		r.Fire(EvBound, &Event{Ctx: ctx, Origin: res})
	})
}

// Unbind removes a resource at the end of its session and, if it was
// available, broadcasts unavailable for it (RFC 6121 §4.5.2, §4.6.3).
func (r *Router) Unbind(ctx context.Context, res *Resource) {
	if !r.reg.unbind(res) {
		return
	}
	r.run(ctx, &res.lanes, func(ctx context.Context) {
		r.unavailable(ctx, res)
		r.Fire(EvClosed, &Event{Ctx: ctx, Origin: res})
	})
}

// unavailable tells the features a resource is gone; the presence feature
// broadcasts unavailable if it had sent presence (available or directed).
func (r *Router) unavailable(ctx context.Context, res *Resource) {
	r.Fire(EvUnavailable, &Event{Ctx: ctx, Origin: res})
}

// Deleting marks an account as being deleted: until Deleted and the end of
// its last session, it counts as absent (UserExists), so nothing routed to
// it meanwhile (messages its closing sessions hand back, presence) is
// stored for a name that a new account may take.
func (r *Router) Deleting(bare jid.JID) { r.reg.setGone(bare.String(), true) }

// Deleted ends what Deleting began, once the account's data is gone; the
// mark stays until the account's last session has unbound.
func (r *Router) Deleted(bare jid.JID) { r.reg.setGone(bare.String(), false) }

// Resources returns the bound resources of a bare JID.
func (r *Router) Resources(bare jid.JID) []*Resource { return r.reg.resources(bare) }

// AppendResources appends the bare JID's bound resources to buf, for a
// caller on a per-stanza path that iterates a stack array and keeps no
// reference (carbons).
func (r *Router) AppendResources(buf []*Resource, bare jid.JID) []*Resource {
	return r.reg.resourcesInto(buf, bare)
}

// Resource returns the resource bound to a full JID, or nil.
func (r *Router) Resource(full jid.JID) *Resource { return r.reg.resource(full) }

// SessionCount is the number of bound resources.
func (r *Router) SessionCount() int { return r.reg.len() }

// All returns every bound resource (shutdown).
func (r *Router) All() []*Resource { return r.reg.all() }

// UserExists reports whether a local account exists. Storage errors count
// as existing, so a backend outage never makes the server deny an account.
func (r *Router) UserExists(ctx context.Context, bare jid.JID) bool {
	if r.reg.isGone(bare.String()) {
		return false
	}
	if r.reg.countOf(bare) > 0 {
		return true
	}
	_, err := r.users.GetUser(ctx, bare.Domain(), bare.Local())
	if err == nil {
		return true
	}
	if err != storage.ErrNotFound {
		r.log.Warn("user lookup failed; treating the account as existing", "err", err)
		return true
	}
	return false
}

// RecipientExists is UserExists of st's bare 'to', asked once per stanza:
// hooks of EvStanzaIn that need it (the archive) and the delivery after
// them share one lookup (a store read for a user with no session).
func (r *Router) RecipientExists(ctx context.Context, st *Stanza) bool {
	bare := st.To.Bare()
	if k := recipientKnown.OfStanza(st); k.bare == bare.String() && !r.reg.isGone(k.bare) {
		return k.exists // (deleted since, if held meanwhile: gone)
	}
	ok := r.UserExists(ctx, bare)
	recipientKnown.SetStanza(st, known{bare.String(), ok})
	return ok
}

// known is RecipientExists' answer, for the bare JID it was about (a
// readdressed copy keeps the slots of the original).
type known struct {
	bare   string
	exists bool
}

var recipientKnown = NewKey[known]("recipient exists")

// ReplyError sends the error reply for st back to its sender.
func (r *Router) ReplyError(ctx context.Context, st *Stanza, e *stanza.Error) {
	el := stanza.ErrorReply(st.El, e)
	if el == nil || st.From.IsZero() {
		return
	}
	r.Route(ctx, &Stanza{El: el, Kind: st.Kind, Type: "error", ID: st.ID, From: st.To, To: st.From})
}

// FromClient processes a stanza sent by a local resource; its 'from' is
// already stamped with the resource's full JID. It returns once the stanza
// is routed or held (EvStanzaOut); it waits first while the session has
// MaxHeld stanzas held or waiting.
func (r *Router) FromClient(ctx context.Context, res *Resource, st *Stanza) {
	res.lanes.admit()
	ctx, rs := r.begin(ctx, &res.lanes)
	r.fireHold(ctx, EvStanzaOut, res, st, thenFromClient)
	r.end(ctx, rs)
}

// FromRemote routes a stanza that arrived over federation on a stream
// whose held stanzas lanes keep: like FromClient, it returns once the
// stanza is routed or held, and waits while the stream has MaxHeld.
func (r *Router) FromRemote(ctx context.Context, lanes *Lanes, st *Stanza) {
	lanes.admit()
	ctx, rs := r.begin(ctx, lanes)
	r.route(ctx, st)
	r.end(ctx, rs)
}

func (r *Router) fromClient(ctx context.Context, res *Resource, st *Stanza) {
	switch st.Kind {
	case stanza.Presence:
		if st.IsSubscription() {
			if st.To.IsZero() {
				return // RFC 6121 §3.1.1: needs a contact
			}
			st = st.Readdress(st.To.Bare(), st.From.Bare())
			r.Fire(EvSubscriptionOut, &Event{Ctx: ctx, Origin: res, Stanza: st})
			return
		}
		if st.To.IsZero() && (st.Type == "" || st.Type == "unavailable") {
			r.Fire(EvPresenceBroadcast, &Event{Ctx: ctx, Origin: res, Stanza: st})
			return
		}
		if st.IsAvailability() {
			if r.Fire(EvPresenceDirected, &Event{Ctx: ctx, Origin: res, Stanza: st}) {
				return
			}
		}
	case stanza.IQ:
		if st.To.IsZero() || st.To.Equal(st.From.Bare()) {
			if !r.handleIQ(ctx, res, st, Self) {
				r.unhandledIQ(ctx, st)
			}
			return
		}
		if (st.Type == "get" || st.Type == "set") && r.Fire(EvIQOut, &Event{Ctx: ctx, Origin: res, Stanza: st}) {
			return
		}
	case stanza.Message:
		if st.To.IsZero() {
			st = st.Readdress(st.From.Bare(), st.From)
		}
		if r.Fire(EvMessageOut, &Event{Ctx: ctx, Origin: res, Stanza: st}) {
			return
		}
	}
	r.route(ctx, st)
}

func (r *Router) unhandledIQ(ctx context.Context, st *Stanza) {
	if st.Type == "get" || st.Type == "set" {
		r.ReplyError(ctx, st, stanza.ErrServiceUnavailable)
	}
}

// Route delivers a stanza to its 'to': a local domain, user or resource,
// or federation. Called from a hook or handler, it queues the stanza until
// the current routing step is over (see dispatch.go).
func (r *Router) Route(ctx context.Context, st *Stanza) {
	if enqueue(ctx, queued{st: st}) {
		return
	}
	ctx, rs := r.begin(ctx, nil)
	r.route(ctx, st)
	r.end(ctx, rs)
}

func (r *Router) route(ctx context.Context, st *Stanza) {
	if r.Metrics.Routed != nil {
		r.Metrics.Routed(st.Kind)
	}
	if st.To.IsZero() {
		// Only server-generated stanzas get here without 'to': nothing to do.
		return
	}
	if s := r.services[st.To.Domain()]; s != nil {
		r.toService(ctx, s, st)
		return
	}
	if !r.hosts[st.To.Domain()] {
		if r.remote != nil {
			r.fireHold(ctx, EvStanzaRemote, r.originOf(st), st, thenRemote)
			return
		}
		r.ReplyError(ctx, st, stanza.ErrRemoteServerNotFound.WithText("federation is not enabled on this server"))
		return
	}
	if st.To.Local() == "" {
		r.toHost(ctx, st)
		return
	}
	r.toUser(ctx, st)
}

// toHost handles stanzas addressed to the server itself.
func (r *Router) toHost(ctx context.Context, st *Stanza) {
	switch st.Kind {
	case stanza.IQ:
		if st.To.Resource() == "" && (r.answered(st) || r.handleIQ(ctx, r.originOf(st), st, Host)) {
			return
		}
		r.unhandledIQ(ctx, st)
	case stanza.Message:
		if st.Type != "error" && st.Type != "groupchat" && st.Type != "headline" {
			r.ReplyError(ctx, st, stanza.ErrServiceUnavailable.WithText("this server does not take messages"))
		}
	}
	// Presence to the server: nothing to do (RFC 6121 has no server subscriptions).
}

// originOf finds the local resource that sent st, if any.
func (r *Router) originOf(st *Stanza) *Resource {
	if st.From.IsZero() || !r.hosts[st.From.Domain()] || st.From.Resource() == "" {
		return nil
	}
	return r.reg.resource(st.From)
}

// toUser applies RFC 6121 §8.5 to a stanza for a local account.
func (r *Router) toUser(ctx context.Context, st *Stanza) {
	bare := st.To.Bare()
	if st.IsAvailability() && r.reg.countOf(bare) == 0 {
		// Availability for a user with no session goes nowhere (RFC 6121
		// §4.6.3 delivers it to available resources only): no lookups.
		return
	}
	r.fireHold(ctx, EvStanzaIn, nil, st, thenToAccount)
}

// toAccount delivers a stanza for a local account once EvStanzaIn let it pass.
func (r *Router) toAccount(ctx context.Context, st *Stanza) {
	bare := st.To.Bare()
	if !r.RecipientExists(ctx, st) {
		// §8.5.1: no such user.
		switch st.Kind {
		case stanza.IQ, stanza.Message:
			if st.Type != "error" && st.Type != "result" {
				r.ReplyError(ctx, st, stanza.ErrServiceUnavailable)
			}
		case stanza.Presence:
			if st.Type == "subscribe" {
				// §3.1.3: answer unsubscribed so the sender's roster stays true.
				r.Route(ctx, &Stanza{El: xml.New(st.El.Space, "presence", "to", st.From.Bare().String(), "from", bare.String(), "type", "unsubscribed"),
					Kind: stanza.Presence, Type: "unsubscribed", From: bare, To: st.From.Bare()})
			}
		}
		return
	}
	switch st.Kind {
	case stanza.Presence:
		r.presenceToUser(ctx, st)
	case stanza.IQ:
		if st.To.Resource() == "" {
			self := !st.From.IsZero() && st.From.Bare().Equal(bare)
			t := Account
			if self {
				t = Self
			}
			if r.handleIQ(ctx, r.originOf(st), st, t) {
				return
			}
			r.unhandledIQ(ctx, st)
			return
		}
		if res := r.reg.resource(st.To); res != nil {
			res.Session.Send(st.El)
			return
		}
		r.unhandledIQ(ctx, st)
	case stanza.Message:
		r.messageToUser(ctx, st)
	}
}

func (r *Router) presenceToUser(ctx context.Context, st *Stanza) {
	switch {
	case st.IsSubscription():
		st = st.Readdress(st.To.Bare(), st.From.Bare())
		r.Fire(EvSubscriptionIn, &Event{Ctx: ctx, Stanza: st})
	case st.Type == "probe":
		r.Fire(EvProbeIn, &Event{Ctx: ctx, Stanza: st})
	default:
		// Availability or error: to every available resource (bare) or the one (full).
		if st.To.Resource() != "" {
			if res := r.reg.resource(st.To); res != nil {
				res.Session.Send(st.El)
			}
			return
		}
		var buf [8]*Resource
		for _, res := range r.reg.resourcesInto(buf[:0], st.To) {
			if res.Available() {
				res.Session.Send(st.El)
			}
		}
	}
}

// messageToUser applies RFC 6121 §8.5.2 (bare) and §8.5.3 (full).
func (r *Router) messageToUser(ctx context.Context, st *Stanza) {
	if st.To.Resource() != "" {
		if res := r.reg.resource(st.To); res != nil {
			r.deliver(ctx, res, st)
			return
		}
		// §8.5.3.2.1: no such resource.
		switch st.Type {
		case "groupchat":
			r.ReplyError(ctx, st, stanza.ErrServiceUnavailable)
			return
		case "headline", "error":
			return
		}
	}
	switch st.Type {
	case "error":
		return
	case "groupchat":
		r.ReplyError(ctx, st, stanza.ErrServiceUnavailable)
		return
	}
	var targets []*Resource
	best := 0
	var buf [8]*Resource
	for _, res := range r.reg.resourcesInto(buf[:0], st.To.Bare()) {
		p, prio := res.Presence()
		if p == nil || prio < 0 {
			continue
		}
		switch {
		case st.Type == "headline":
			targets = append(targets, res)
		case len(targets) == 0 || prio > best:
			targets, best = append(targets[:0], res), prio
		case prio == best:
			targets = append(targets, res)
		}
	}
	if len(targets) == 0 {
		if st.Type != "headline" {
			r.Fire(EvMessageOffline, &Event{Ctx: ctx, Stanza: st})
		}
		return
	}
	took := targets[:0]
	for _, res := range targets {
		if res.Session.Send(st.El) {
			took = append(took, res)
		}
	}
	if len(took) == 0 {
		// Every target was closing (a race with its end): store it rather
		// than lose it.
		if st.Type != "headline" {
			r.Fire(EvMessageOffline, &Event{Ctx: ctx, Stanza: st})
		}
		return
	}
	r.Fire(EvMessageDelivered, &Event{Ctx: ctx, Stanza: st, Targets: took})
}

func (r *Router) deliver(ctx context.Context, res *Resource, st *Stanza) {
	if !res.Session.Send(st.El) {
		// The resource is closing: as if it were gone (§8.5.3.2.1), a
		// chat or normal message goes to the bare JID.
		if st.Type == "" || st.Type == "normal" || st.Type == "chat" {
			r.messageToUser(ctx, st.Readdress(st.To.Bare(), st.From))
		}
		return
	}
	r.Fire(EvMessageDelivered, &Event{Ctx: ctx, Stanza: st, Targets: []*Resource{res}})
}

// DeliverTo sends a stanza to one resource as is (features that already
// chose the recipient); false if the session did not take it.
func (r *Router) DeliverTo(res *Resource, el *xml.Element) bool { return res.Session.Send(el) }
