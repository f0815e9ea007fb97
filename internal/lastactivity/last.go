// Package lastactivity answers Last Activity (XEP-0012): the server's
// uptime (§5) and, for an account, the time since its last logout, shown
// only to entities subscribed to its presence (§4).
package lastactivity

import (
	"errors"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/roster"
	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/stanza"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/xml"
)

// NS is jabber:iq:last.
const NS = "jabber:iq:last"

// Register installs the handlers; started is the server start time.
func Register(r *router.Router, rs *roster.Service, store storage.LastActivity, started time.Time) {
	r.HandleIQ(router.Host, "get", NS, func(*router.IQ) (*xml.Element, error) {
		return xml.New(NS, "query", "seconds", strconv.Itoa(int(time.Since(started).Seconds()))), nil
	})
	r.HandleIQ(router.Self|router.Account, "get", NS, func(iq *router.IQ) (*xml.Element, error) {
		owner := iq.From.Bare()
		if !iq.To.IsZero() {
			owner = iq.To.Bare()
		}
		if !owner.Equal(iq.From.Bare()) {
			st, _, err := rs.State(iq.Ctx, owner.String(), iq.From.Bare().String())
			if err != nil {
				return nil, err
			}
			if !st.CanSeePresence() {
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
		q := xml.New(NS, "query", "seconds", strconv.Itoa(int(time.Since(at).Seconds())))
		return q.SetText(status), nil
	})
}
