package stanza

import (
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// NSStanzas is the namespace of stanza error conditions (RFC 6120 §8.3.3).
const NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"

// Error types (RFC 6120 §8.3.2).
const (
	Auth     = "auth"
	Cancel   = "cancel"
	Continue = "continue"
	Modify   = "modify"
	Wait     = "wait"
)

// Error is a stanza error: returned by handlers, turned into an error reply.
type Error struct {
	Type      string
	Condition string
	Text      string
	// By is the entity that generated the error (RFC 6120 §8.3.2 'by'), optional.
	By string
	// App is an optional application-specific condition element.
	App *xml.Element
}

func (e *Error) Error() string {
	if e.Text != "" {
		return e.Condition + ": " + e.Text
	}
	return e.Condition
}

// WithText returns a copy of e with a human-readable text.
func (e *Error) WithText(s string) *Error { c := *e; c.Text = s; return &c }

// The defined conditions with their RFC 6120 §8.3.3 default types.
var (
	ErrBadRequest            = &Error{Type: Modify, Condition: "bad-request"}
	ErrConflict              = &Error{Type: Cancel, Condition: "conflict"}
	ErrFeatureNotImplemented = &Error{Type: Cancel, Condition: "feature-not-implemented"}
	ErrForbidden             = &Error{Type: Auth, Condition: "forbidden"}
	ErrGone                  = &Error{Type: Cancel, Condition: "gone"}
	ErrInternalServerError   = &Error{Type: Cancel, Condition: "internal-server-error"}
	ErrItemNotFound          = &Error{Type: Cancel, Condition: "item-not-found"}
	ErrJIDMalformed          = &Error{Type: Modify, Condition: "jid-malformed"}
	ErrNotAcceptable         = &Error{Type: Modify, Condition: "not-acceptable"}
	ErrNotAllowed            = &Error{Type: Cancel, Condition: "not-allowed"}
	ErrNotAuthorized         = &Error{Type: Auth, Condition: "not-authorized"}
	ErrPolicyViolation       = &Error{Type: Modify, Condition: "policy-violation"}
	ErrRecipientUnavailable  = &Error{Type: Wait, Condition: "recipient-unavailable"}
	ErrRedirect              = &Error{Type: Modify, Condition: "redirect"}
	ErrRegistrationRequired  = &Error{Type: Auth, Condition: "registration-required"}
	ErrRemoteServerNotFound  = &Error{Type: Cancel, Condition: "remote-server-not-found"}
	ErrRemoteServerTimeout   = &Error{Type: Wait, Condition: "remote-server-timeout"}
	ErrResourceConstraint    = &Error{Type: Wait, Condition: "resource-constraint"}
	ErrServiceUnavailable    = &Error{Type: Cancel, Condition: "service-unavailable"}
	ErrSubscriptionRequired  = &Error{Type: Auth, Condition: "subscription-required"}
	ErrUndefinedCondition    = &Error{Type: Cancel, Condition: "undefined-condition"}
	ErrUnexpectedRequest     = &Error{Type: Wait, Condition: "unexpected-request"}
)

// Element renders the <error/> child.
func (e *Error) Element() *xml.Element {
	el := xml.New(NSStanzasParent, "error", "type", e.Type)
	if e.By != "" {
		el.SetAttr("by", e.By)
	}
	el.Append(xml.New(NSStanzas, e.Condition))
	if e.Text != "" {
		t := xml.New(NSStanzas, "text")
		t.Attrs = append(t.Attrs, xml.Attr{Space: xml.NSXML, Name: "lang", Value: "en"})
		el.Append(t.SetText(e.Text))
	}
	if e.App != nil {
		el.Append(e.App)
	}
	return el
}

// NSStanzasParent is the namespace the <error/> wrapper itself takes: that of
// the stanza (jabber:client or jabber:server); the serializer rewrites it to
// the stream's default when they match.
const NSStanzasParent = xml.NSClient

// ErrorReply builds the error reply to st (RFC 6120 §8.3.1): same kind and id,
// to and from swapped, type "error", the original payload kept, then the
// error child. It returns nil for a stanza of type error: an error is never
// answered with an error (loops).
func ErrorReply(st *xml.Element, e *Error) *xml.Element {
	if st.Attr("type") == "error" {
		return nil
	}
	r := &xml.Element{Space: st.Space, Name: st.Name}
	for _, a := range st.Attrs {
		switch {
		case a.Space != "":
			r.Attrs = append(r.Attrs, a)
		case a.Name == "to":
			r.Attrs = append(r.Attrs, xml.Attr{Name: "from", Value: a.Value})
		case a.Name == "from":
			r.Attrs = append(r.Attrs, xml.Attr{Name: "to", Value: a.Value})
		case a.Name == "type":
		default:
			r.Attrs = append(r.Attrs, a)
		}
	}
	r.Attrs = append(r.Attrs, xml.Attr{Name: "type", Value: "error"})
	r.Children = append(r.Children, st.Children...)
	er := e.Element()
	er.Space = st.Space
	r.Children = append(r.Children, er)
	return r
}

// ParseError extracts the error of an error stanza, or nil.
func ParseError(st *xml.Element) *Error {
	el := st.Child("", "error")
	if el == nil {
		return nil
	}
	e := &Error{Type: el.Attr("type"), By: el.Attr("by")}
	for _, c := range el.Elements() {
		if c.Space != NSStanzas {
			e.App = c
			continue
		}
		if c.Name == "text" {
			e.Text = c.Text()
		} else {
			e.Condition = c.Name
		}
	}
	return e
}
