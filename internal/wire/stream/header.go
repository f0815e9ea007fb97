package stream

import (
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Header is the information of a stream header (RFC 6120 §4.7).
type Header struct {
	NS      string // content namespace: jabber:client or jabber:server
	To      string
	From    string
	ID      string
	Version string
	Lang    string
	Extra   []xml.Attr // more attributes/declarations, e.g. xmlns:db for dialback
}

// Append writes the opening tag, with the XML declaration.
func (h *Header) Append(b []byte) []byte {
	b = append(b, "<?xml version='1.0'?><stream:stream xmlns='"...)
	b = append(b, h.NS...)
	b = append(b, "' xmlns:stream='http://etherx.jabber.org/streams'"...)
	for _, a := range h.Extra {
		b = attr(b, a.Name, a.Value)
	}
	if h.To != "" {
		b = attr(b, "to", h.To)
	}
	if h.From != "" {
		b = attr(b, "from", h.From)
	}
	if h.ID != "" {
		b = attr(b, "id", h.ID)
	}
	if h.Version != "" {
		b = attr(b, "version", h.Version)
	}
	if h.Lang != "" {
		b = attr(b, "xml:lang", h.Lang)
	}
	return append(b, '>')
}

// Close is the closing tag of a stream.
const Close = "</stream:stream>"

func attr(b []byte, name, value string) []byte {
	b = append(b, ' ')
	b = append(b, name...)
	b = append(b, "='"...)
	b = escapeAttr(b, value)
	return append(b, '\'')
}

func escapeAttr(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			b = append(b, "&amp;"...)
		case '<':
			b = append(b, "&lt;"...)
		case '>':
			b = append(b, "&gt;"...)
		case '\'':
			b = append(b, "&apos;"...)
		case '"':
			b = append(b, "&quot;"...)
		// Whitespace as character references: a parser turns it into
		// spaces in an attribute value (XML 1.0 §3.3.3).
		case '\t':
			b = append(b, "&#x9;"...)
		case '\n':
			b = append(b, "&#xA;"...)
		case '\r':
			b = append(b, "&#xD;"...)
		default:
			b = append(b, c)
		}
	}
	return b
}

// ParseHeader reads the header attributes of an element returned by
// xml.Decoder.ReadHeader and checks what RFC 6120 §4.9.3 makes a stream
// error: wrong root or namespace, missing or unsupported version.
func ParseHeader(root *xml.Element, defaultNS string, wantNS string) (Header, *Error) {
	h := Header{NS: defaultNS, To: root.Attr("to"), From: root.Attr("from"), ID: root.Attr("id"), Version: root.Attr("version")}
	for _, a := range root.Attrs {
		if a.Space == xml.NSXML && a.Name == "lang" {
			h.Lang = a.Value
		}
	}
	if root.Name != "stream" || root.Space != xml.NSStream {
		return h, &Error{Condition: "invalid-namespace", Text: "the root must be <stream:stream> in " + xml.NSStream}
	}
	if defaultNS != wantNS {
		return h, &Error{Condition: "invalid-namespace", Text: "the content namespace must be " + wantNS}
	}
	if h.Version == "" {
		// RFC 6120 §4.7.5: no version means 0.9; we speak only 1.x.
		return h, &Error{Condition: "unsupported-version", Text: "version='1.0' is required"}
	}
	major, ok := majorVersion(h.Version)
	if !ok {
		return h, &Error{Condition: "unsupported-version", Text: "malformed version"}
	}
	if major != 1 {
		return h, &Error{Condition: "unsupported-version", Text: "this server speaks version 1.0"}
	}
	return h, nil
}

func majorVersion(v string) (int, bool) {
	n, i := 0, 0
	for ; i < len(v) && v[i] >= '0' && v[i] <= '9'; i++ {
		n = n*10 + int(v[i]-'0')
		if n > 1000 {
			return 0, false
		}
	}
	if i == 0 || i >= len(v) || v[i] != '.' || i+1 >= len(v) {
		return 0, false
	}
	for j := i + 1; j < len(v); j++ {
		if v[j] < '0' || v[j] > '9' {
			return 0, false
		}
	}
	return n, true
}
