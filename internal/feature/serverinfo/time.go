package serverinfo

import (
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NSTime is urn:xmpp:time.
const NSTime = "urn:xmpp:time"

// Time answers entity time queries to the server, from the host's clock.
type Time struct{}

// Name implements module.Module.
func (Time) Name() string { return "time" }

// Register implements module.Module.
func (Time) Register(h *module.Host) error {
	now := h.Now
	h.HandleIQ(router.Host, "get", NSTime, func(*router.IQ) (*xml.Element, error) {
		t := now().UTC()
		return xml.New(NSTime, "time").Append(
			xml.New(NSTime, "tzo").SetText("+00:00"),
			xml.New(NSTime, "utc").SetText(t.Format("2006-01-02T15:04:05.000Z"))), nil
	})
	return nil
}
