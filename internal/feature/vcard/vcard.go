// Package vcard stores and serves vcard-temp (XEP-0054): a user sets its
// own vCard, anyone may read it. Size is bounded (avatars live in vCards).
// On Direct domains clients may not set theirs unless configured (TIM+,
// timplus.md §5 item 26: the organisation's directory owns the names).
package vcard

import (
	"errors"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is vcard-temp.
const NS = "vcard-temp"

// Module is vcard-temp; its section [vcard] sets max_bytes and
// direct_client_set.
type Module struct {
	MaxBytes int `toml:"max_bytes"` // a stored vCard (avatars live in vCards); 0: no limit
	// DirectClientSet lets users of Direct domains set their own vCard.
	DirectClientSet bool `toml:"direct_client_set"`
	// Direct reports the local domains marked Direct (nil: none).
	Direct func(domain string) bool `toml:"-"`
}

// DefaultMaxBytes is Module.MaxBytes unless configured.
const DefaultMaxBytes = 128 << 10

// Name implements module.Module.
func (*Module) Name() string { return "vcard" }

// Config implements module.Configurable.
func (m *Module) Config() any { return m }

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	store, maxBytes := h.Store.VCards(), m.MaxBytes
	// §4: support is discovered with disco#info to the server.
	h.AddFeature(router.Host, NS)
	get := func(iq *router.IQ) (*xml.Element, error) {
		owner := iq.From.Bare()
		if !iq.To.IsZero() {
			owner = iq.To.Bare()
		}
		b, err := store.GetVCard(iq.Ctx, owner.String())
		if errors.Is(err, storage.ErrNotFound) {
			if !owner.Equal(iq.From.Bare()) {
				// §3.3: another user's missing vCard MUST be an error.
				return nil, stanza.ErrServiceUnavailable
			}
			return xml.New(NS, "vCard"), nil // §3.1: empty for one's own
		}
		if err != nil {
			return nil, err
		}
		el, err := xml.Parse(b)
		if err != nil {
			return nil, err
		}
		return el, nil
	}
	h.HandleIQ(router.Self|router.Account, "get", NS, get)
	h.HandleIQ(router.Self, "set", NS, func(iq *router.IQ) (*xml.Element, error) {
		if !m.DirectClientSet && m.Direct != nil && m.Direct(iq.From.Domain()) {
			return nil, stanza.ErrNotAllowed.WithText("vCards of this Direct domain are managed by its administrators ([vcard] direct_client_set = true lets users set theirs)")
		}
		p := iq.Payload()
		if p.Name != "vCard" {
			return nil, stanza.ErrBadRequest.WithText("expected <vCard xmlns='vcard-temp'/>")
		}
		b := xml.Append(nil, p, "")
		if maxBytes > 0 && len(b) > maxBytes {
			return nil, stanza.ErrNotAcceptable.WithText("the vCard is too large")
		}
		return nil, store.SetVCard(iq.Ctx, iq.From.Bare().String(), b)
	})
	// A vCard set to another account is not allowed.
	h.HandleIQ(router.Account, "set", NS, func(*router.IQ) (*xml.Element, error) {
		return nil, stanza.ErrForbidden
	})
	return nil
}
