package serverinfo

import (
	"context"
	"time"

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
	// The answer waits for the writes behind the stanzas before it (an
	// archive): a client that pings after sending knows they are kept.
	// A store that does not answer delays it 5 s at most (then it is
	// answered anyway: a keepalive must not fail for the archive).
	h.HandleIQ(router.Host|router.Self, "get", NSPing, func(iq *router.IQ) (*xml.Element, error) {
		ctx, cancel := context.WithTimeout(iq.Ctx, 5*time.Second)
		defer cancel()
		_ = h.Router.Sync(ctx)
		return nil, nil
	})
	return nil
}
