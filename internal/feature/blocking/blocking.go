// Package blocking implements Blocking Command (XEP-0191): a user's block
// list, pushed to its resources, enforced both ways: stanzas from a blocked
// entity are not delivered (§3.5: errors for message and iq, presence
// dropped) and stanzas to one are refused with <blocked/> (§3.6).
package blocking

import (
	"context"
	"log/slog"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces of XEP-0191.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
	maxItems = 1000
)

// Roster is what blocking needs of the roster module: whether contact is
// entitled to owner's presence (subscription from or both). Only those get
// the presence changes blocking and unblocking cause (§5.3, §5.4), so a
// block reveals nothing to a stranger.
type Roster interface {
	CanSeePresence(ctx context.Context, owner, contact string) (bool, error)
}

// Presence is what blocking needs of the presence module: the JIDs a
// resource sent directed presence to (those a block matches see the
// resource leave, §5.3).
type Presence interface {
	DirectedTo(res *router.Resource) []string
}

// Service is the blocking feature. It reads the list from the store for
// every stanza it checks: the store the server runs on caches block lists
// (internal/storage/cache), so that costs no query.
type Service struct {
	r        *router.Router
	store    storage.Blocking
	roster   Roster
	presence Presence
	log      *slog.Logger
}

// requested marks a resource that asked for its block list (§3.2: only
// those get pushes).
var requested = router.NewKey[bool]("blocking.requested")

// Module is blocking; it needs the roster and presence modules.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "blocking" }

// Register implements module.Module.
func (Module) Register(h *module.Host) error {
	rs, err := module.Depend[Roster](h, "roster")
	if err != nil {
		return err
	}
	ps, err := module.Depend[Presence](h, "presence")
	if err != nil {
		return err
	}
	s := &Service{r: h.Router, store: h.Store.Blocking(), roster: rs, presence: ps, log: h.Log}
	// §5.1: clients ask the server (not their account) whether blocking is supported.
	h.AddFeature(router.Host, NS)
	h.HandleIQ(router.Self, "get", NS, s.get)
	h.HandleIQ(router.Self, "set", NS, s.set)
	h.Hook(router.EvStanzaIn, 50, s.inbound)
	h.Hook(router.EvMessageOut, 50, s.outbound)
	h.Hook(router.EvPresenceDirected, 50, s.outbound)
	return nil
}

func (s *Service) canSee(ctx context.Context, owner, contact string) bool {
	ok, err := s.roster.CanSeePresence(ctx, owner, contact)
	return err == nil && ok
}

// list returns owner's block list, parsed (for the JIDs unblock-all
// names).
func (s *Service) list(ctx context.Context, owner string) ([]jid.JID, error) {
	raw, err := s.store.BlockList(ctx, owner)
	if err != nil {
		return nil, err
	}
	l := make([]jid.JID, 0, len(raw))
	for _, v := range raw {
		if j, err := jid.Parse(v); err == nil {
			l = append(l, j)
		}
	}
	return l, nil
}

// matches applies the JID matching of XEP-0191 §3.?/XEP-0016 §2.1: an item
// blocks the exact full JID, the bare JID (any resource), the domain/resource
// or the whole domain.
func matches(item, j jid.JID) bool {
	switch {
	case item.Local() != "" && item.Resource() != "":
		return item.Equal(j)
	case item.Local() != "":
		return item.Equal(j.Bare())
	case item.Resource() != "":
		return item.Domain() == j.Domain() && item.Resource() == j.Resource() && j.Local() == ""
	default:
		return item.Domain() == j.Domain()
	}
}

// Blocked reports whether owner blocks j. Items are stored in canonical
// form (set stores the parsed JID's string), so matches reduces to
// comparing each item with the forms of j an item can block: j itself
// (full, or domain/resource), its bare JID and its domain. No item is
// parsed on this per-stanza path.
func (s *Service) Blocked(ctx context.Context, owner string, j jid.JID) bool {
	l, err := s.store.BlockList(ctx, owner)
	if err != nil {
		s.log.Warn("block list unreadable; not enforcing it for this stanza", "owner", owner, "err", err)
		return false
	}
	if len(l) == 0 {
		return false
	}
	full, domain := j.String(), j.Domain()
	bare := ""
	if j.Local() != "" {
		bare = j.Bare().String()
	}
	for _, it := range l {
		if it == full || it == domain || (bare != "" && it == bare) {
			return true
		}
	}
	return false
}

func (s *Service) inbound(ev *router.Event) bool {
	st := ev.Stanza
	if st.From.IsZero() {
		return false
	}
	if s.senderBlocks(ev.Ctx, st) {
		return true
	}
	if !s.Blocked(ev.Ctx, st.To.Bare().String(), st.From) {
		return false
	}
	switch st.Kind {
	case stanza.Message, stanza.IQ:
		if st.Type != "error" && st.Type != "result" && st.Type != "groupchat" && st.Type != "headline" {
			s.r.ReplyError(ev.Ctx, st, stanza.ErrServiceUnavailable)
		}
	}
	return true
}

func (s *Service) outbound(ev *router.Event) bool {
	st := ev.Stanza
	if st.To.IsZero() || !s.Blocked(ev.Ctx, st.From.Bare().String(), st.To) {
		return false
	}
	if st.Kind == stanza.Message {
		s.refuse(ev.Ctx, ev.Origin, st)
	}
	return true
}

// senderBlocks applies §5.3 to stanzas a local user's server generates
// toward a contact it blocked (presence broadcasts, probe answers) and to
// iqs, which have no outbound hook: presence is dropped (except the
// unavailable §5.3 itself requires), an iq get/set is refused.
func (s *Service) senderBlocks(ctx context.Context, st *router.Stanza) bool {
	if st.From.Local() == "" || !s.r.IsLocal(st.From.Domain()) {
		return false
	}
	switch {
	case st.Kind == stanza.Presence && st.Type != "unavailable" && !st.IsSubscription():
	case st.Kind == stanza.IQ && (st.Type == "get" || st.Type == "set"):
	default:
		return false
	}
	if !s.Blocked(ctx, st.From.Bare().String(), st.To) {
		return false
	}
	if st.Kind == stanza.IQ {
		s.refuse(ctx, s.r.Resource(st.From), st)
	}
	return true
}

// refuse answers a stanza to a blocked contact with not-acceptable and
// <blocked/> (§5.3). The error goes straight to the sending resource: routed,
// it would come "from" the blocked contact and be dropped by the block itself.
func (s *Service) refuse(ctx context.Context, origin *router.Resource, st *router.Stanza) {
	e := stanza.ErrNotAcceptable.WithText("you have blocked this contact")
	e.App = xml.New(NSErrors, "blocked")
	if origin == nil {
		s.r.ReplyError(ctx, st, e)
		return
	}
	if el := stanza.ErrorReply(st.El, e); el != nil {
		s.r.DeliverTo(origin, el)
	}
}

func (s *Service) get(iq *router.IQ) (*xml.Element, error) {
	if iq.Payload().Name != "blocklist" {
		return nil, stanza.ErrBadRequest
	}
	if iq.Origin != nil {
		requested.Set(iq.Origin, true)
	}
	l, err := s.store.BlockList(iq.Ctx, iq.From.Bare().String())
	if err != nil {
		return nil, err
	}
	q := xml.New(NS, "blocklist")
	for _, j := range l {
		q.Append(xml.New(NS, "item", "jid", j))
	}
	return q, nil
}

func (s *Service) set(iq *router.IQ) (*xml.Element, error) {
	p := iq.Payload()
	if p.Name != "block" && p.Name != "unblock" {
		return nil, stanza.ErrBadRequest.WithText("expected <block/> or <unblock/>")
	}
	var jids []string
	var parsed []jid.JID
	for _, it := range p.Elements() {
		if it.Name != "item" {
			continue
		}
		j, err := jid.Parse(it.Attr("jid"))
		if err != nil {
			return nil, stanza.ErrJIDMalformed
		}
		jids = append(jids, j.String())
		parsed = append(parsed, j)
	}
	owner := iq.From.Bare()
	if p.Name == "block" {
		if len(jids) == 0 {
			return nil, stanza.ErrBadRequest.WithText("<block/> needs at least one <item/>")
		}
		cur, err := s.store.BlockList(iq.Ctx, owner.String())
		if err != nil {
			return nil, err
		}
		if len(cur)+len(jids) > maxItems {
			return nil, stanza.ErrResourceConstraint.WithText("the block list is full")
		}
		if err := s.store.Block(iq.Ctx, owner.String(), jids); err != nil {
			return nil, err
		}
		// §5.3: blocked contacts that could see the user now see it leave:
		// subscribers at the blocked JID, and the directed-presence targets
		// the item matches (a bare or domain item covers full JIDs).
		for _, j := range parsed {
			sees := s.canSee(iq.Ctx, owner.String(), j.Bare().String())
			for _, res := range s.r.Resources(owner) {
				if !res.Available() {
					continue
				}
				var to []jid.JID
				if sees {
					to = append(to, j)
				}
				for _, d := range s.presence.DirectedTo(res) {
					if dj, err := jid.Parse(d); err == nil && matches(j, dj) && !(sees && dj.Bare().Equal(j.Bare())) {
						to = append(to, dj)
					}
				}
				for _, dst := range to {
					el := xml.New(xml.NSClient, "presence", "from", res.JID.String(), "to", dst.String(), "type", "unavailable")
					s.r.Route(iq.Ctx, &router.Stanza{El: el, Kind: "presence", Type: "unavailable", From: res.JID, To: dst})
				}
			}
		}
	} else {
		unblocked := parsed
		if len(jids) == 0 { // unblock all: the contacts are those on the list
			var err error
			if unblocked, err = s.list(iq.Ctx, owner.String()); err != nil {
				return nil, err
			}
		}
		if err := s.store.Unblock(iq.Ctx, owner.String(), jids); err != nil {
			return nil, err
		}
		// §5.4: subscribed contacts see the user's current presence again.
		for _, j := range unblocked {
			if !s.canSee(iq.Ctx, owner.String(), j.Bare().String()) {
				continue
			}
			for _, res := range s.r.Resources(owner) {
				if p, _ := res.Presence(); p != nil {
					s.r.Route(iq.Ctx, (&router.Stanza{El: p, Kind: "presence"}).Readdress(j, res.JID))
				}
			}
		}
	}
	// §3.3/§3.4: push the change to every resource that asked for the list.
	for _, res := range s.r.Resources(owner) {
		if !requested.Of(res) {
			continue
		}
		push := xml.New(NS, p.Name)
		for _, j := range jids {
			push.Append(xml.New(NS, "item", "jid", j))
		}
		s.r.DeliverTo(res, xml.New(xml.NSClient, "iq", "to", res.JID.String(), "type", "set", "id", "block-push").Append(push))
	}
	return nil, nil
}
