package smime

import (
	"bufio"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Opening without holding the message: OpenFile decodes the base64 body
// and decrypts the AES-CBC content as it reads them, into one temporary
// file (the signed entity), and checks it in place (openSigned), with
// memory bounded by buffers and header blocks whatever the size.

// maxGCMFile bounds an AES-GCM message opened from a file (in memory,
// several copies of it).
const maxGCMFile = 16 << 20

// ErrLocal marks a failure of this server (its disk), not of the message:
// the sender may try again later.
var ErrLocal = errors.New("local failure")

// OpenFile is Open for the message in the file at path. The decrypted
// entity lives in a directory under tmpDir until the Opened is closed
// (Close); so do the documents a caller takes out of it (Dir). AES-GCM
// content is opened in memory: Go's AEAD does not stream (tern seals large
// messages AES-CBC).
func OpenFile(ctx context.Context, path string, rcpts []Recipient, verify Verifier, tmpDir string) (op *Opened, err error) {
	decrypted, authenticated := false, false
	defer func() {
		if rej, ok := err.(*Rejection); ok && decrypted && !authenticated {
			rej.Unauthenticated = true
		}
	}()
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	src := io.NewSectionReader(f, 0, fi.Size())
	hdr, bodyOff, err := readHead(src)
	if err != nil {
		return nil, reject(RuleMalformed, "%v", err)
	}
	if err := checkOuter(hdr); err != nil {
		return nil, err
	}
	body, err := decodedReader(hdr.Get("Content-Transfer-Encoding"), io.NewSectionReader(f, bodyOff, fi.Size()-bodyOff))
	if err != nil {
		return nil, reject(RuleMalformed, "%v", err)
	}
	d := &derReader{r: bufio.NewReaderSize(body, 64<<10)}
	env, err := d.envelope()
	if err == errAuthEnveloped {
		if fi.Size() > maxGCMFile {
			return nil, reject(RuleMalformed, "an AES-GCM message of %d bytes: this server opens those in memory, up to %d; larger messages must be AES-CBC", fi.Size(), maxGCMFile)
		}
		raw, err := io.ReadAll(src)
		if err != nil {
			return nil, err
		}
		op, err := Open(ctx, raw, rcpts, verify)
		if err != nil {
			return nil, err
		}
		if op.dir, err = os.MkdirTemp(tmpDir, "direct-open-*"); err != nil {
			return nil, err
		}
		return op, nil
	}
	if err != nil {
		return nil, reject(RuleMalformed, "the enveloped data: %v", err)
	}
	info, err := envelopeOf(env.ris, env.alg)
	if err != nil {
		return nil, reject(RuleMalformed, "the enveloped data: %v", err)
	}
	if err := checkCipher(info); err != nil {
		return nil, err
	}
	keyLen := 16
	switch {
	case info.Cipher.Equal(oidAES256CBC):
		keyLen = 32
	case !info.Cipher.Equal(oidAES128CBC):
		return nil, reject(RuleDecryptFailed, "content encryption %s is not supported in enveloped-data (AES-128/256-CBC are)", CipherName(info.Cipher))
	}
	alg, err := children(env.alg.full, 0x30)
	if err != nil || len(alg) != 2 || alg[1].tag != 0x04 || len(alg[1].content) != aes.BlockSize {
		return nil, reject(RuleDecryptFailed, "AES-CBC: no IV of %d bytes", aes.BlockSize)
	}
	var cek []byte
	var lastErr error
	for _, r := range rcpts {
		if cek, lastErr = recipientKey(env.ris, r.Cert, r.Key, keyLen); lastErr == nil {
			break
		}
	}
	if cek == nil {
		if lastErr == nil || strings.Contains(lastErr.Error(), "no enveloped recipient") {
			return nil, reject(RuleNotForUs, "encrypted to none of the %d certificate(s) given (%d recipient(s) in the message)", len(rcpts), info.Recipients)
		}
		return nil, reject(RuleDecryptFailed, "%v", lastErr)
	}
	dir, err := os.MkdirTemp(tmpDir, "direct-open-*")
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrLocal, err)
	}
	pf, err := os.OpenFile(filepath.Join(dir, "signed"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("%w: %v", ErrLocal, err)
	}
	opened := &Opened{Cipher: CipherName(info.Cipher), dir: dir, file: pf}
	defer func() {
		if err != nil {
			opened.Close()
		}
	}()
	block, _ := aes.NewCipher(cek)
	n, err := decryptCBC(ctx, pf, env.content, block, alg[1].content)
	if errors.Is(err, ErrLocal) || ctx.Err() != nil {
		return nil, err
	}
	if err != nil {
		return nil, reject(RuleDecryptFailed, "%v", err)
	}
	decrypted = true
	if err := opened.openSigned(ctx, hdr, io.NewSectionReader(pf, 0, n), verify, &authenticated); err != nil {
		return nil, err
	}
	return opened, nil
}

// DecodedReader undoes a Content-Transfer-Encoding as DecodeBody does, as
// it reads.
func DecodedReader(cte string, r io.Reader) (io.Reader, error) { return decodedReader(cte, r) }

func decodedReader(cte string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "base64":
		return base64.NewDecoder(base64.StdEncoding, blankless{r}), nil // it skips CR and LF itself
	case "", "7bit", "8bit", "binary":
		return r, nil
	}
	return nil, fmt.Errorf("content transfer encoding %q is not read here", cte)
}

// blankless drops spaces and tabs.
type blankless struct{ r io.Reader }

func (b blankless) Read(p []byte) (int, error) {
	for {
		n, err := b.r.Read(p)
		k := 0
		for _, c := range p[:n] {
			if c != ' ' && c != '\t' {
				p[k] = c
				k++
			}
		}
		if k > 0 || err != nil {
			return k, err
		}
	}
}

// decryptCBC decrypts the AES-CBC ciphertext ct into w and removes its
// padding (the last block is held until it is known to be the last).
func decryptCBC(ctx context.Context, w io.Writer, ct io.Reader, block cipher.Block, iv []byte) (n int64, err error) {
	dec := cipher.NewCBCDecrypter(block, iv)
	lw := &localWriter{w: w}
	defer func() {
		if lw.err != nil {
			n, err = 0, fmt.Errorf("%w: writing the decrypted message: %v", ErrLocal, lw.err)
		}
	}()
	bw := bufio.NewWriterSize(lw, 256<<10)
	buf := make([]byte, 64<<10)
	held := make([]byte, 0, aes.BlockSize)
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		n, err := io.ReadFull(ct, buf)
		if n%aes.BlockSize != 0 {
			return 0, errors.New("AES-CBC: a content that is no whole number of blocks")
		}
		if n > 0 {
			dec.CryptBlocks(buf[:n], buf[:n])
			bw.Write(held)
			bw.Write(buf[:n-aes.BlockSize])
			total += int64(len(held) + n - aes.BlockSize)
			held = append(held[:0], buf[n-aes.BlockSize:n]...)
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return 0, err
		}
	}
	if len(held) == 0 {
		return 0, errors.New("AES-CBC: no content")
	}
	pad := int(held[aes.BlockSize-1])
	if pad == 0 || pad > aes.BlockSize {
		return 0, errors.New("AES-CBC: bad padding (not for this key, or changed)")
	}
	for _, p := range held[aes.BlockSize-pad:] {
		if int(p) != pad {
			return 0, errors.New("AES-CBC: bad padding (not for this key, or changed)")
		}
	}
	bw.Write(held[:aes.BlockSize-pad])
	total += int64(aes.BlockSize - pad)
	return total, bw.Flush()
}

// localWriter keeps the first write error: a failure of this server's
// disk, not of the message.
type localWriter struct {
	w   io.Writer
	err error
}

func (l *localWriter) Write(p []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.w.Write(p)
	l.err = err
	return n, err
}

// derReader reads a CMS structure from a stream: the small values whole,
// the encrypted content as a stream (X.690 §8.1, BER: definite or
// indefinite lengths, primitive or constructed octet strings).
type derReader struct {
	r *bufio.Reader
	n int64 // bytes read
}

var errAuthEnveloped = errors.New("authenticated-enveloped-data")

// streamed is an EnvelopedData read up to its encrypted content.
type streamed struct {
	ris, alg tlv
	content  io.Reader
}

// envelope reads ContentInfo { enveloped-data, [0] EnvelopedData {
// version, originatorInfo?, recipientInfos, EncryptedContentInfo {
// contentType, contentEncryptionAlgorithm, [0] encryptedContent } } } up to
// the encrypted content, which it returns as a stream.
func (d *derReader) envelope() (*streamed, error) {
	if err := d.expect(0x30); err != nil { // ContentInfo
		return nil, err
	}
	ct, err := d.tlv(0x06, 64)
	if err != nil {
		return nil, err
	}
	oid, err := oidOf(ct)
	if err != nil {
		return nil, err
	}
	if oid.Equal(oidAuthEnveloped) {
		return nil, errAuthEnveloped
	}
	if !oid.Equal(oidEnvelopedData) {
		return nil, fmt.Errorf("content type %s is not enveloped-data or authenticated-enveloped-data", oid)
	}
	for _, t := range []byte{0xa0, 0x30} { // [0] EXPLICIT, EnvelopedData
		if err := d.expect(t); err != nil {
			return nil, err
		}
	}
	if _, err := d.tlv(0x02, 16); err != nil { // version
		return nil, err
	}
	next, err := d.r.Peek(1)
	if err != nil {
		return nil, err
	}
	if next[0] == 0xa0 { // originatorInfo: certificates and CRLs of the originator, unused
		if _, err := d.tlv(0xa0, maxHead); err != nil {
			return nil, err
		}
	}
	s := &streamed{}
	if s.ris, err = d.tlv(0x31, maxHead); err != nil {
		return nil, fmt.Errorf("recipientInfos: %w", err)
	}
	if err := d.expect(0x30); err != nil { // EncryptedContentInfo
		return nil, err
	}
	if _, err := d.tlv(0x06, 64); err != nil {
		return nil, err
	}
	if s.alg, err = d.tlv(0x30, 4096); err != nil {
		return nil, fmt.Errorf("the content encryption algorithm: %w", err)
	}
	tag, l, err := d.header()
	if err != nil {
		return nil, err
	}
	switch tag {
	case 0x80: // primitive [0] IMPLICIT OCTET STRING
		if l < 0 {
			return nil, fmt.Errorf("%w: indefinite length on a primitive value", errBER)
		}
		s.content = &octetStream{d: d, left: l, last: true}
	case 0xa0: // constructed: OCTET STRING chunks
		end := int64(-1)
		if l >= 0 {
			end = d.n + l
		}
		s.content = &octetStream{d: d, end: end}
	default:
		return nil, errors.New("the encrypted content is detached or not an OCTET STRING")
	}
	return s, nil
}

func (d *derReader) byte() (byte, error) {
	b, err := d.r.ReadByte()
	if err == io.EOF {
		err = fmt.Errorf("%w: truncated", errBER)
	}
	if err == nil {
		d.n++
	}
	return b, err
}

// header reads an identifier and a length (-1: indefinite).
func (d *derReader) header() (byte, int64, error) {
	tag, err := d.byte()
	if err != nil {
		return 0, 0, err
	}
	if tag&0x1f == 0x1f {
		return 0, 0, fmt.Errorf("%w: high tag numbers are not used in CMS", errBER)
	}
	lb, err := d.byte()
	if err != nil {
		return 0, 0, err
	}
	switch {
	case lb < 0x80:
		return tag, int64(lb), nil
	case lb == 0x80:
		if tag&0x20 == 0 {
			return 0, 0, fmt.Errorf("%w: indefinite length on a primitive value", errBER)
		}
		return tag, -1, nil
	}
	k := int(lb & 0x7f)
	if k > 5 {
		return 0, 0, fmt.Errorf("%w: bad length", errBER)
	}
	var l int64
	for range k {
		b, err := d.byte()
		if err != nil {
			return 0, 0, err
		}
		l = l<<8 | int64(b)
	}
	return tag, l, nil
}

// expect reads the header of a constructed value with tag want.
func (d *derReader) expect(want byte) error {
	tag, _, err := d.header()
	if err != nil {
		return err
	}
	if tag != want {
		return fmt.Errorf("%w: tag %#x where %#x was expected", errBER, tag, want)
	}
	return nil
}

// tlv reads one whole value with tag want, at most max bytes.
func (d *derReader) tlv(want byte, max int64) (tlv, error) {
	b, err := d.value(max, 0)
	if err != nil {
		return tlv{}, err
	}
	t, _, err := parseTLV(b, 0)
	if err != nil {
		return tlv{}, err
	}
	if t.tag != want {
		return tlv{}, fmt.Errorf("%w: tag %#x where %#x was expected", errBER, t.tag, want)
	}
	return t, nil
}

// value reads one value as it came, header to end (an indefinite
// length's children and end-of-contents included).
func (d *derReader) value(max int64, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", errBER, maxDepth)
	}
	start := d.n
	tag, l, err := d.header()
	if err != nil {
		return nil, err
	}
	hdr := derHeader(tag, 0) // rebuilt below with the length as it came
	if l >= 0 {
		hl := d.n - start
		if l > max-hl {
			return nil, fmt.Errorf("%w: a value of %d bytes where at most %d fit", errBER, l, max)
		}
		out := make([]byte, hl+l)
		copy(out, lengthAs(tag, l, int(hl)))
		if _, err := io.ReadFull(d.r, out[hl:]); err != nil {
			return nil, fmt.Errorf("%w: truncated", errBER)
		}
		d.n += l
		return out, nil
	}
	out := append(hdr[:1], 0x80)
	for {
		c, err := d.value(max-int64(len(out)), depth+1)
		if err != nil {
			return nil, err
		}
		out = append(out, c...)
		if len(c) == 2 && c[0] == 0 && c[1] == 0 {
			return out, nil
		}
	}
}

// lengthAs re-encodes an identifier and a definite length in the hl bytes
// the sender used (long forms with leading zeros included).
func lengthAs(tag byte, l int64, hl int) []byte {
	h := make([]byte, hl)
	h[0] = tag
	if hl == 2 {
		h[1] = byte(l)
		return h
	}
	h[1] = 0x80 | byte(hl-2)
	for i := hl - 1; i >= 2; i-- {
		h[i], l = byte(l), l>>8
	}
	return h
}

// octetStream reads the octets of the encrypted content: one primitive
// value (last), or the primitive chunks of a constructed one up to its end
// (definite) or its end-of-contents (end -1).
type octetStream struct {
	d    *derReader
	left int64
	end  int64
	last bool
	done bool
}

func (o *octetStream) Read(p []byte) (int, error) {
	for o.left == 0 {
		if o.done || o.last {
			return 0, io.EOF
		}
		if o.end >= 0 && o.d.n >= o.end {
			o.done = true
			continue
		}
		tag, l, err := o.d.header()
		if err != nil {
			return 0, err
		}
		if tag == 0 && l == 0 && o.end < 0 {
			o.done = true
			continue
		}
		if tag != 0x04 || l < 0 {
			return 0, errors.New("a chunk of the encrypted content is not a primitive OCTET STRING")
		}
		o.left = l
	}
	n, err := o.d.r.Read(p[:min(int64(len(p)), o.left)])
	o.d.n += int64(n)
	o.left -= int64(n)
	if err == io.EOF && o.left > 0 {
		err = fmt.Errorf("%w: truncated", errBER)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}
