package xml

import (
	"bytes"
	"errors"
	"io"
)

// Buffer sizing: start small (an idle session keeps at most maxIdleBuf),
// grow only when one top-level element does not fit, up to the limit.
const (
	minBuf     = 1 << 10
	maxIdleBuf = 4 << 10
)

// Kind is the type of a Token.
type Kind uint8

const (
	StartElement Kind = iota + 1 // <name attrs...> or <name/>
	EndElement                   // </name>, also reported for the stream root (Depth 0)
	CharData                     // text or a CDATA section inside a top-level element
)

// Token is one piece of the stream. Its byte slices alias the tokenizer's
// buffer and are valid until the next call to Next.
type Token struct {
	Kind        Kind
	Name        []byte    // qualified name (prefix:local) of a start or end tag
	Attrs       []RawAttr // attributes of a start tag in document order, xmlns declarations included
	Data        []byte    // CharData: raw text, still escaped unless CDATA
	Escaped     bool      // CharData: Data contains references or \r; use Unescape
	CDATA       bool      // CharData: Data is the content of <![CDATA[...]]> (no references)
	SelfClosing bool      // start tag written <name/>: no EndElement follows
	Depth       int       // 0 for the stream root, 1 for a stanza, 2 for its children...
	Offset      int64     // stream offset of the token's first byte
}

// RawAttr is one attribute as written.
type RawAttr struct {
	Name    []byte // qualified name
	Value   []byte // raw value between the quotes
	Escaped bool   // Value contains references or whitespace that normalization rewrites; use Unescape
	nameRel int32  // offsets from the token start, for the Decoder
	valRel  int32
}

// nameSpan locates an open element's name; off < 0 means the root (t.root).
type nameSpan struct {
	off int64
	n   int32
}

// Tokenizer splits an XMPP stream into tokens and enforces the restricted
// XML rules of RFC 6120 §11 plus the Limits, without allocating in steady
// state. It checks everything that does not need namespace resolution:
// syntax, characters, references, tag matching, duplicate attribute names,
// depth, attribute count and sizes. The Decoder adds namespaces on top.
//
// Whitespace between top-level elements is skipped, never returned.
type Tokenizer struct {
	rd    io.Reader
	buf   []byte
	start int   // first byte that must be kept (the open top-level element or header)
	pos   int   // next byte to lex
	end   int   // end of the data read
	base  int64 // stream offset of buf[0]
	rerr  error // read error, reported once the buffered data is used up
	err   error // sticky error returned by Next
	lim   Limits

	stack  []nameSpan // open elements; stack[0] is the root
	root   []byte     // root's qualified name
	attrs  []RawAttr
	scan   int   // bytes after pos already searched for the token's end
	quote  byte  // quote open at pos+scan while searching a start tag's end
	closed bool  // the root's end tag was returned
	tok    Token // returned by Next
	bom    bool  // the stream started with a byte order mark
}

// NewTokenizer returns a Tokenizer reading r; zero Limits fields mean
// their DefaultLimits value.
func NewTokenizer(r io.Reader, lim Limits) *Tokenizer {
	t := &Tokenizer{}
	t.Reset(r)
	t.lim = lim.withDefaults()
	return t
}

// Reset starts a new stream on r, keeping only a small buffer.
func (t *Tokenizer) Reset(r io.Reader) {
	buf := t.buf
	if cap(buf) > maxIdleBuf || buf == nil {
		buf = make([]byte, minBuf)
	}
	*t = Tokenizer{rd: r, buf: buf[:cap(buf)], lim: t.lim, stack: t.stack[:0], root: t.root[:0], attrs: t.attrs[:0]}
}

// SetLimits changes the limits from the next read on.
func (t *Tokenizer) SetLimits(lim Limits) { t.lim = lim.withDefaults() }

// Buffered returns the number of bytes read from the reader but not yet
// consumed.
func (t *Tokenizer) Buffered() int { return t.end - t.pos }

// SkipBufferedSpace consumes whitespace buffered between top-level
// elements (a newline after <starttls/>, a keepalive) and returns the
// number of bytes still buffered after it.
func (t *Tokenizer) SkipBufferedSpace() int {
	if len(t.stack) <= 1 {
		for t.pos < t.end && isSpace(t.buf[t.pos]) {
			t.pos++
		}
	}
	return t.end - t.pos
}

// Raw returns the input bytes from the start of the current top-level
// element (or of the header) up to the end of the last token. Valid until
// the next call to Next.
func (t *Tokenizer) Raw() []byte { return t.buf[t.start:t.pos] }

func (t *Tokenizer) off(i int) int64 { return t.base + int64(i) }

func (t *Tokenizer) errAt(cond string, i int, msg string) error {
	return &Error{Condition: cond, Msg: msg, Offset: t.off(i)}
}

// Next returns the next token, valid until the next call. At the end of the stream it returns the
// root's EndElement once, then ErrStreamEnd; when the input ends it
// returns io.EOF between top-level elements, io.ErrUnexpectedEOF inside
// one, or the reader's error. Errors are sticky.
func (t *Tokenizer) Next() (*Token, error) {
	if t.err != nil {
		return nil, t.err
	}
	if err := t.next(); err != nil {
		t.err = err
		return nil, err
	}
	return &t.tok, nil
}

func (t *Tokenizer) next() error {
	if t.closed {
		return ErrStreamEnd
	}
	for {
		t.scan, t.quote = 0, 0
		if len(t.stack) <= 1 {
			if err := t.skipOutside(); err != nil {
				return err
			}
		} else if t.pos == t.end {
			if err := t.fill(); err != nil {
				return err
			}
		}
		if t.buf[t.pos] != '<' {
			return t.text()
		}
		if err := t.need(2); err != nil {
			return err
		}
		switch t.buf[t.pos+1] {
		case '/':
			return t.endTag()
		case '?':
			if err := t.pi(); err != nil {
				return err
			}
			continue // the XML declaration: go on to the root
		case '!':
			return t.bang()
		}
		return t.startTag()
	}
}

// skipOutside handles the bytes outside top-level elements: an optional
// BOM and XML declaration at the very start, then whitespace, which is
// consumed without waiting for more. Nothing here is kept in the buffer.
func (t *Tokenizer) skipOutside() error {
	t.start = t.pos
	if t.pos == t.end {
		t.base += int64(t.pos)
		t.start, t.pos, t.end = 0, 0, 0
	}
	if cap(t.buf) > maxIdleBuf && t.end-t.pos <= minBuf {
		// After a large stanza: give the big buffer back while idle.
		nb := make([]byte, minBuf)
		n := copy(nb, t.buf[t.pos:t.end])
		t.base += int64(t.pos)
		t.buf, t.start, t.pos, t.end = nb, 0, 0, n
	}
	for {
		for t.pos < t.end && isSpace(t.buf[t.pos]) {
			t.pos++
		}
		t.start = t.pos
		if t.pos < t.end {
			break
		}
		if err := t.fill(); err != nil {
			return err
		}
	}
	c := t.buf[t.pos]
	if len(t.stack) == 0 && t.off(t.pos) == 0 && c == 0xEF {
		// UTF-8 byte order mark, allowed before the XML declaration.
		if err := t.need(3); err != nil {
			return err
		}
		if t.buf[t.pos+1] != 0xBB || t.buf[t.pos+2] != 0xBF {
			return t.errAt(CondNotWellFormed, t.pos, "text before the stream header")
		}
		t.pos += 3
		t.bom = true
		return t.skipOutside()
	}
	if len(t.stack) == 0 && t.off(t.pos) == 0 && (c == 0xFE || c == 0xFF || c == 0 || c == '<') {
		if err := t.utf16(); err != nil {
			return err
		}
	}
	if c == '<' {
		return nil
	}
	if len(t.stack) == 0 {
		return t.errAt(CondNotWellFormed, t.pos, "text before the stream header: the stream must start with <stream:stream>")
	}
	return t.errAt(CondBadFormat, t.pos, "character data directly inside the stream root: only whitespace may separate stanzas")
}

// utf16 refuses a stream in UTF-16 or UTF-32, with or without a byte order
// mark (XML 1.0 Appendix F), as unsupported-encoding (RFC 6120 §11.6),
// rather than as text before the header.
func (t *Tokenizer) utf16() error {
	if err := t.need(2); err != nil {
		return err
	}
	b0, b1 := t.buf[t.pos], t.buf[t.pos+1]
	var enc string
	switch {
	case b0 == 0xFE && b1 == 0xFF, b0 == 0 && b1 == '<':
		enc = "UTF-16 big-endian"
	case b0 == 0xFF && b1 == 0xFE, b0 == '<' && b1 == 0:
		enc = "UTF-16 little-endian"
	case b0 == 0 && b1 == 0:
		enc = "UTF-32"
	default:
		return nil
	}
	return t.errAt(CondUnsupportedEncoding, t.pos, "the stream is in "+enc+": XMPP streams are UTF-8 only (RFC 6120 §11.6)")
}

// need makes n bytes from pos available.
func (t *Tokenizer) need(n int) error {
	for t.end-t.pos < n {
		if err := t.fill(); err != nil {
			return err
		}
	}
	return nil
}

// limit is the size bound of the region being kept.
func (t *Tokenizer) limit() int {
	if len(t.stack) == 0 {
		return t.lim.MaxHeaderBytes
	}
	return t.lim.MaxStanzaBytes
}

// limitText describes limit() for the error.
func (t *Tokenizer) limitText() string {
	if len(t.stack) == 0 {
		return t.lim.headerText()
	}
	return t.lim.stanzaText()
}

// fill reads more input after t.end, compacting or growing the buffer.
// It is called only when the current token is incomplete, so everything
// from t.start belongs to the element being read.
func (t *Tokenizer) fill() error {
	if t.rerr != nil {
		return t.readErr()
	}
	lim := t.limit()
	if t.end-t.start >= lim {
		return t.errAt(CondPolicyViolation, t.end, t.limitText())
	}
	if t.end == len(t.buf) {
		if t.start > 0 {
			n := copy(t.buf, t.buf[t.start:t.end])
			t.base += int64(t.start)
			t.pos -= t.start
			t.end = n
			t.start = 0
		}
		if t.end == len(t.buf) {
			n := 2 * len(t.buf)
			if n < minBuf {
				n = minBuf
			}
			if n > lim && lim > len(t.buf) {
				n = lim
			}
			nb := make([]byte, n)
			copy(nb, t.buf[:t.end])
			t.buf = nb
		}
	}
	for tries := 0; tries < 100; tries++ {
		n, err := t.rd.Read(t.buf[t.end:])
		t.end += n
		if err != nil {
			t.rerr = err
			if n > 0 {
				return nil
			}
			return t.readErr()
		}
		if n > 0 {
			return nil
		}
	}
	return io.ErrNoProgress
}

func (t *Tokenizer) readErr() error {
	if errors.Is(t.rerr, io.EOF) && (t.pos < t.end || len(t.stack) > 1) {
		return io.ErrUnexpectedEOF
	}
	return t.rerr
}

// text reads character data up to the next '<' (only inside a stanza).
func (t *Tokenizer) text() error {
	var lt int
	for {
		if i := bytes.IndexByte(t.buf[t.pos+t.scan:t.end], '<'); i >= 0 {
			lt = t.pos + t.scan + i
			break
		}
		t.scan = t.end - t.pos
		if err := t.fill(); err != nil {
			return err
		}
	}
	p := t.pos
	esc, err := t.checkText(p, lt)
	if err != nil {
		return err
	}
	t.pos = lt
	t.tok = Token{Kind: CharData, Data: t.buf[p:lt], Escaped: esc, Depth: len(t.stack), Offset: t.off(p)}
	return nil
}

// findGT returns the index of the '>' ending the tag at pos. In start tags
// quoted values may contain '>'. A '<' before the end is always an error,
// found without reading further.
func (t *Tokenizer) findGT(quotes bool) (int, error) {
	for {
		from := t.pos + t.scan
		b := t.buf[from:t.end]
		for i, c := range b {
			switch {
			case c == '<':
				return 0, t.errAt(CondNotWellFormed, from+i, "'<' inside a tag or attribute value")
			case t.quote != 0:
				if c == t.quote {
					t.quote = 0
				}
			case c == '>':
				return from + i, nil
			case quotes && (c == '"' || c == '\''):
				t.quote = c
			}
		}
		t.scan = t.end - t.pos
		if err := t.fill(); err != nil {
			return 0, err
		}
	}
}

// pi rejects processing instructions and handles the XML declaration,
// allowed only at the very start of the stream.
func (t *Tokenizer) pi() error {
	atStart := len(t.stack) == 0 && (t.off(t.pos) == 0 || t.off(t.pos) == 3 && t.bom)
	if !atStart {
		return t.errAt(CondRestrictedXML, t.pos, "processing instructions are not allowed in XMPP (RFC 6120 §11.1)")
	}
	if err := t.need(6); err != nil {
		return err
	}
	if !bytes.HasPrefix(t.buf[t.pos:], []byte("<?xml")) || !isSpace(t.buf[t.pos+5]) {
		return t.errAt(CondRestrictedXML, t.pos, "processing instructions are not allowed in XMPP (RFC 6120 §11.1)")
	}
	var q int
	for {
		if i := bytes.Index(t.buf[t.pos+t.scan:t.end], []byte("?>")); i >= 0 {
			q = t.pos + t.scan + i
			break
		}
		t.scan = max(t.end-t.pos-1, 0)
		if err := t.fill(); err != nil {
			return err
		}
	}
	if err := t.xmlDecl(t.pos+5, q); err != nil {
		return err
	}
	t.pos = q + 2
	return nil
}

// bang handles "<!": CDATA sections are text; anything else (DOCTYPE,
// ENTITY, comments) is restricted XML.
func (t *Tokenizer) bang() error {
	if err := t.need(3); err != nil {
		return err
	}
	if t.buf[t.pos+2] != '[' {
		return t.errAt(CondRestrictedXML, t.pos, "comments, DOCTYPE and entity declarations are not allowed in XMPP (RFC 6120 §11.1)")
	}
	if len(t.stack) <= 1 {
		return t.errAt(CondBadFormat, t.pos, "CDATA section directly inside the stream root")
	}
	if err := t.need(9); err != nil {
		return err
	}
	if !bytes.HasPrefix(t.buf[t.pos:], []byte("<![CDATA[")) {
		return t.errAt(CondNotWellFormed, t.pos, "malformed <![CDATA[ section")
	}
	t.scan = 9
	var q int
	for {
		if i := bytes.Index(t.buf[t.pos+t.scan:t.end], []byte("]]>")); i >= 0 {
			q = t.pos + t.scan + i
			break
		}
		t.scan = max(t.end-t.pos-2, 9)
		if err := t.fill(); err != nil {
			return err
		}
	}
	p := t.pos
	esc, err := t.checkCDATA(p+9, q)
	if err != nil {
		return err
	}
	t.pos = q + 3
	t.tok = Token{Kind: CharData, Data: t.buf[p+9 : q], Escaped: esc, CDATA: true, Depth: len(t.stack), Offset: t.off(p)}
	return nil
}

// errIncomplete: the tag runs past the buffered data (optimistic lexing).
var errIncomplete = errors.New("incomplete")

// endTag lexes </name S?>. It first tries the buffered bytes; only if the
// tag is cut off does it search for '>' (resumable) and lex again.
func (t *Tokenizer) endTag() error {
	err := t.lexEnd(t.end)
	if err != errIncomplete {
		return err
	}
	t.scan = 2
	for {
		if i := bytes.IndexByte(t.buf[t.pos+t.scan:t.end], '>'); i >= 0 {
			err = t.lexEnd(t.pos + t.scan + i + 1)
			if err == errIncomplete {
				err = t.errAt(CondNotWellFormed, t.pos, "malformed end tag")
			}
			return err
		}
		t.scan = t.end - t.pos
		if err := t.fill(); err != nil {
			return t.betterErr(err, t.lexEnd)
		}
	}
}

// betterErr: when the input ends (or fails) inside a tag, report a syntax
// error in the part that did arrive, as lexing it whole would have.
func (t *Tokenizer) betterErr(err error, lex func(int) error) error {
	if _, ok := err.(*Error); ok {
		return err
	}
	if lerr := lex(t.end); lerr != errIncomplete && lerr != nil {
		return lerr
	}
	return err
}

func (t *Tokenizer) lexEnd(e int) error {
	p := t.pos
	j, err := t.scanQName(p+2, e)
	if err != nil {
		return err
	}
	name := t.buf[p+2 : j]
	for j < e && isSpace(t.buf[j]) {
		j++
	}
	if j >= e {
		return errIncomplete
	}
	if t.buf[j] != '>' {
		return t.errAt(CondNotWellFormed, j, "unexpected character in end tag")
	}
	if len(t.stack) == 0 {
		return t.errAt(CondNotWellFormed, p, "end tag before the stream header")
	}
	top := t.stack[len(t.stack)-1]
	var open []byte
	if top.off < 0 {
		open = t.root
	} else {
		i := int(top.off - t.base)
		open = t.buf[i : i+int(top.n)]
	}
	if !bytes.Equal(name, open) {
		return t.errAt(CondNotWellFormed, p, "end tag </"+string(name)+"> does not match <"+string(open)+">")
	}
	t.stack = t.stack[:len(t.stack)-1]
	t.pos = j + 1
	if len(t.stack) == 0 {
		t.closed = true
	} else if len(t.stack) == 1 && t.pos-t.start > t.lim.MaxStanzaBytes {
		// fill checks while reading; this catches a stanza that arrived
		// within one read into a buffer larger than the limit.
		return t.errAt(CondPolicyViolation, t.start, t.lim.stanzaText())
	}
	t.tok = Token{Kind: EndElement, Name: name, Depth: len(t.stack), Offset: t.off(p)}
	return nil
}

// startTag lexes a start tag, optimistically from the buffered bytes
// first; a tag cut off by the end of the data is found with findGT
// (resumable, so slow peers cost linear time) and lexed once more.
func (t *Tokenizer) startTag() error {
	if len(t.stack) > t.lim.MaxDepth {
		return t.errAt(CondPolicyViolation, t.pos, t.lim.depthText())
	}
	err := t.lexStart(t.end)
	if err != errIncomplete {
		return err
	}
	t.scan = 1
	q, err := t.findGT(true)
	if err != nil {
		return t.betterErr(err, t.lexStart)
	}
	err = t.lexStart(q + 1)
	if err == errIncomplete {
		err = t.errAt(CondNotWellFormed, t.pos, "malformed start tag")
	}
	return err
}

// lexStart lexes the start tag at pos within buf[:e]; errIncomplete if it
// does not end before e.
func (t *Tokenizer) lexStart(e int) error {
	p := t.pos
	depth := len(t.stack)
	j, err := t.scanQName(p+1, e)
	if err != nil {
		return err
	}
	tok := &t.tok
	*tok = Token{Kind: StartElement, Name: t.buf[p+1 : j], Depth: depth, Offset: t.off(p)}
	t.attrs = t.attrs[:0]
	var q int
	for {
		k := j
		for k < e && isSpace(t.buf[k]) {
			k++
		}
		if k >= e {
			return errIncomplete
		}
		if c := t.buf[k]; c == '>' {
			q = k
			break
		} else if c == '/' {
			if k+1 >= e {
				return errIncomplete
			}
			if t.buf[k+1] != '>' {
				return t.errAt(CondNotWellFormed, k, "'/' inside a start tag")
			}
			tok.SelfClosing = true
			q = k + 1
			break
		}
		if k == j {
			return t.errAt(CondNotWellFormed, k, "attributes must be separated by whitespace")
		}
		if j, err = t.attr(p, k, e); err != nil {
			return err
		}
	}
	tok.Attrs = t.attrs
	t.pos = q + 1
	if depth == 0 && t.pos-t.start > t.lim.MaxHeaderBytes {
		return t.errAt(CondPolicyViolation, t.start, t.lim.headerText())
	}
	if depth == 1 && tok.SelfClosing && t.pos-t.start > t.lim.MaxStanzaBytes {
		return t.errAt(CondPolicyViolation, t.start, t.lim.stanzaText())
	}
	if !tok.SelfClosing {
		if depth == 0 {
			t.root = append(t.root[:0], tok.Name...)
			t.stack = append(t.stack, nameSpan{off: -1})
		} else {
			t.stack = append(t.stack, nameSpan{off: t.off(p + 1), n: int32(len(tok.Name))})
		}
	} else if depth == 0 {
		t.closed = true // <stream:stream/>: an empty stream
	}
	return nil
}

// attr lexes one attribute starting at k of the tag at p and returns the
// index after its closing quote.
func (t *Tokenizer) attr(p, k, e int) (int, error) {
	if len(t.attrs) >= t.lim.MaxAttrs {
		return 0, t.errAt(CondPolicyViolation, k, t.lim.attrsText())
	}
	ne, err := t.scanQName(k, e)
	if err != nil {
		return 0, err
	}
	i := ne
	for i < e && isSpace(t.buf[i]) {
		i++
	}
	if i >= e {
		return 0, errIncomplete
	}
	if t.buf[i] != '=' {
		return 0, t.errAt(CondNotWellFormed, i, "attribute without '=' and a quoted value")
	}
	i++
	for i < e && isSpace(t.buf[i]) {
		i++
	}
	if i >= e {
		return 0, errIncomplete
	}
	qc := t.buf[i]
	if qc != '"' && qc != '\'' {
		return 0, t.errAt(CondNotWellFormed, i, "attribute value must be quoted")
	}
	v := i + 1
	ve := bytes.IndexByte(t.buf[v:e], qc)
	if ve < 0 {
		if lt := bytes.IndexByte(t.buf[v:e], '<'); lt >= 0 {
			return 0, t.errAt(CondNotWellFormed, v+lt, "'<' in an attribute value")
		}
		return 0, errIncomplete
	}
	ve += v
	esc, err := t.checkAttr(v, ve)
	if err != nil {
		return 0, err
	}
	name := t.buf[k:ne]
	for a := range t.attrs {
		if bytes.Equal(t.attrs[a].Name, name) {
			return 0, t.errAt(CondNotWellFormed, k, "duplicate attribute "+string(name))
		}
	}
	t.attrs = append(t.attrs, RawAttr{Name: name, Value: t.buf[v:ve], Escaped: esc, nameRel: int32(k - p), valRel: int32(v - p)})
	return ve + 1, nil
}

// Release drops the read buffer when nothing is buffered, so an idle
// stream holds no buffer at all; the next read allocates a small one.
// It reports whether the buffer was released.
func (t *Tokenizer) Release() bool {
	// Between top-level elements only the root is open, and its name is
	// kept outside the buffer (t.root).
	if t.end != t.pos || len(t.stack) > 1 || t.scan != 0 {
		return false
	}
	t.base += int64(t.end)
	t.start, t.pos, t.end = 0, 0, 0
	t.buf = nil
	t.attrs = nil
	return true
}
