package serverinfo

import (
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NSPing is the ping namespace.
const NSPing = "urn:xmpp:ping"

// Ping answers pings with an empty result.
type Ping struct{}

// Name implements module.Module.
func (Ping) Name() string { return "ping" }

// Register implements module.Module.
func (Ping) Register(h *module.Host) error {
	h.HandleIQ(router.Host|router.Self, "get", NSPing, func(*router.IQ) (*xml.Element, error) { return nil, nil })
	return nil
}
