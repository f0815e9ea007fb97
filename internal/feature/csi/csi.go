// Package csi records Client State Indication (XEP-0352): a client says it
// is active or inactive, so the server may defer what is not urgent.
// tern records the state (other features read it with Inactive)
// and advertises the stream feature.
package csi

import (
	"context"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is urn:xmpp:csi:0.
const NS = "urn:xmpp:csi:0"

var inactive = router.NewKey[bool]("csi.inactive")

// Inactive reports whether the client of res said it is inactive (§5).
func Inactive(res *router.Resource) bool { return inactive.Of(res) }

// Module is client state indication.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "csi" }

// Register implements module.Module: the nonza handler and the stream feature.
func (Module) Register(h *module.Host) error {
	h.HandleNonza(NS, xml.New(NS, "csi"), func(_ context.Context, res *router.Resource, el *xml.Element) {
		switch el.Name {
		case "active":
			inactive.Set(res, false)
		case "inactive":
			inactive.Set(res, true)
		}
	})
	return nil
}
