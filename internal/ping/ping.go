// Package ping answers XMPP Ping (XEP-0199 §4.2 client-to-server, §4.3
// to an account) with an empty result. The server's own keepalive pings
// are sent by c2s.
package ping

import (
	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/xml"
)

// NS is the ping namespace.
const NS = "urn:xmpp:ping"

// Register installs the handler.
func Register(r *router.Router) {
	r.HandleIQ(router.Host|router.Self, "get", NS, func(*router.IQ) (*xml.Element, error) { return nil, nil })
}
