// Package entitytime answers Entity Time queries (XEP-0202) addressed to
// the server, in UTC with the XEP-0082 profile.
package entitytime

import (
	"time"

	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/xml"
)

// NS is the urn:xmpp:time namespace.
const NS = "urn:xmpp:time"

// Register installs the handler; now is the clock (time.Now in production).
func Register(r *router.Router, now func() time.Time) {
	r.HandleIQ(router.Host, "get", NS, func(*router.IQ) (*xml.Element, error) {
		t := now().UTC()
		return xml.New(NS, "time").Append(
			xml.New(NS, "tzo").SetText("+00:00"),
			xml.New(NS, "utc").SetText(t.Format("2006-01-02T15:04:05.000Z"))), nil
	})
}
