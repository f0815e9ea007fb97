package serverinfo

import (
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NSVersion is jabber:iq:version.
const NSVersion = "jabber:iq:version"

// Version answers software version queries to the server. An empty OS
// hides the operating system.
type Version struct{ Software, Version, OS string }

// Name implements module.Module.
func (Version) Name() string { return "version" }

// Register implements module.Module.
func (v Version) Register(h *module.Host) error {
	h.HandleIQ(router.Host, "get", NSVersion, func(*router.IQ) (*xml.Element, error) {
		q := xml.New(NSVersion, "query").Append(
			xml.New(NSVersion, "name").SetText(v.Software),
			xml.New(NSVersion, "version").SetText(v.Version))
		if v.OS != "" {
			q.Append(xml.New(NSVersion, "os").SetText(v.OS))
		}
		return q, nil
	})
	return nil
}
