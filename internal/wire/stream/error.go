package stream

import (
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Error is a stream error (RFC 6120 §4.9): fatal for the stream. Condition is
// one of §4.9.3's names.
type Error struct {
	Condition string
	Text      string
	App       *xml.Element // application-specific condition (RFC 6120 §4.9.4), optional
}

func (e *Error) Error() string {
	if e.Text != "" {
		return "stream error " + e.Condition + ": " + e.Text
	}
	return "stream error " + e.Condition
}

// Errorf-like constructor.
func NewError(condition, text string) *Error { return &Error{Condition: condition, Text: text} }

// Element renders <stream:error>.
func (e *Error) Element() *xml.Element {
	el := xml.New(xml.NSStream, "error")
	el.Append(xml.New(NSStreamErrors, e.Condition))
	if e.Text != "" {
		t := xml.New(NSStreamErrors, "text")
		t.Attrs = append(t.Attrs, xml.Attr{Space: xml.NSXML, Name: "lang", Value: "en"})
		el.Append(t.SetText(e.Text))
	}
	if e.App != nil {
		el.Append(e.App)
	}
	return el
}

// FromXML maps a decoder error to the stream error to send, if any.
func FromXML(err error) *Error {
	if xe, ok := err.(*xml.Error); ok {
		return &Error{Condition: xe.Condition, Text: xe.Msg}
	}
	return nil
}
