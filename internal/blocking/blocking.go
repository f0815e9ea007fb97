// Package blocking implements Blocking Command (XEP-0191): a user's block
// list, pushed to its resources, enforced both ways: stanzas from a blocked
// entity are not delivered (§3.5: errors for message and iq, presence
// dropped) and stanzas to one are refused with <blocked/> (§3.6).
package blocking

import (
	"context"
	"sync"

	"github.com/tern-xmpp/tern/internal/jid"
	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/stanza"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/xml"
)

// Namespaces of XEP-0191.
const (
	NS       = "urn:xmpp:blocking"
	NSErrors = "urn:xmpp:blocking:errors"
	maxItems = 1000
)

// Service is the blocking feature, with an in-memory cache of lists so the
// per-stanza check costs no query.
type Service struct {
	r     *router.Router
	store storage.Blocking
	mu    sync.Mutex
	cache map[string][]jid.JID // bare JID -> list
}

const maxCache = 100000

// Register installs the handlers and hooks.
func Register(r *router.Router, store storage.Blocking) *Service {
	s := &Service{r: r, store: store, cache: map[string][]jid.JID{}}
	r.HandleIQ(router.Self, "get", NS, s.get)
	r.HandleIQ(router.Self, "set", NS, s.set)
	r.Hook(router.EvStanzaIn, 50, s.inbound)
	r.Hook(router.EvMessageOut, 50, s.outbound)
	r.Hook(router.EvPresenceDirected, 50, s.outbound)
	return s
}

func (s *Service) list(ctx context.Context, owner string) ([]jid.JID, error) {
	s.mu.Lock()
	l, ok := s.cache[owner]
	s.mu.Unlock()
	if ok {
		return l, nil
	}
	raw, err := s.store.BlockList(ctx, owner)
	if err != nil {
		return nil, err
	}
	l = make([]jid.JID, 0, len(raw))
	for _, v := range raw {
		if j, err := jid.Parse(v); err == nil {
			l = append(l, j)
		}
	}
	s.mu.Lock()
	if len(s.cache) >= maxCache {
		s.cache = map[string][]jid.JID{}
	}
	s.cache[owner] = l
	s.mu.Unlock()
	return l, nil
}

func (s *Service) forget(owner string) {
	s.mu.Lock()
	delete(s.cache, owner)
	s.mu.Unlock()
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

// Blocked reports whether owner blocks j.
func (s *Service) Blocked(ctx context.Context, owner string, j jid.JID) bool {
	l, err := s.list(ctx, owner)
	if err != nil {
		s.r.Log().Warn("block list unreadable; not enforcing it for this stanza", "owner", owner, "err", err)
		return false
	}
	for _, it := range l {
		if matches(it, j) {
			return true
		}
	}
	return false
}

func (s *Service) inbound(ev *router.Event) bool {
	st := ev.Stanza
	if st.From.IsZero() || !s.Blocked(ev.Ctx, st.To.Bare().String(), st.From) {
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
		e := stanza.ErrNotAcceptable.WithText("you have blocked this contact")
		e.App = xml.New(NSErrors, "blocked")
		s.r.ReplyError(ev.Ctx, st, e)
	}
	return true
}

func (s *Service) get(iq *router.IQ) (*xml.Element, error) {
	if iq.Payload().Name != "blocklist" {
		return nil, stanza.ErrBadRequest
	}
	if iq.Origin != nil {
		iq.Origin.SetBlocklistRequested()
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
		s.forget(owner.String())
		// §3.3: blocked contacts stop seeing the user as available.
		for _, j := range parsed {
			for _, res := range s.r.Resources(owner) {
				if res.Available() {
					el := xml.New(xml.NSClient, "presence", "from", res.JID.String(), "to", j.String(), "type", "unavailable")
					s.r.Route(iq.Ctx, &router.Stanza{El: el, Kind: "presence", Type: "unavailable", From: res.JID, To: j})
				}
			}
		}
	} else {
		if err := s.store.Unblock(iq.Ctx, owner.String(), jids); err != nil {
			return nil, err
		}
		s.forget(owner.String())
	}
	// §3.3/§3.4: push the change to every resource that asked for the list.
	for _, res := range s.r.Resources(owner) {
		if !res.BlocklistRequested() {
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
