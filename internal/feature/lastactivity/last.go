// Package lastactivity answers Last Activity (XEP-0012): the server's
// uptime (§5) and, for an account, the time since its last logout, shown
// only to entities subscribed to its presence (§4).
package lastactivity

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is jabber:iq:last.
const NS = "jabber:iq:last"

// Roster is what last activity needs of the roster module.
type Roster interface {
	CanSeePresence(ctx context.Context, owner, contact string) (bool, error)
}

// Module is last activity; Started is the server start time (uptime, §5).
type Module struct{ Started time.Time }

// Name implements module.Module.
func (Module) Name() string { return "lastactivity" }

// Register implements module.Module.
func (m Module) Register(h *module.Host) error {
	rs, err := module.Depend[Roster](h, "roster")
	if err != nil {
		return err
	}
	r, store, started, now := h.Router, h.Store.LastActivity(), m.Started, h.Now
	h.HandleIQ(router.Host, "get", NS, func(*router.IQ) (*xml.Element, error) {
		return xml.New(NS, "query", "seconds", strconv.Itoa(int(now().Sub(started).Seconds()))), nil
	})
	h.HandleIQ(router.Self|router.Account, "get", NS, func(iq *router.IQ) (*xml.Element, error) {
		owner := iq.From.Bare()
		if !iq.To.IsZero() {
			owner = iq.To.Bare()
		}
		if !owner.Equal(iq.From.Bare()) {
			sees, err := rs.CanSeePresence(iq.Ctx, owner.String(), iq.From.Bare().String())
			if err != nil {
				return nil, err
			}
			if !sees {
				return nil, stanza.ErrForbidden
			}
		}
		for _, res := range r.Resources(owner) {
			if res.Available() {
				return xml.New(NS, "query", "seconds", "0"), nil
			}
		}
		at, status, err := store.GetLast(iq.Ctx, owner.String())
		if errors.Is(err, storage.ErrNotFound) {
			return nil, stanza.ErrServiceUnavailable
		}
		if err != nil {
			return nil, err
		}
		q := xml.New(NS, "query", "seconds", strconv.Itoa(int(now().Sub(at).Seconds())))
		return q.SetText(status), nil
	})
	return nil
}
