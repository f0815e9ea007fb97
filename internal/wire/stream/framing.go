package stream

import "github.com/tern-xmpp/tern/internal/wire/xml"

// Framing is how a transport carries a stream's output: our header, each
// top-level element, the close. Each method appends to dst and returns it.
//
//   - RFC 6120 over TCP writes the XML as it is: TCP.
//   - RFC 7395 WebSocket makes each element one message (a frame header
//     before it) and sends <open/> and <close/> instead of the stream header
//     and </stream:stream>.
//   - XEP-0206 BOSH writes elements as they are; its Conn wraps what one
//     flush brings in the <body/> of the response to the request it holds,
//     waiting for the client's next request if none is there.
type Framing interface {
	AppendHeader(dst []byte, h *Header) []byte
	AppendElement(dst []byte, el *xml.Element, parent string) []byte
	AppendClose(dst []byte) []byte
}

// TCP is the framing of RFC 6120 streams over TCP (and TLS).
type TCP struct{}

func (TCP) AppendHeader(dst []byte, h *Header) []byte { return h.Append(dst) }

// AppendElement writes el relative to parent, the namespace it is written
// in (a stanza routed from a jabber:server stream keeps its own).
func (TCP) AppendElement(dst []byte, el *xml.Element, parent string) []byte {
	return xml.Append(dst, el, parent)
}

func (TCP) AppendClose(dst []byte) []byte { return append(dst, Close...) }
