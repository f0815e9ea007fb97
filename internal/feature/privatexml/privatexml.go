package privatexml

import (
	"errors"
	"fmt"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NS is jabber:iq:private.
const NS = "jabber:iq:private"

// Limits bound one account's storage; zero fields mean no limit. They are
// the module's configuration section, [privatexml].
type Limits struct {
	ElementBytes int `toml:"element_bytes"` // one namespace's elements, serialized
	Namespaces   int `toml:"namespaces"`    // namespaces per account
	TotalBytes   int `toml:"total_bytes"`   // all namespaces of an account
}

// DefaultLimits leave room for thousands of bookmarks while keeping an
// account's private storage far below its other data.
var DefaultLimits = Limits{ElementBytes: 64 << 10, Namespaces: 100, TotalBytes: 1 << 20}

// Module is private XML storage.
type Module struct{ Limits Limits }

// Name implements module.Module.
func (*Module) Name() string { return "privatexml" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.Limits }

// Register implements module.Module.
func (m *Module) Register(host *module.Host) error {
	host.AddFeature(router.Host, NS) // see doc.go: where clients look
	h := handler{store: host.Store.PrivateXML(), lim: m.Limits}
	host.HandleIQ(router.Self, "get", NS, h.get)
	host.HandleIQ(router.Self, "set", NS, h.set)
	// §2.3: another account's storage is forbidden, whoever asks.
	forbidden := func(*router.IQ) (*xml.Element, error) {
		return nil, stanza.ErrForbidden.WithText("private XML storage is readable and writable by its owner only")
	}
	host.HandleIQ(router.Account, "get", NS, forbidden)
	host.HandleIQ(router.Account, "set", NS, forbidden)
	return nil
}

type handler struct {
	store storage.PrivateXML
	lim   Limits
}

func (h handler) get(iq *router.IQ) (*xml.Element, error) {
	kids, ns, err := children(iq.Payload(), false)
	if err != nil {
		return nil, err
	}
	q := xml.New(NS, "query")
	b, err := h.store.GetPrivate(iq.Ctx, iq.From.Bare().String(), ns)
	if errors.Is(err, storage.ErrNotFound) {
		return q.Append(xml.New(ns, kids[0].Name)), nil // nothing stored: see doc.go
	}
	if err != nil {
		return nil, err
	}
	stored, err := decode(b)
	if err != nil {
		return nil, fmt.Errorf("private XML %s of %s: %w", ns, iq.From.Bare(), err)
	}
	for _, el := range stored {
		q.Append(el)
	}
	return q, nil
}

func (h handler) set(iq *router.IQ) (*xml.Element, error) {
	kids, ns, err := children(iq.Payload(), true)
	if err != nil {
		return nil, err
	}
	owner := iq.From.Bare().String()
	if len(kids) == 1 && len(kids[0].Attrs) == 0 && len(kids[0].Children) == 0 {
		return nil, h.store.RemovePrivate(iq.Ctx, owner, ns)
	}
	var b []byte
	for _, k := range kids {
		b = xml.Append(b, k, "")
	}
	if h.lim.ElementBytes > 0 && len(b) > h.lim.ElementBytes {
		return nil, stanza.ErrNotAcceptable.WithText(fmt.Sprintf(
			"private XML is limited to %d bytes per namespace; this is %d", h.lim.ElementBytes, len(b)))
	}
	if _, err := decode(b); err != nil {
		// Deeper than a standalone parse allows: it could never be served.
		return nil, stanza.ErrNotAcceptable.WithText("this XML cannot be stored: " + err.Error())
	}
	err = h.store.SetPrivate(iq.Ctx, owner, ns, b, h.lim.Namespaces, h.lim.TotalBytes)
	if errors.Is(err, storage.ErrQuotaExceeded) {
		return nil, stanza.ErrPolicyViolation.WithText(fmt.Sprintf(
			"private XML storage is limited to %d namespaces and %d bytes per account: clear a namespace first",
			h.lim.Namespaces, h.lim.TotalBytes))
	}
	return nil, err
}

// children checks the query (§2.3) and returns its child elements and
// their namespace: one element for a get, one or more of one namespace
// for a set.
func children(q *xml.Element, set bool) ([]*xml.Element, string, error) {
	if q.Name != "query" {
		return nil, "", stanza.ErrBadRequest.WithText("expected <query xmlns='jabber:iq:private'/>")
	}
	kids := q.Elements()
	if len(kids) == 0 {
		return nil, "", stanza.ErrNotAcceptable.WithText("the query needs a child element in a namespace of its own")
	}
	ns := kids[0].Space
	switch ns {
	case "", xml.NSClient, xml.NSServer, NS:
		return nil, "", stanza.ErrNotAcceptable.WithText(fmt.Sprintf(
			"<%s/> needs a namespace of its own (not %q)", kids[0].Name, ns))
	}
	if !set && len(kids) > 1 {
		return nil, "", stanza.ErrBadRequest.WithText("a get asks for one element")
	}
	for _, k := range kids[1:] {
		if k.Space != ns {
			return nil, "", stanza.ErrBadRequest.WithText("the elements of one set must share a namespace")
		}
	}
	return kids, ns, nil
}

// decode parses stored elements back.
func decode(b []byte) ([]*xml.Element, error) {
	wrapped := make([]byte, 0, len(b)+64)
	wrapped = append(wrapped, "<query xmlns='"+NS+"'>"...)
	wrapped = append(append(wrapped, b...), "</query>"...)
	q, err := xml.Parse(wrapped)
	if err != nil {
		return nil, err
	}
	return q.Elements(), nil
}
