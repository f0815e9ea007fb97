package xml

import (
	"errors"
	"strconv"
)

// Stream error conditions (RFC 6120 §4.9.3) the decoder reports.
const (
	// CondNotWellFormed: XML 1.0 well-formedness, invalid UTF-8 or a
	// character outside the Char production, mismatched tags, duplicate
	// attributes (after namespace resolution).
	CondNotWellFormed = "not-well-formed"
	// CondRestrictedXML: DOCTYPE, comments, processing instructions,
	// entity declarations, references to undefined entities (§11.1).
	CondRestrictedXML = "restricted-xml"
	// CondBadNamespacePrefix: an unbound prefix, or a namespace
	// declaration the Namespaces in XML spec forbids (xmlns:xmlns,
	// xmlns:xml bound elsewhere, xmlns:p="", the xml or xmlns namespace
	// bound to another prefix or as the default).
	CondBadNamespacePrefix = "bad-namespace-prefix"
	// CondPolicyViolation: a Limits value was exceeded.
	CondPolicyViolation = "policy-violation"
	// CondUnsupportedEncoding: an XML declaration named an encoding other
	// than UTF-8 (§11.6).
	CondUnsupportedEncoding = "unsupported-encoding"
	// CondBadFormat: well-formed XML an XMPP stream cannot carry: character
	// data other than whitespace directly inside the stream root. XML
	// allows it (so it is not not-well-formed), RFC 6120 §4.9.3.1 defines
	// bad-format for "XML that cannot be processed".
	CondBadFormat = "bad-format"
)

// Error is a violation found while decoding. The stream layer sends
// <Condition xmlns='urn:ietf:params:xml:ns:xmpp-streams'/> and closes.
type Error struct {
	Condition string // RFC 6120 §4.9.3 condition name, one of the Cond* constants
	Msg       string // what was wrong, for logs
	Offset    int64  // byte offset in the stream (since NewDecoder/Reset) where it was found
}

func (e *Error) Error() string {
	return "xml: " + e.Condition + " at byte " + strconv.FormatInt(e.Offset, 10) + ": " + e.Msg
}

// ErrStreamEnd is returned by ReadElement (and Tokenizer.Next after the
// root's end token) once the peer's </stream:stream> has been read.
var ErrStreamEnd = errors.New("xml: stream closed by peer (</stream:stream>)")
