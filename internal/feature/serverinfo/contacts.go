package serverinfo

import (
	"sort"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	nsData     = "jabber:x:data"
	formType   = "http://jabber.org/network/serverinfo"
	fieldAddrs = "-addresses"
)

// Contacts publishes contact addresses: per domain, a map from kind
// (abuse, admin, feedback, sales, security, status, support) to URIs
// ([[domain]] contacts).
type Contacts struct {
	ByDomain map[string]map[string][]string
}

// Name implements module.Module.
func (Contacts) Name() string { return "contact_info" }

// Register implements module.Module.
func (c Contacts) Register(h *module.Host) error {
	byDomain := c.ByDomain
	h.AddInfoForm(func(host string) *xml.Element {
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
	return nil
}
