package stanza

import "github.com/tern-xmpp/tern/internal/wire/xml"

// Kinds of stanza: the top-level element names of RFC 6120 §8.
const (
	Message  = "message"
	Presence = "presence"
	IQ       = "iq"
)

// IsStanza reports whether e is a message, presence or iq in the content
// namespace of its stream (jabber:client or jabber:server).
func IsStanza(e *xml.Element) bool {
	if e.Space != xml.NSClient && e.Space != xml.NSServer {
		return false
	}
	switch e.Name {
	case Message, Presence, IQ:
		return true
	}
	return false
}

// ValidType reports whether typ is allowed for the kind (RFC 6120 §8.2.2,
// RFC 6121 §4.7.1 and §5.2.2). An absent type is valid for message and
// presence but not for iq.
func ValidType(kind, typ string) bool {
	switch kind {
	case Message:
		switch typ {
		case "", "chat", "error", "groupchat", "headline", "normal":
			return true
		}
	case Presence:
		switch typ {
		case "", "error", "probe", "subscribe", "subscribed", "unavailable", "unsubscribe", "unsubscribed":
			return true
		}
	case IQ:
		switch typ {
		case "get", "set", "result", "error":
			return true
		}
	}
	return false
}

// Result builds the result reply to an iq get/set, with an optional payload.
func Result(iq *xml.Element, payload *xml.Element) *xml.Element {
	r := &xml.Element{Space: iq.Space, Name: IQ}
	if v := iq.Attr("from"); v != "" {
		r.Attrs = append(r.Attrs, xml.Attr{Name: "to", Value: v})
	}
	if v := iq.Attr("to"); v != "" {
		r.Attrs = append(r.Attrs, xml.Attr{Name: "from", Value: v})
	}
	r.Attrs = append(r.Attrs, xml.Attr{Name: "id", Value: iq.Attr("id")}, xml.Attr{Name: "type", Value: "result"})
	if payload != nil {
		r.Children = append(r.Children, payload)
	}
	return r
}
