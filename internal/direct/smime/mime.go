package smime

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net/mail"
	"net/textproto"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"
)

// Part is one MIME part of a Direct message: a text, a C-CDA, a PDF, an
// XDM zip...
type Part struct {
	Filename    string // "" for the message text
	ContentType string // "" = guessed from the file name (text/plain for text)
	Data        []byte
	Path        string // instead of Data: a file SealStream reads as it goes (Seal does not)
}

// Message is the RFC 5322 message a Direct sender writes.
type Message struct {
	From      string
	To        []string
	Subject   string
	Date      time.Time
	MessageID string // "" = a random one at From's domain
	Headers   map[string]string
	Parts     []Part
	// Multipart is the multipart subtype and parameters when there are
	// several parts: "" is mixed; an MDN is "report;
	// report-type=disposition-notification" (RFC 3798).
	Multipart string
}

const crlf = "\r\n"

// boundary is a random MIME boundary (RFC 2046 §5.1.1).
func boundary(prefix string) string {
	var b [12]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// NewMessageID is a random Message-ID at domain.
func NewMessageID(domain string) string {
	var b [16]byte
	rand.Read(b[:])
	return "<" + hex.EncodeToString(b[:]) + "@" + domain + ">"
}

// Bytes writes the message with CRLF line ends (the canonical form that
// is signed): the headers, then one part, or multipart/mixed for several.
func (m *Message) Bytes() ([]byte, error) {
	if m.From == "" || len(m.To) == 0 {
		return nil, errors.New("a message needs From and To")
	}
	if m.MessageID == "" {
		_, dom, _ := strings.Cut(m.From, "@")
		m.MessageID = NewMessageID(dom)
	}
	if m.Date.IsZero() {
		m.Date = time.Now()
	}
	var b bytes.Buffer
	size := 1024
	for _, p := range m.Parts {
		size += base64Len(len(p.Data)) + 256
	}
	b.Grow(size)
	for _, h := range [][2]string{{"From", m.From}, {"To", strings.Join(m.To, ", ")}, {"Date", m.Date.Format(time.RFC1123Z)},
		{"Message-ID", m.MessageID}, {"Subject", mime.QEncoding.Encode("utf-8", m.Subject)}} {
		if err := header(&b, h[0], h[1]); err != nil {
			return nil, err
		}
	}
	for k, v := range m.Headers {
		if err := header(&b, textproto.CanonicalMIMEHeaderKey(k), v); err != nil {
			return nil, err
		}
	}
	b.WriteString("MIME-Version: 1.0" + crlf)
	parts := m.Parts
	if len(parts) == 0 {
		parts = []Part{{Data: nil}}
	}
	if len(parts) == 1 && m.Multipart == "" {
		writePart(&b, parts[0])
		return b.Bytes(), nil
	}
	sub := m.Multipart
	if sub == "" {
		sub = "mixed"
	}
	bd := boundary("part-")
	b.WriteString("Content-Type: multipart/" + sub + "; boundary=\"" + bd + "\"" + crlf + crlf)
	for _, p := range parts {
		b.WriteString("--" + bd + crlf)
		writePart(&b, p)
		b.WriteString(crlf)
	}
	b.WriteString("--" + bd + "--" + crlf)
	return b.Bytes(), nil
}

func header(b *bytes.Buffer, k, v string) error {
	if strings.ContainsAny(v, "\r\n") {
		return fmt.Errorf("header %s: line breaks are not allowed in a value", k)
	}
	b.WriteString(k + ": " + v + crlf)
	return nil
}

// writePart writes a part's headers and body: text as UTF-8 with CRLF
// lines, anything else base64 in 76-character lines.
func writePart(b *bytes.Buffer, p Part) {
	ct := p.ContentType
	if ct == "" {
		ct = "text/plain; charset=utf-8"
		if p.Filename != "" {
			if t := mime.TypeByExtension(strings.ToLower(filepath.Ext(p.Filename))); t != "" {
				ct = t
			} else {
				ct = "application/octet-stream"
			}
		}
	}
	b.WriteString("Content-Type: " + ct + crlf)
	if p.Filename != "" {
		b.WriteString("Content-Disposition: " + mime.FormatMediaType("attachment", map[string]string{"filename": p.Filename}) + crlf)
	}
	if p.Filename == "" && utf8.Valid(p.Data) && !bytes.ContainsRune(p.Data, 0) {
		b.WriteString("Content-Transfer-Encoding: 8bit" + crlf + crlf)
		b.Write(canonicalLines(p.Data))
		return
	}
	b.WriteString("Content-Transfer-Encoding: base64" + crlf + crlf)
	writeBase64(b, p.Data)
}

// base64Len is the length writeBase64 writes for n bytes.
func base64Len(n int) int { return base64.StdEncoding.EncodedLen(n) + (n+56)/57*2 }

// writeBase64 writes data base64 in lines of 76 characters (RFC 2045 §6.8).
func writeBase64(b *bytes.Buffer, data []byte) {
	enc := base64.StdEncoding
	line := make([]byte, 76)
	for len(data) > 0 {
		n := min(len(data), 57)
		enc.Encode(line, data[:n])
		b.Write(line[:enc.EncodedLen(n)])
		b.WriteString(crlf)
		data = data[n:]
	}
}

// canonicalLines turns bare LF (and lone CR) into CRLF, and ends the text
// with a line break.
func canonicalLines(s []byte) []byte {
	var out bytes.Buffer
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\r' && i+1 < len(s) && s[i+1] == '\n':
			out.WriteString(crlf)
			i++
		case c == '\r' || c == '\n':
			out.WriteString(crlf)
		default:
			out.WriteByte(c)
		}
	}
	if out.Len() > 0 && !bytes.HasSuffix(out.Bytes(), []byte(crlf)) {
		out.WriteString(crlf)
	}
	return out.Bytes()
}

// entity is one MIME entity as received: its header block parsed, and the
// exact bytes of the whole entity and of its body.
type entity struct {
	raw    []byte
	header mail.Header
	body   []byte
}

// parseEntity splits raw at the first empty line (CRLF or LF).
func parseEntity(raw []byte) (*entity, error) {
	msg, err := mail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("the MIME headers: %v", err)
	}
	i := bytes.Index(raw, []byte("\r\n\r\n"))
	j := bytes.Index(raw, []byte("\n\n"))
	var body []byte
	switch {
	case i >= 0 && (j < 0 || i < j):
		body = raw[i+4:]
	case j >= 0:
		body = raw[j+2:]
	default:
		body = nil
	}
	return &entity{raw: raw, header: msg.Header, body: body}, nil
}

func (e *entity) mediaType() (string, map[string]string) { return mediaTypeOf(e.header) }

func mediaTypeOf(h mail.Header) (string, map[string]string) {
	mt, params, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return "text/plain", nil // RFC 2045 §5.2's default
	}
	return strings.ToLower(mt), params
}

// decodedBody is the body after its Content-Transfer-Encoding.
func (e *entity) decodedBody() ([]byte, error) {
	return DecodeBody(e.header.Get("Content-Transfer-Encoding"), e.body)
}

// DecodeBody undoes a Content-Transfer-Encoding of base64 (line breaks and
// spaces ignored) or identity (7bit, 8bit, binary, none); others are an
// error.
func DecodeBody(cte string, body []byte) ([]byte, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		clean := bytes.Map(func(r rune) rune {
			if r == '\r' || r == '\n' || r == ' ' || r == '\t' {
				return -1
			}
			return r
		}, body)
		out := make([]byte, base64.StdEncoding.DecodedLen(len(clean)))
		n, err := base64.StdEncoding.Decode(out, clean)
		if err != nil {
			return nil, fmt.Errorf("the base64 body: %v", err)
		}
		return out[:n], nil
	case "", "7bit", "8bit", "binary":
		return body, nil
	default:
		return nil, fmt.Errorf("content transfer encoding %q is not read here", cte)
	}
}

// maxDelimLine bounds a delimiter line, its padding included (RFC 5322's
// 998 characters): a longer one is content, in memory as from a file.
const maxDelimLine = 998

// splitMultipart returns the exact bytes of each body part of a multipart
// body with boundary bd (RFC 2046 §5.1.1): what lies between a delimiter
// line's end and the line break before the next delimiter. Not
// re-serialised: a signature covers these bytes.
func splitMultipart(body []byte, bd string) ([][]byte, error) {
	delim := []byte("--" + bd)
	var parts [][]byte
	start := -1
	for pos := 0; pos <= len(body); {
		nl := bytes.IndexByte(body[pos:], '\n')
		end := len(body)
		if nl >= 0 {
			end = pos + nl
		}
		line := bytes.TrimRight(body[pos:end], "\r \t")
		rest, isDelim := bytes.CutPrefix(line, delim)
		if isDelim && end-pos <= maxDelimLine && (len(rest) == 0 || bytes.Equal(rest, []byte("--"))) {
			if start >= 0 {
				// The part ends before the line break preceding this delimiter.
				p := body[start:pos]
				p = bytes.TrimSuffix(p, []byte("\n"))
				p = bytes.TrimSuffix(p, []byte("\r"))
				parts = append(parts, p)
			}
			if bytes.Equal(rest, []byte("--")) {
				return parts, nil
			}
			start = min(end+1, len(body))
		}
		if nl < 0 {
			break
		}
		pos = end + 1
	}
	return nil, fmt.Errorf("the multipart body has no closing delimiter --%s--", bd)
}
