// Package contactinfo publishes Contact Addresses for XMPP Services
// (XEP-0157) as an extended disco#info form (XEP-0128) on each domain.
package contactinfo

import (
	"sort"

	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/xml"
)

const (
	nsData     = "jabber:x:data"
	formType   = "http://jabber.org/network/serverinfo"
	fieldAddrs = "-addresses"
)

// Register publishes addresses: per domain, a map from kind (abuse, admin,
// feedback, sales, security, status, support) to URIs.
func Register(r *router.Router, byDomain map[string]map[string][]string) {
	r.AddInfoForm(func(host string) *xml.Element {
		kinds := byDomain[host]
		if len(kinds) == 0 {
			return nil
		}
		x := xml.New(nsData, "x", "type", "result")
		x.Append(xml.New(nsData, "field", "var", "FORM_TYPE", "type", "hidden").Append(xml.New(nsData, "value").SetText(formType)))
		names := make([]string, 0, len(kinds))
		for k := range kinds {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			f := xml.New(nsData, "field", "var", k+fieldAddrs)
			for _, v := range kinds[k] {
				f.Append(xml.New(nsData, "value").SetText(v))
			}
			x.Append(f)
		}
		return x
	})
}
