// Package csi records Client State Indication (XEP-0352): a client says it
// is active or inactive, so the server may defer what is not urgent.
// tern records the state (visible to other features through the resource)
// and advertises the stream feature.
package csi

import (
	"context"

	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/xml"
)

// NS is urn:xmpp:csi:0.
const NS = "urn:xmpp:csi:0"

// Register installs the nonza handler and the stream feature.
func Register(r *router.Router) {
	r.HandleNonza(NS, xml.New(NS, "csi"), func(_ context.Context, res *router.Resource, el *xml.Element) {
		switch el.Name {
		case "active":
			res.SetInactive(false)
		case "inactive":
			res.SetInactive(true)
		}
	})
}
