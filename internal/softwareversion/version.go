// Package softwareversion answers Software Version queries (XEP-0092)
// addressed to the server.
package softwareversion

import (
	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/xml"
)

// NS is the jabber:iq:version namespace.
const NS = "jabber:iq:version"

// Register installs the handler. An empty os hides the operating system
// (XEP-0092 §4: the 'os' element is optional for privacy).
func Register(r *router.Router, name, version, os string) {
	r.HandleIQ(router.Host, "get", NS, func(*router.IQ) (*xml.Element, error) {
		q := xml.New(NS, "query").Append(
			xml.New(NS, "name").SetText(name),
			xml.New(NS, "version").SetText(version))
		if os != "" {
			q.Append(xml.New(NS, "os").SetText(os))
		}
		return q, nil
	})
}
