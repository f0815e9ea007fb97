package router

import (
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
	"slices"
)

// Stanza is a parsed stanza with its addresses prepared once.
type Stanza struct {
	El   *xml.Element
	Kind string // message | presence | iq
	Type string
	ID   string
	From jid.JID
	To   jid.JID
	// Rerouted: delivered once already and routed again (a client never
	// acknowledged it, XEP-0198): copies made at the first delivery
	// (carbons) must not be made again.
	Rerouted bool

	vals values // features' slots (values.go)
}

// NewStanza parses the addresses of el. A malformed address is a
// jid-malformed stanza error (RFC 6120 §8.3.3.8).
func NewStanza(el *xml.Element) (*Stanza, *stanza.Error) {
	st := &Stanza{El: el, Kind: el.Name, Type: el.Attr("type"), ID: el.Attr("id")}
	var err error
	if v := el.Attr("to"); v != "" {
		if st.To, err = jid.Parse(v); err != nil {
			return st, stanza.ErrJIDMalformed.WithText("bad 'to' address")
		}
	}
	if v := el.Attr("from"); v != "" {
		if st.From, err = jid.Parse(v); err != nil {
			return st, stanza.ErrJIDMalformed.WithText("bad 'from' address")
		}
	}
	return st, nil
}

// Readdress returns a shallow copy of st whose element carries the given
// to/from (the children are shared: they are never mutated after routing).
func (st *Stanza) Readdress(to, from jid.JID) *Stanza {
	el := &xml.Element{Space: st.El.Space, Name: st.El.Name, Children: st.El.Children}
	el.Attrs = make([]xml.Attr, 0, len(st.El.Attrs)+2)
	for _, a := range st.El.Attrs {
		if a.Space == "" && (a.Name == "to" || a.Name == "from") {
			continue
		}
		el.Attrs = append(el.Attrs, a)
	}
	if !to.IsZero() {
		el.Attrs = append(el.Attrs, xml.Attr{Name: "to", Value: to.String()})
	}
	if !from.IsZero() {
		el.Attrs = append(el.Attrs, xml.Attr{Name: "from", Value: from.String()})
	}
	c := *st
	c.El, c.To, c.From = el, to, from
	c.vals = slices.Clone(st.vals) // each copy its own slots (sets on one do not show on the other)
	return &c
}

// IsAvailability reports whether a presence is available/unavailable
// (as opposed to subscription management, probe or error).
func (st *Stanza) IsAvailability() bool {
	return st.Kind == stanza.Presence && (st.Type == "" || st.Type == "unavailable")
}

// IsSubscription reports whether a presence manages a subscription.
func (st *Stanza) IsSubscription() bool {
	if st.Kind != stanza.Presence {
		return false
	}
	switch st.Type {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		return true
	}
	return false
}

// Payload returns the first child element (the iq payload), or nil.
func (st *Stanza) Payload() *xml.Element { return st.El.FirstElement() }
