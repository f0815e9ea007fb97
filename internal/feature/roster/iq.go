package roster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"sort"
	"unicode/utf8"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	maxNameBytes  = 1024
	maxGroups     = 64
	maxGroupBytes = 1024
)

func pushID() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// get answers a roster get (RFC 6121 §2.1.3), with versioning (§2.6): a
// request carrying the current version gets an empty result; any other
// gets the whole roster.
func (s *Service) get(iq *router.IQ) (*xml.Element, error) {
	owner := iq.From.Bare().String()
	if iq.Origin != nil {
		interested.Set(iq.Origin, true)
	}
	q := iq.Payload()
	if q.FirstElement() != nil {
		return nil, stanza.ErrBadRequest.WithText("a roster get has no children")
	}
	items, ver, err := s.store.Items(iq.Ctx, owner)
	if err != nil {
		return nil, err
	}
	if q.HasAttr("ver") && q.Attr("ver") == ver && ver != "" {
		return nil, nil
	}
	out := xml.New(NS, "query", "ver", ver)
	if ver == "" {
		out.SetAttr("ver", "0")
	}
	for _, it := range items {
		out.Append(itemElement(it, false))
	}
	return out, nil
}

// set handles a roster set (RFC 6121 §2.3, §2.5): add/update or remove one item.
func (s *Service) set(iq *router.IQ) (*xml.Element, error) {
	owner := iq.From.Bare()
	q := iq.Payload()
	items := q.Elements()
	if len(items) != 1 || items[0].Name != "item" || items[0].Space != NS {
		return nil, stanza.ErrBadRequest.WithText("a roster set has exactly one <item/>")
	}
	el := items[0]
	cj, err := jid.Parse(el.Attr("jid"))
	if err != nil {
		return nil, stanza.ErrJIDMalformed.WithText("the item's jid is not a valid JID")
	}
	contact := cj.String()
	if cj.Equal(owner) {
		return nil, stanza.ErrNotAllowed.WithText("you cannot add yourself to your roster")
	}
	if el.Attr("subscription") == "remove" {
		return nil, s.remove(iq, owner, contact)
	}
	defer s.lock(owner.String())()
	// §2.1.2.5: a client cannot set subscription or ask; other values are ignored.
	name := el.Attr("name")
	if len(name) > maxNameBytes {
		return nil, stanza.ErrNotAcceptable.WithText("the name is too long")
	}
	var groups []string
	seen := map[string]bool{}
	for _, g := range el.Elements() {
		if g.Space != NS || g.Name != "group" {
			continue
		}
		t := g.Text()
		if t == "" || !utf8.ValidString(t) {
			return nil, stanza.ErrNotAcceptable.WithText("a group name cannot be empty")
		}
		if seen[t] {
			return nil, stanza.ErrBadRequest.WithText("duplicate group '" + t + "'")
		}
		if len(t) > maxGroupBytes {
			return nil, stanza.ErrNotAcceptable.WithText("a group name is too long")
		}
		seen[t] = true
		groups = append(groups, t)
	}
	if len(groups) > maxGroups {
		return nil, stanza.ErrNotAcceptable.WithText("too many groups")
	}
	sort.Strings(groups)
	_, item, err := s.State(iq.Ctx, owner.String(), contact)
	if err != nil {
		return nil, err
	}
	item.Contact, item.Name, item.Groups = contact, name, groups
	ver, err := s.store.PutItem(iq.Ctx, owner.String(), item, s.maxItems)
	if errors.Is(err, storage.ErrQuotaExceeded) {
		return nil, stanza.ErrNotAllowed.WithText("your roster is full")
	}
	if err != nil {
		return nil, err
	}
	s.push(owner, item, false, ver)
	return nil, nil
}

// remove deletes an item and cancels the subscriptions both ways (§2.5.2).
func (s *Service) remove(iq *router.IQ, owner jid.JID, contact string) error {
	unlock := s.lock(owner.String())
	st, item, err := s.State(iq.Ctx, owner.String(), contact)
	if err != nil {
		unlock()
		return err
	}
	if !st.InRoster {
		if st.PendingIn {
			_ = s.store.RemovePendingIn(iq.Ctx, owner.String(), contact)
			unlock()
			s.sendSubscription(iq.Ctx, owner, contact, KindUnsubscribed)
			return nil
		}
		unlock()
		return stanza.ErrItemNotFound
	}
	kinds := Remove(st)
	ver, err := s.store.DeleteItem(iq.Ctx, owner.String(), contact)
	if err == nil && st.PendingIn {
		err = s.store.RemovePendingIn(iq.Ctx, owner.String(), contact)
	}
	unlock()
	if err != nil {
		return err
	}
	if st.CanSeePresence() {
		s.sendUnavailable(iq.Ctx, owner, contact)
	}
	for _, k := range kinds {
		s.sendSubscription(iq.Ctx, owner, contact, k)
	}
	s.push(owner, item, true, ver)
	return nil
}

func (s *Service) sendSubscription(ctx context.Context, owner jid.JID, contact string, k Kind) {
	to, err := jid.Parse(contact)
	if err != nil {
		return
	}
	el := xml.New(xml.NSClient, "presence", "to", contact, "from", owner.String(), "type", string(k))
	s.r.Route(ctx, &router.Stanza{El: el, Kind: "presence", Type: string(k), From: owner, To: to})
}

// forget tells every contact of owner that the subscriptions are over, as
// if each item were removed (RFC 6121 §2.5.2), before the account is
// deleted (EvAccountDeleting): a later account with the same name must
// inherit no subscription (pitfalls: re-registered names).
func (s *Service) forget(ctx context.Context, owner jid.JID) {
	items, _, err := s.store.Items(ctx, owner.String())
	if err != nil {
		s.log.Error("roster unreadable; contacts of the deleted account are not told", "owner", owner.String(), "err", err)
		return
	}
	for _, it := range items {
		st, _, err := s.State(ctx, owner.String(), it.Contact)
		if err != nil {
			continue
		}
		if st.CanSeePresence() {
			s.sendUnavailable(ctx, owner, it.Contact)
		}
		for _, k := range Remove(st) {
			s.sendSubscription(ctx, owner, it.Contact, k)
		}
	}
}
