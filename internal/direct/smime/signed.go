package smime

import (
	"bufio"
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"strings"

	"github.com/smallstep/pkcs7"

	"github.com/tern-xmpp/tern/internal/direct/trust"
)

// The signed entity read in place: in memory (Open) or in a decrypted
// temporary file (OpenFile), its parts are found by offset and the signed
// part hashed as it is read; only header blocks and the signature are
// held, each at most maxHead.

// maxHead bounds a header block and the signature part.
const maxHead = 1 << 20

// maxSigners bounds the SignerInfos of one signature.
const maxSigners = 4

// maxUnattributed bounds content whose signer signed no attributes: the
// signature is then over the content itself, which must be held.
const maxUnattributed = 16 << 20

// source is a decrypted entity: a *bytes.Reader or an *io.SectionReader.
type source interface {
	io.ReaderAt
	Size() int64
}

// readHead parses the header block at the start of src as parseEntity
// does (up to the first empty line, CRLF or LF) and returns the offset of
// the body.
func readHead(src source) (mail.Header, int64, error) {
	for _, n := range []int64{8 << 10, 128 << 10, maxHead} {
		n = min(n, src.Size())
		buf := make([]byte, n)
		if _, err := src.ReadAt(buf, 0); err != nil && err != io.EOF {
			return nil, 0, err
		}
		i, j := bytes.Index(buf, []byte("\r\n\r\n")), bytes.Index(buf, []byte("\n\n"))
		var end int64
		switch {
		case i >= 0 && (j < 0 || i < j):
			end = int64(i) + 4
		case j >= 0:
			end = int64(j) + 2
		case n == src.Size():
			end = n // no body
		default:
			continue
		}
		msg, err := mail.ReadMessage(bytes.NewReader(buf[:end]))
		if err != nil {
			return nil, 0, fmt.Errorf("the MIME headers: %v", err)
		}
		return msg.Header, end, nil
	}
	return nil, 0, fmt.Errorf("the MIME headers: longer than %d bytes", maxHead)
}

// splitAt is splitMultipart over src from offset off: the [start, end)
// of each body part.
func splitAt(src source, off int64, bd string) ([][2]int64, error) {
	delim := []byte("--" + bd)
	br := bufio.NewReaderSize(io.NewSectionReader(src, off, src.Size()-off), int(min(64<<10, max(src.Size()-off, 16))))
	var parts [][2]int64
	start, pos := int64(-1), int64(0)
	lineStart, prevCRLF, lastCR := true, false, false
	for {
		chunk, err := br.ReadSlice('\n')
		whole := err == nil || err == io.EOF
		if lineStart && whole {
			line := bytes.TrimRight(bytes.TrimSuffix(chunk, []byte("\n")), "\r \t")
			rest, isDelim := bytes.CutPrefix(line, delim)
			if isDelim && len(bytes.TrimSuffix(chunk, []byte("\n"))) <= maxDelimLine && (len(rest) == 0 || bytes.Equal(rest, []byte("--"))) {
				if start >= 0 {
					// The part ends before the line break preceding this delimiter.
					end := pos
					if end > start { // the '\n' that ended the line before
						end--
						if end > start && prevCRLF {
							end--
						}
					}
					if len(parts) == 16 {
						return nil, errors.New("the multipart body has more than 16 parts")
					}
					parts = append(parts, [2]int64{off + start, off + end})
				}
				if bytes.Equal(rest, []byte("--")) {
					return parts, nil
				}
				start = pos + int64(len(chunk))
			}
		}
		pos += int64(len(chunk))
		if err == io.EOF {
			break
		}
		if err != nil && err != bufio.ErrBufferFull {
			return nil, err
		}
		lineStart = err == nil
		if lineStart {
			prevCRLF = bytes.HasSuffix(chunk, []byte("\r\n")) || (len(chunk) == 1 && lastCR)
		}
		lastCR = len(chunk) > 0 && chunk[len(chunk)-1] == '\r'
	}
	return nil, fmt.Errorf("the multipart body has no closing delimiter --%s--", bd)
}

// openSigned checks the decrypted multipart/signed entity plain and fills
// op: the signature over the exact signed bytes, the algorithms, the
// signer's key and trust for the sender, the inner headers against outer.
// authenticated is set once the signature holds.
func (op *Opened) openSigned(ctx context.Context, outer mail.Header, plain source, verify Verifier, authenticated *bool) error {
	sh, bodyOff, err := readHead(plain)
	if err != nil {
		return reject(RuleMalformed, "the decrypted entity: %v", err)
	}
	smt, sparams := mediaTypeOf(sh)
	if smt != "multipart/signed" || !strings.Contains(strings.ToLower(sparams["protocol"]), "pkcs7-signature") {
		return reject(RuleNotSigned, "the decrypted content is %s, not multipart/signed with a PKCS#7 signature", smt)
	}
	parts, err := splitAt(plain, bodyOff, sparams["boundary"])
	if err != nil || len(parts) != 2 {
		return reject(RuleMalformed, "multipart/signed needs two parts (%d, %v)", len(parts), err)
	}
	if n := parts[1][1] - parts[1][0]; n > maxHead {
		return reject(RuleMalformed, "the signature part is %d bytes (at most %d)", n, maxHead)
	}
	sigRaw := make([]byte, parts[1][1]-parts[1][0])
	if _, err := plain.ReadAt(sigRaw, parts[1][0]); err != nil && err != io.EOF {
		return reject(RuleMalformed, "the signature part: %v", err)
	}
	sigEnt, err := parseEntity(sigRaw)
	if err != nil {
		return reject(RuleMalformed, "the signature part: %v", err)
	}
	sigDER, err := sigEnt.decodedBody()
	if err != nil {
		return reject(RuleMalformed, "the signature part: %v", err)
	}
	p7, err := pkcs7.Parse(sigDER)
	if err != nil {
		return reject(RuleMalformed, "the signature: %v", err)
	}
	if len(p7.Signers) == 0 {
		return reject(RuleNotSigned, "the signature has no signer")
	}
	if len(p7.Signers) > maxSigners {
		// Each signer is a pass over the content: a thousand would be a
		// thousand passes, for no signer anyone needs.
		return reject(RuleMalformed, "the signature has %d signers (at most %d)", len(p7.Signers), maxSigners)
	}
	for _, si := range p7.Signers {
		if err := checkDigest(si.DigestAlgorithm.Algorithm); err != nil {
			return err
		}
		if err := checkSignatureAlgorithm(si.DigestEncryptionAlgorithm.Algorithm); err != nil {
			return err
		}
		op.Digest = digestName(si.DigestAlgorithm.Algorithm)
	}
	content := io.NewSectionReader(plain, parts[0][0], parts[0][1]-parts[0][0])
	if err := verifyOver(ctx, p7, content); err != nil {
		return err
	}
	*authenticated = true // the signature holds over the decrypted content
	si := p7.Signers[0]
	signer := signerCert(p7, si.IssuerAndSerialNumber.SerialNumber.String(), si.IssuerAndSerialNumber.IssuerName.FullBytes)
	if signer == nil {
		return reject(RuleBadSignature, "the signer's certificate is not in the signature")
	}
	if err := checkKey(signer); err != nil {
		return err
	}
	op.Signer = signer

	ch, cbody, err := readHead(content)
	if err != nil {
		return reject(RuleMalformed, "the signed entity: %v", err)
	}
	msg := content
	if cmt, _ := mediaTypeOf(ch); cmt == "message/rfc822" {
		op.Wrapped, msg = true, io.NewSectionReader(content, cbody, content.Size()-cbody)
	}
	// Wrapped, the sender is the signed inner From; unwrapped (AS 1.0
	// style), only the outer headers name it.
	fromHeader, idHeader := outer.Get("From"), outer.Get("Message-ID")
	if op.Wrapped {
		inner, _, err := readHead(msg)
		if err != nil {
			return reject(RuleMalformed, "the signed message: %v", err)
		}
		if err := compareHeaders(outer, inner); err != nil {
			return err
		}
		fromHeader, idHeader = inner.Get("From"), inner.Get("Message-ID")
	}
	if op.MessageID, err = CheckMessageID(idHeader); err != nil {
		return err
	}
	from, err := mail.ParseAddress(fromHeader)
	if err != nil {
		return reject(RuleMalformed, "the message's From %q: %v", fromHeader, err)
	}
	op.From = strings.ToLower(from.Address)
	if op.file != nil {
		op.content = msg
	} else {
		op.Message = make([]byte, msg.Size())
		if _, err := msg.ReadAt(op.Message, 0); err != nil && err != io.EOF {
			return reject(RuleMalformed, "the signed message: %v", err)
		}
	}

	chain := append([]*x509.Certificate{signer}, others(p7.Certificates, signer)...)
	res, err := verify(ctx, op.From, chain)
	if res == nil {
		return reject(RuleUntrusted, "the signer could not be checked: %v", err)
	}
	op.Trust = res
	if !res.Trusted {
		return reject(trustRule(res.Reason), "signer %s for %s: %s", signer.Subject, op.From, trust.Explain(res))
	}
	return nil
}

// verifyOver verifies every signature of p7 over content, hashed as it is
// read; once more on the canonical (CRLF) form of the content, as some
// senders sign LF text that a relay turned into CRLF, or the reverse.
func verifyOver(ctx context.Context, p7 *pkcs7.PKCS7, content *io.SectionReader) error {
	attributed := true
	for _, si := range p7.Signers {
		attributed = attributed && len(si.AuthenticatedAttributes) > 0
	}
	var err, err2 error
	if attributed {
		p7.Hasher = &sectionHasher{ctx: ctx, r: content}
		if err = p7.Verify(); err != nil && ctx.Err() == nil {
			p7.Hasher = &sectionHasher{ctx: ctx, r: content, canon: true}
			err2 = p7.Verify()
		}
		if ctx.Err() != nil {
			return reject(RuleBadSignature, "the signature was not verified in time: %v", ctx.Err())
		}
	} else {
		// Signed without attributes: over the content itself, held.
		if content.Size() > maxUnattributed {
			return reject(RuleBadSignature, "a signature without signed attributes over %d bytes (this server verifies those up to %d)", content.Size(), maxUnattributed)
		}
		b := make([]byte, content.Size())
		if _, err := content.ReadAt(b, 0); err != nil && err != io.EOF {
			return reject(RuleMalformed, "the signed entity: %v", err)
		}
		p7.Content = b
		if err = p7.Verify(); err != nil {
			p7.Content = canonicalLines(b)
			err2 = p7.Verify()
		}
	}
	if err == nil || err2 == nil {
		return nil
	}
	if st := (*pkcs7.SigningTimeNotValidError)(nil); errors.As(err, &st) || errors.As(err2, &st) {
		if st.SigningTime.After(st.NotAfter) {
			return reject(RuleExpired, "the signer's certificate had expired when the message was signed: %v", err)
		}
		return reject(RuleNotYetValid, "the signer's certificate was not yet valid when the message was signed: %v", err)
	}
	return reject(RuleBadSignature, "%v", err)
}

// sectionHasher is a pkcs7.Hasher that hashes the content from where it
// lies instead of from p7.Content, once per hash function whatever the
// number of signers, and stops when ctx ends.
type sectionHasher struct {
	ctx   context.Context
	r     *io.SectionReader
	canon bool
	done  map[crypto.Hash][]byte
}

func (s *sectionHasher) Hash(h crypto.Hash, _ io.Reader) ([]byte, error) {
	if sum, ok := s.done[h]; ok {
		return sum, nil
	}
	if !h.Available() {
		return nil, fmt.Errorf("hash function %v not available", h)
	}
	d := h.New()
	var w io.Writer = d
	cw := &canonWriter{w: d}
	if s.canon {
		w = cw
	}
	buf := make([]byte, min(64<<10, max(s.r.Size(), 1)))
	for off := int64(0); off < s.r.Size(); {
		if err := s.ctx.Err(); err != nil {
			return nil, err
		}
		n, err := s.r.ReadAt(buf[:min(int64(len(buf)), s.r.Size()-off)], off)
		w.Write(buf[:n])
		off += int64(n)
		if err != nil && (err != io.EOF || off < s.r.Size()) {
			return nil, err
		}
	}
	if s.canon {
		cw.close()
	}
	if s.done == nil {
		s.done = map[crypto.Hash][]byte{}
	}
	s.done[h] = d.Sum(nil)
	return s.done[h], nil
}

// canonWriter writes what canonicalLines returns, as it goes: every CR,
// LF or CRLF as CRLF, and a CRLF at the end if there is none.
type canonWriter struct {
	w       io.Writer
	cr      bool
	n       int64
	endCRLF bool
	buf     []byte
}

func (c *canonWriter) Write(p []byte) (int, error) {
	out := c.buf[:0]
	for _, b := range p {
		if c.cr {
			out, c.cr = append(out, '\r', '\n'), false
			if b == '\n' {
				continue
			}
		}
		switch b {
		case '\r':
			c.cr = true
		case '\n':
			out = append(out, '\r', '\n')
		default:
			out = append(out, b)
		}
	}
	c.buf = out
	if len(out) > 0 {
		c.n += int64(len(out))
		c.endCRLF = bytes.HasSuffix(out, crlfBytes)
		if _, err := c.w.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *canonWriter) close() {
	if c.cr {
		c.w.Write(crlfBytes)
		c.n, c.endCRLF, c.cr = c.n+2, true, false
	}
	if c.n > 0 && !c.endCRLF {
		c.w.Write(crlfBytes)
	}
}
