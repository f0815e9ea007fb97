package messages

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"path/filepath"
	"strings"

	"github.com/tern-xmpp/tern/internal/direct/smime"
)

// partInfo is one document of a received message: in memory, or, taken
// out of a message opened from a file, in a file under the message's Dir.
type partInfo struct {
	name, ctype string
	size        int64
	text        string
	data        []byte
	path        string
}

// summary is what the recipient's client shows: who signed, that it was
// verified, the parts, and the message's text. Parts of a message opened
// from a file are taken out into files under op.Dir (removed with it).
func summary(op *smime.Opened) (string, []partInfo, string) {
	subject := ""
	var parts []partInfo
	if m, err := mail.ReadMessage(op.Reader()); err == nil {
		subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		parts = readParts(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Header.Get("Content-Disposition"), m.Body, op.Dir())
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Direct message %q from %s: signature and trust verified (signed by %s, %s-bound; %s, %s).",
		subject, op.From, op.Signer.Subject.CommonName, op.Trust.Bound, op.Cipher, op.Digest)
	for _, p := range parts {
		switch {
		case p.name != "" && p.size < 0:
			fmt.Fprintf(&b, "\nAttachment: %s (%s): it could not be read out of the message (a broken MIME part, or this server's disk); no link", p.name, p.ctype)
		case p.name != "":
			fmt.Fprintf(&b, "\nAttachment: %s (%s, %d bytes)", p.name, p.ctype, p.size)
		}
	}
	for _, p := range parts {
		if p.name == "" && p.text != "" {
			b.WriteString("\n\n" + p.text)
			break
		}
	}
	return b.String(), parts, subject
}

// maxTextShown bounds the message text copied into the chat body.
const maxTextShown = 16 << 10

// spillAt: a part larger than this, encoded, goes to a file (when there
// is a directory for it).
const spillAt = 1 << 20

func readParts(ctype, cte, disposition string, body io.Reader, dir string) []partInfo {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if !strings.HasPrefix(mt, "multipart/") {
		p := partInfo{ctype: mt}
		if _, dp, err := mime.ParseMediaType(disposition); err == nil {
			p.name = dp["filename"] // a message that is one attachment
		}
		return []partInfo{p.read(cte, body, dir, 0)}
	}
	var out []partInfo
	mr := multipart.NewReader(body, params["boundary"])
	for i := 1; ; i++ {
		p, err := mr.NextPart()
		if err != nil {
			return out
		}
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		info := partInfo{name: p.FileName(), ctype: pt}
		out = append(out, info.read(p.Header.Get("Content-Transfer-Encoding"), p, dir, i))
	}
}

// read takes the part's body: decoded in memory (what does not decode is
// kept as it came), or, above spillAt with a directory, through files.
func (p partInfo) read(cte string, r io.Reader, dir string, i int) partInfo {
	limit := int64(64 << 20) // in memory: the most a message opened in memory holds
	if dir != "" {
		limit = spillAt
	}
	head, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		p.size = -1 // cut short (a broken multipart): no link, the inbox keeps the message
		return p
	}
	if int64(len(head)) <= limit {
		p.data = decodeCTE(cte, head)
		p.size = int64(len(p.data))
		if p.name == "" && strings.HasPrefix(p.ctype, "text/") {
			p.text = string(p.data[:min(len(p.data), maxTextShown)])
		}
		return p
	}
	// As it came into one file, decoded into another; a body that does not
	// decode is kept as it came, as in memory.
	raw := filepath.Join(dir, fmt.Sprintf("part-%d.raw", i))
	doc := filepath.Join(dir, fmt.Sprintf("part-%d", i))
	var n int64
	n, err = writeFile(raw, io.MultiReader(bytes.NewReader(head), r))
	head = nil
	if err != nil {
		p.size = -1 // not taken out: no link, the inbox keeps the message
		return p
	}
	p.path, p.size = raw, n
	f, err := os.Open(raw)
	if err != nil {
		return p
	}
	defer f.Close()
	dec, err := smime.DecodedReader(cte, bufio.NewReaderSize(f, 64<<10))
	if err != nil {
		return p
	}
	if m, err := writeFile(doc, dec); err == nil {
		os.Remove(raw)
		p.path, p.size = doc, m
	} else {
		os.Remove(doc)
	}
	if p.name == "" && strings.HasPrefix(p.ctype, "text/") {
		if f, err := os.Open(p.path); err == nil {
			b, _ := io.ReadAll(io.LimitReader(f, maxTextShown))
			f.Close()
			p.text = string(b)
		}
	}
	return p
}

func writeFile(path string, r io.Reader) (int64, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return 0, err
	}
	n, err := io.CopyBuffer(f, r, make([]byte, 64<<10))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// decodeCTE undoes base64 (mime/multipart undoes quoted-printable itself);
// what does not decode is shown as it came.
func decodeCTE(cte string, data []byte) []byte {
	if out, err := smime.DecodeBody(cte, data); err == nil {
		return out
	}
	return data
}
