package xml

import (
	"errors"
	"io"
)

var (
	errNoHeader    = errors.New("xml: ReadElement called before ReadHeader")
	errHeaderTwice = errors.New("xml: ReadHeader called twice; call Reset for a new stream")
)

// Decoder reads an XMPP stream: the header, then one top-level element at
// a time, with namespaces resolved (Namespaces in XML §5; the header's
// declarations stay in scope for every stanza, RFC 6120 §4.8). It is used
// by one goroutine.
type Decoder struct {
	t      Tokenizer
	header bool
	defNS  string
	hdrNS  []binding // declarations on the stream root
	raw    []byte

	// Reused per element (see build.go).
	recs    []rec
	arecs   []arec
	parents []int32
	scratch []byte
	ns      []binding
	frames  []frame
	last    int // index of the text rec the next text merges into, or -1
}

// NewDecoder returns a Decoder reading r; zero Limits fields mean their
// DefaultLimits value.
func NewDecoder(r io.Reader, lim Limits) *Decoder {
	d := &Decoder{}
	d.t.Reset(r)
	d.t.SetLimits(lim)
	return d
}

// Reset starts over on a new reader (stream restart after STARTTLS or
// SASL, RFC 6120 §4.3.3): buffered input, the header and its namespace
// declarations are dropped. Limits are kept.
func (d *Decoder) Reset(r io.Reader) {
	d.t.Reset(r)
	d.header, d.defNS, d.raw = false, "", nil
	clear(d.hdrNS)
	d.hdrNS = d.hdrNS[:0]
	d.trim()
}

// SetLimits changes the limits from the next read on (tighter before
// authentication, looser after).
func (d *Decoder) SetLimits(lim Limits) { d.t.SetLimits(lim) }

// Buffered returns the number of bytes read but not yet consumed. After
// <starttls/> or a SASL success it must be 0: a client may not pipeline
// past a stream restart (RFC 6120 §5.4.3.3, §6.4.6).
func (d *Decoder) Buffered() int { return d.t.Buffered() }

// BufferedAfterSpace drops whitespace buffered after the last element and
// returns how many bytes remain: whitespace after <starttls/> is harmless
// (go-xmpp sends a newline), anything else would be read as if it came
// over TLS (a command injection) and must be refused.
func (d *Decoder) BufferedAfterSpace() int { return d.t.SkipBufferedSpace() }

// Raw returns the exact input bytes of the element last returned by
// ReadElement (or of the header), valid until the next call.
func (d *Decoder) Raw() []byte { return d.raw }

// DefaultNS returns the default namespace the header declared
// ("jabber:client", "jabber:server", ...), or "".
func (d *Decoder) DefaultNS() string { return d.defNS }

// ReadHeader reads an optional XML declaration and the stream root's start
// tag, and returns the root without children, its attributes minus the
// namespace declarations. It returns as soon as the tag's '>' is read.
// The caller checks that the root is NSStream/"stream" (RFC 6120 §4.8.1).
func (d *Decoder) ReadHeader() (*Element, error) {
	d.raw = nil
	if d.header {
		return nil, errHeaderTwice
	}
	tok, err := d.t.Next()
	if err != nil {
		return nil, err
	}
	// Before the root the tokenizer only returns a start tag.
	d.begin()
	d.record(tok, tok.Offset)
	d.recs[0].self = true
	d.raw = d.t.Raw()
	e, err := d.build(tok.Offset, true)
	if err != nil {
		d.t.err = err
		return nil, err
	}
	d.header = true
	return e, nil
}

// ReadElement returns the next complete top-level child of the stream root
// with every Space resolved. Whitespace between top-level elements is
// skipped; other character data there is a "bad-format" *Error (it is
// well-formed XML, but no XMPP element). It returns ErrStreamEnd on the
// root's end tag, io.EOF when the input ends between elements,
// io.ErrUnexpectedEOF inside one, or the reader's error. It never reads
// past the returned element's last '>' to decide it is complete.
func (d *Decoder) ReadElement() (*Element, error) {
	d.raw = nil
	if !d.header {
		return nil, errNoHeader
	}
	tok, err := d.t.Next()
	if err != nil {
		return nil, err
	}
	if tok.Kind == EndElement { // the root's: Depth 0
		return nil, ErrStreamEnd
	}
	base := tok.Offset
	d.begin()
	for {
		d.record(tok, base)
		if tok.Depth == 1 && (tok.Kind == EndElement || tok.SelfClosing) {
			break
		}
		if tok, err = d.t.Next(); err != nil {
			return nil, err
		}
	}
	d.raw = d.t.Raw()
	e, err := d.build(base, false)
	if err != nil {
		d.t.err = err // the stream is unusable after a stream error
		return nil, err
	}
	return e, nil
}

// Release drops the decoder's read buffer if nothing is buffered (an idle
// session); see Tokenizer.Release.
func (d *Decoder) Release() bool { return d.t.Release() }
