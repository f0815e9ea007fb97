package roster

import (
	"context"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// outbound handles a subscription stanza a local user sent (RFC 6121
// §3.1.2, §3.1.5, §3.2.2, §3.3.2). The stanza is already bare-addressed.
func (s *Service) outbound(ev *router.Event) bool {
	st := ev.Stanza
	owner, contact := st.From.Bare(), st.To.Bare()
	if owner.Equal(contact) {
		return true // subscribing to oneself is meaningless; the server always shares presence with its own resources
	}
	unlock := s.lock(owner.String())
	prev, item, err := s.State(ev.Ctx, owner.String(), contact.String())
	if err != nil {
		unlock()
		s.log.Error("roster read failed; subscription stanza not processed", "owner", owner.String(), "err", err)
		return true
	}
	o := Outbound(Kind(st.Type), prev)
	s.apply(ev.Ctx, owner, contact, prev, o, item, st, true, unlock)
	return true
}

// inbound handles a subscription stanza for a local user (RFC 6121 §3.1.3,
// §3.1.6, §3.2.3, §3.3.3).
func (s *Service) inbound(ev *router.Event) bool {
	st := ev.Stanza
	owner, contact := st.To.Bare(), st.From.Bare()
	if owner.Equal(contact) {
		return true
	}
	unlock := s.lock(owner.String())
	prev, item, err := s.State(ev.Ctx, owner.String(), contact.String())
	if err != nil {
		unlock()
		s.log.Error("roster read failed; subscription stanza not processed", "owner", owner.String(), "err", err)
		return true
	}
	o := Inbound(Kind(st.Type), prev)
	s.apply(ev.Ctx, owner, contact, prev, o, item, st, false, unlock)
	return true
}

// apply stores the outcome and carries out its actions in the order the
// Outcome documents. The owner's lock is held for the read-modify-write
// only: routing is synchronous for local contacts and may come back to
// this owner (an automatic reply), so it runs after unlock.
func (s *Service) apply(ctx context.Context, owner, contact jid.JID, prev State, o Outcome, item storage.RosterItem, st *router.Stanza, out bool, unlock func()) {
	pending := ""
	if !out && st.Type == string(KindSubscribe) {
		pending = string(xml.Append(nil, st.El, st.El.Space))
	}
	ver, err := s.save(ctx, owner.String(), prev, o.Next, item, pending)
	unlock()
	if o.SendUnavailable {
		// Sent after the store but before anything else reaches the
		// contact: the stanza order on the wire is what §3.2.2 asks.
		s.sendUnavailable(ctx, owner, contact.String())
	}
	if err != nil {
		s.log.Error("roster write failed; subscription change lost", "owner", owner.String(), "contact", contact.String(), "err", err)
		return
	}
	if o.Route {
		if out {
			s.r.Route(ctx, st)
		} else {
			for _, res := range s.r.Resources(owner) {
				if res.Available() {
					s.r.DeliverTo(res, st.El)
				}
			}
		}
	}
	if o.Push && ver != "" {
		it := item
		it.Subscription, it.Ask, it.Approved = o.Next.Subscription, o.Next.PendingOut, o.Next.PreApproved
		s.push(owner, it, !o.Next.InRoster, ver)
	}
	if o.AutoReply != "" {
		el := xml.New(xml.NSClient, "presence", "to", contact.String(), "from", owner.String(), "type", string(o.AutoReply))
		s.r.Route(ctx, &router.Stanza{El: el, Kind: "presence", Type: string(o.AutoReply), From: owner, To: contact})
	}
	if o.SendPresence {
		s.sendPresence(ctx, owner, contact)
	}
	if o.ProbeBack {
		el := xml.New(xml.NSClient, "presence", "to", contact.String(), "from", owner.String(), "type", "probe")
		s.r.Route(ctx, &router.Stanza{El: el, Kind: "presence", Type: "probe", From: owner, To: contact})
	}
}

// sendPresence sends each available resource's presence to contact.
func (s *Service) sendPresence(ctx context.Context, owner, contact jid.JID) {
	for _, res := range s.r.Resources(owner) {
		p, _ := res.Presence()
		if p == nil {
			continue
		}
		s.r.Route(ctx, readdressed(p, res.JID, contact))
	}
}

// sendUnavailable sends unavailable from each available resource to contact.
func (s *Service) sendUnavailable(ctx context.Context, owner jid.JID, contact string) {
	to, err := jid.Parse(contact)
	if err != nil {
		return
	}
	for _, res := range s.r.Resources(owner) {
		if !res.Available() {
			continue
		}
		el := xml.New(xml.NSClient, "presence", "to", contact, "from", res.JID.String(), "type", "unavailable")
		s.r.Route(ctx, &router.Stanza{El: el, Kind: "presence", Type: "unavailable", From: res.JID, To: to})
	}
}

// readdressed copies a presence element with new addresses.
func readdressed(p *xml.Element, from, to jid.JID) *router.Stanza {
	st := &router.Stanza{El: p, Kind: "presence", Type: p.Attr("type")}
	return st.Readdress(to, from)
}
