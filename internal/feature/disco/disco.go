// Package disco implements Service Discovery (XEP-0030) for the server and
// for accounts. Features and identities are not listed here: they are
// collected from what the other features registered with the router
// (router.HandleIQ, AddFeature, AddIdentity), so disco can never disagree
// with what is served. Extended info forms (XEP-0128) come the same way
// (contact addresses, XEP-0157). disco#items lists the services on domains
// of their own (XEP-0030 §4).
package disco

import (
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces of XEP-0030.
const (
	NSInfo  = "http://jabber.org/protocol/disco#info"
	NSItems = "http://jabber.org/protocol/disco#items"
)

// Module is service discovery. disco#items of a domain lists the services
// hosted beside it (router.AddService: conference., upload. ...).
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "disco" }

// Register implements module.Module.
func (Module) Register(h *module.Host) error {
	h.AddIdentity(router.Host, router.Identity{Category: "server", Type: "im", Name: "tern"})
	h.AddIdentity(router.Account, router.Identity{Category: "account", Type: "registered"})
	h.HandleIQ(router.Host, "get", NSInfo, func(iq *router.IQ) (*xml.Element, error) {
		return info(iq, router.Host)
	})
	h.HandleIQ(router.Self|router.Account, "get", NSInfo, func(iq *router.IQ) (*xml.Element, error) {
		return info(iq, router.Account)
	})
	h.HandleIQ(router.Host, "get", NSItems, func(iq *router.IQ) (*xml.Element, error) {
		q := xml.New(NSItems, "query")
		if node := iq.Payload().Attr("node"); node != "" {
			return nil, stanza.ErrItemNotFound
		}
		for _, s := range iq.Router.Services(iq.To.Domain()) {
			e := xml.New(NSItems, "item", "jid", s.Domain)
			e.SetAttr("name", s.Name)
			q.Append(e)
		}
		return q, nil
	})
	h.HandleIQ(router.Self|router.Account, "get", NSItems, func(iq *router.IQ) (*xml.Element, error) {
		if node := iq.Payload().Attr("node"); node != "" {
			return nil, stanza.ErrItemNotFound
		}
		return xml.New(NSItems, "query"), nil
	})
	return nil
}

func info(iq *router.IQ, t router.Target) (*xml.Element, error) {
	if node := iq.Payload().Attr("node"); node != "" {
		return nil, stanza.ErrItemNotFound
	}
	q := xml.New(NSInfo, "query")
	for _, id := range iq.Router.Identities(t) {
		e := xml.New(NSInfo, "identity", "category", id.Category, "type", id.Type)
		e.SetAttr("name", id.Name)
		q.Append(e)
	}
	for _, f := range iq.Router.FeaturesOn(t, iq.To.Domain()) {
		q.Append(xml.New(NSInfo, "feature", "var", f))
	}
	if t == router.Host {
		for _, form := range iq.Router.InfoForms(iq.To.Domain()) {
			q.Append(form)
		}
	}
	return q, nil
}
