package roster

import (
	"context"
	"errors"
	"hash/fnv"
	"log/slog"
	"sort"
	"sync"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is the roster namespace (RFC 6121 §2).
const NS = "jabber:iq:roster"

// Service is the roster feature: roster get/set/push and the handling of
// subscription stanzas for local users.
type Service struct {
	r        *router.Router
	store    storage.Roster
	maxItems int
	log      *slog.Logger
	locks    [256]sync.Mutex // striped by owner: one subscription change at a time per user, bounded memory
}

// Module is the roster feature (RFC 6121 §2-3). It provides *Service to
// the modules after it (presence, blocking, last activity).
type Module struct {
	MaxItems int // limits.roster_max_items (0: no limit)
}

// Name implements module.Module.
func (Module) Name() string { return "roster" }

// Register implements module.Module.
func (m Module) Register(h *module.Host) error {
	s := &Service{r: h.Router, store: h.Store.Roster(), maxItems: m.MaxItems, log: h.Log}
	h.HandleIQ(router.Self, "get", NS, s.get)
	h.HandleIQ(router.Self, "set", NS, s.set)
	h.Hook(router.EvSubscriptionOut, 0, s.outbound)
	h.Hook(router.EvSubscriptionIn, 0, s.inbound)
	h.Hook(router.EvAccountDeleting, 0, func(ev *router.Event) bool { s.forget(ev.Ctx, ev.Account); return false })
	h.Provide(s)
	return nil
}

// interested marks a resource that requested the roster (RFC 6121 §2.1.6:
// only those get pushes).
var interested = router.NewKey[bool]("roster.interested")

func (s *Service) lock(owner string) func() {
	h := fnv.New32a()
	h.Write([]byte(owner))
	mu := &s.locks[h.Sum32()%uint32(len(s.locks))]
	mu.Lock()
	return mu.Unlock
}

// State loads the subscription state of contact in owner's roster.
func (s *Service) State(ctx context.Context, owner, contact string) (State, storage.RosterItem, error) {
	var st State
	item, err := s.store.Item(ctx, owner, contact)
	switch {
	case err == nil:
		st = State{InRoster: true, Subscription: item.Subscription, PendingOut: item.Ask, PreApproved: item.Approved}
	case errors.Is(err, storage.ErrNotFound):
		item = storage.RosterItem{Contact: contact, Subscription: storage.SubNone}
	default:
		return st, item, err
	}
	pin, err := s.store.HasPendingIn(ctx, owner, contact)
	if err != nil {
		return st, item, err
	}
	st.PendingIn = pin
	if st.Subscription == "" {
		st.Subscription = storage.SubNone
	}
	return st, item, nil
}

// save stores next (item and pending-in) and returns the new roster version.
func (s *Service) save(ctx context.Context, owner string, prev, next State, item storage.RosterItem, pendingStanza string) (string, error) {
	if next.PendingIn != prev.PendingIn {
		var err error
		if next.PendingIn {
			err = s.store.AddPendingIn(ctx, owner, storage.PendingIn{Contact: item.Contact, Stanza: pendingStanza})
		} else {
			err = s.store.RemovePendingIn(ctx, owner, item.Contact)
		}
		if err != nil {
			return "", err
		}
	}
	if !next.InRoster {
		if prev.InRoster {
			return s.store.DeleteItem(ctx, owner, item.Contact)
		}
		return "", nil
	}
	if prev.InRoster && prev.Subscription == next.Subscription && prev.PendingOut == next.PendingOut && prev.PreApproved == next.PreApproved {
		return "", nil
	}
	item.Subscription, item.Ask, item.Approved = next.Subscription, next.PendingOut, next.PreApproved
	return s.store.PutItem(ctx, owner, item, 0) // subscriptions never fail on the quota: the contact acted
}

// CanSeePresence reports whether contact is entitled to owner's presence
// (subscription from or both, RFC 6121 §4.2.2), for other modules.
func (s *Service) CanSeePresence(ctx context.Context, owner, contact string) (bool, error) {
	st, _, err := s.State(ctx, owner, contact)
	return err == nil && st.CanSeePresence(), err
}

// Items returns the visible roster of owner (for presence broadcast).
func (s *Service) Items(ctx context.Context, owner string) ([]storage.RosterItem, error) {
	items, _, err := s.store.Items(ctx, owner)
	return items, err
}

// itemElement renders an item for a roster result or push.
func itemElement(it storage.RosterItem, remove bool) *xml.Element {
	e := xml.New(NS, "item", "jid", it.Contact)
	if remove {
		return e.SetAttr("subscription", "remove")
	}
	e.SetAttr("name", it.Name)
	sub := it.Subscription
	if sub == "" {
		sub = storage.SubNone
	}
	e.SetAttr("subscription", sub)
	if it.Ask {
		e.SetAttr("ask", "subscribe")
	}
	if it.Approved {
		e.SetAttr("approved", "true")
	}
	groups := append([]string(nil), it.Groups...)
	sort.Strings(groups)
	for _, g := range groups {
		e.Append(xml.New(NS, "group").SetText(g))
	}
	return e
}

// push sends a roster push to every interested resource (RFC 6121 §2.1.6).
func (s *Service) push(owner jid.JID, it storage.RosterItem, remove bool, ver string) {
	for _, res := range s.r.Resources(owner) {
		if !interested.Of(res) {
			continue
		}
		q := xml.New(NS, "query")
		q.SetAttr("ver", ver)
		q.Append(itemElement(it, remove))
		iq := xml.New(xml.NSClient, "iq", "to", res.JID.String(), "type", "set", "id", "push-"+pushID())
		s.r.DeliverTo(res, iq.Append(q))
	}
}
