package smime

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"sort"
	"time"
)

// Sealing without holding the message: SealStream writes what Seal
// writes, for parts that are files (Part.Path), through one temporary file
// (the signed entity, hashed as it is written), with memory bounded by
// buffers whatever the size. AES-CBC only (a GCM tag needs the whole
// content; Go's AEAD does not stream).

// SealStream seals m (parts from Data or Path) for recipients and writes
// the Direct message to w; tmpDir holds the signed entity meanwhile.
// It returns the bytes written.
func SealStream(w io.Writer, m *Message, s Signer, recipients []*x509.Certificate, o Options, tmpDir string) (int64, error) {
	if o.Cipher == AES128GCM || o.Cipher == AES256GCM {
		return 0, errors.New("sealing a large message streams with AES-CBC only: set cipher to aes128-cbc or aes256-cbc")
	}
	if s.Cert == nil || s.Key == nil {
		return 0, errors.New("no signing certificate and key")
	}
	if len(recipients) == 0 {
		return 0, errors.New("no recipient certificate to encrypt to")
	}
	newHash, dOID, err := digestOf(o.Digest)
	if err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(tmpDir, "seal-*")
	if err != nil {
		return 0, err
	}
	defer func() { tmp.Close(); os.Remove(tmp.Name()) }()
	// 1. The entity that is signed: message/rfc822 around the inner message.
	h := newHash()
	bw := bufio.NewWriterSize(io.MultiWriter(tmp, h), 256<<10)
	cw := &countWriter{w: bw}
	io.WriteString(cw, "Content-Type: message/rfc822"+crlf+crlf)
	inner, err := m.stream(cw)
	if err != nil {
		return 0, err
	}
	if err := bw.Flush(); err != nil {
		return 0, err
	}
	entLen := cw.n
	// 2. The detached signature over it.
	sig, err := signDigest(h.Sum(nil), dOID, s)
	if err != nil {
		return 0, fmt.Errorf("signing: %w", err)
	}
	head, tail := signedAround(o.Digest, sig)
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	plain := io.MultiReader(bytes.NewReader(head), io.LimitReader(tmp, entLen), bytes.NewReader(tail))
	plainLen := int64(len(head)) + entLen + int64(len(tail))
	// 3. Encrypted, base64 under the outer headers.
	out := &countWriter{w: w}
	ow := bufio.NewWriterSize(out, 256<<10)
	ow.Write(outerHeaders(inner))
	ow.WriteString("MIME-Version: 1.0" + crlf)
	ow.WriteString("Content-Type: application/pkcs7-mime; smime-type=enveloped-data; name=\"smime.p7m\"" + crlf)
	ow.WriteString("Content-Transfer-Encoding: base64" + crlf)
	ow.WriteString("Content-Disposition: attachment; filename=\"smime.p7m\"" + crlf + crlf)
	lw := &lineWriter{w: ow}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if err := encryptStream(enc, plain, plainLen, recipients, o.Cipher, o.KeyTransport); err != nil {
		return 0, err
	}
	if err := enc.Close(); err != nil {
		return 0, err
	}
	lw.end()
	if err := ow.Flush(); err != nil {
		return 0, err
	}
	return out.n, nil
}

func orDefault(d Digest) Digest {
	if d == "" {
		return SHA256
	}
	return d
}

func digestOf(d Digest) (func() hash.Hash, asn1.ObjectIdentifier, error) {
	oid, err := d.oid()
	if err != nil {
		return nil, nil, err
	}
	switch orDefault(d) {
	case SHA384:
		return sha512.New384, oid, nil
	case SHA512:
		return sha512.New, oid, nil
	}
	return sha256.New, oid, nil
}

type countWriter struct {
	w io.Writer
	n int64
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

var crlfBytes = []byte(crlf)

// lineWriter breaks base64 into 76-character CRLF lines (RFC 2045 §6.8).
type lineWriter struct {
	w   io.Writer
	col int
	err error
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 && l.err == nil {
		k := min(len(p), 76-l.col)
		_, l.err = l.w.Write(p[:k])
		p, l.col = p[k:], l.col+k
		if l.col == 76 {
			_, l.err = l.w.Write(crlfBytes)
			l.col = 0
		}
	}
	return n, l.err
}

func (l *lineWriter) end() {
	if l.col > 0 {
		l.w.Write(crlfBytes)
		l.col = 0
	}
}

// stream writes the message as Bytes does, file parts read as it goes
// (always base64), and returns the header block (for the outer headers).
func (m *Message) stream(w io.Writer) ([]byte, error) {
	small := *m
	var files []Part
	small.Parts = nil
	for _, p := range m.Parts {
		if p.Path == "" {
			small.Parts = append(small.Parts, p)
			continue
		}
		files = append(files, p)
		small.Parts = append(small.Parts, Part{Filename: p.Filename, ContentType: p.ContentType, Data: streamMarker})
	}
	b, err := small.Bytes()
	if err != nil {
		return nil, err
	}
	m.MessageID, m.Date = small.MessageID, small.Date
	hdr := b[:bytes.Index(b, []byte(crlf+crlf))+4]
	// Each marker (base64 in b) is replaced by its file, base64 as it is read.
	marker := base64.StdEncoding.EncodeToString(streamMarker) + crlf
	for _, p := range files {
		i := bytes.Index(b, []byte(marker))
		if i < 0 {
			return nil, errors.New("streaming: a part's place was not found")
		}
		if _, err := w.Write(b[:i]); err != nil {
			return nil, err
		}
		if err := base64File(w, p.Path); err != nil {
			return nil, fmt.Errorf("%s: %w", p.Filename, err)
		}
		b = b[i+len(marker):]
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	return hdr, nil
}

// streamMarker stands for a file part while the message around it is laid out.
var streamMarker = []byte("\x00tern-stream-part\x00")

func base64File(w io.Writer, path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	lw := &lineWriter{w: w}
	enc := base64.NewEncoder(base64.StdEncoding, lw)
	if _, err := io.CopyBuffer(enc, f, make([]byte, 57*1024)); err != nil {
		return err
	}
	if err := enc.Close(); err != nil {
		return err
	}
	lw.end()
	return lw.err
}

// encryptStream writes a CMS EnvelopedData (DER, AES-CBC) of the n bytes
// of plain to w, as Encrypt lays it out, encrypting as it reads.
func encryptStream(w io.Writer, plain io.Reader, n int64, recipients []*x509.Certificate, c Cipher, kt KeyTransport) error {
	keyLen, oid := 16, oidAES128CBC
	if c == AES256CBC {
		keyLen, oid = 32, oidAES256CBC
	}
	key, iv := make([]byte, keyLen), make([]byte, aes.BlockSize)
	rand.Read(key)
	rand.Read(iv)
	var ris []byte
	version := []byte{0x02, 0x01, 0x00}
	for _, r := range recipients {
		ri, err := recipientInfo(r, key, kt)
		if err != nil {
			return err
		}
		if _, ok := r.PublicKey.(*ecdsa.PublicKey); ok {
			version[2] = 2
		}
		ris = append(ris, ri...)
	}
	ivDER, _ := asn1.Marshal(iv)
	alg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: ivDER}})
	dataOID, _ := asn1.Marshal(oidData)
	envOID, _ := asn1.Marshal(oidEnvelopedData)
	pad := aes.BlockSize - int(n%aes.BlockSize)
	ctLen := int(n) + pad
	ctHdr := derHeader(0x80, ctLen)
	eciLen := len(dataOID) + len(alg) + len(ctHdr) + ctLen
	eciHdr := derHeader(0x30, eciLen)
	risHdr := derHeader(0x31, len(ris))
	envLen := len(version) + len(risHdr) + len(ris) + len(eciHdr) + eciLen
	envHdr := derHeader(0x30, envLen)
	expHdr := derHeader(0xa0, len(envHdr)+envLen)
	ciLen := len(envOID) + len(expHdr) + len(envHdr) + envLen
	for _, part := range [][]byte{derHeader(0x30, ciLen), envOID, expHdr, envHdr, version, risHdr, ris, eciHdr, dataOID, alg, ctHdr} {
		if _, err := w.Write(part); err != nil {
			return err
		}
	}
	block, _ := aes.NewCipher(key)
	cbc := cipher.NewCBCEncrypter(block, iv)
	buf := make([]byte, 64<<10)
	var done int64
	for {
		k, err := io.ReadFull(plain, buf)
		done += int64(k)
		if err == io.ErrUnexpectedEOF || err == io.EOF {
			last := buf[:k]
			whole := len(last) - len(last)%aes.BlockSize
			rest := append(append([]byte(nil), last[whole:]...), bytes.Repeat([]byte{byte(pad)}, pad)...)
			last = append(last[:whole], rest...)
			cbc.CryptBlocks(last, last)
			_, werr := w.Write(last)
			if done != n {
				return fmt.Errorf("streaming: %d bytes to encrypt, %d read", n, done)
			}
			return werr
		}
		if err != nil {
			return err
		}
		cbc.CryptBlocks(buf, buf)
		if _, err := w.Write(buf); err != nil {
			return err
		}
	}
}

// signDigest makes a detached CMS SignedData over content whose digest
// (algorithm dOID) is given (RFC 5652 §5): signed attributes content-type,
// signing-time and message-digest, the signer's chain in certificates.
func signDigest(digest []byte, dOID asn1.ObjectIdentifier, s Signer) ([]byte, error) {
	now := time.Now().UTC()
	attr := func(oid asn1.ObjectIdentifier, v any) []byte {
		val, _ := asn1.Marshal(v)
		o, _ := asn1.Marshal(oid)
		set := cat(derHeader(0x31, len(val)), val)
		return cat(derHeader(0x30, len(o)+len(set)), o, set)
	}
	attrs := [][]byte{
		attr(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}, oidData),
		attr(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 5}, now),
		attr(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}, digest),
	}
	sort.Slice(attrs, func(i, j int) bool { return bytes.Compare(attrs[i], attrs[j]) < 0 }) // DER SET OF order
	body := cat(attrs...)
	signedSet := cat(derHeader(0x31, len(body)), body) // what is signed
	var hf crypto.Hash
	switch {
	case dOID.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}):
		hf = crypto.SHA384
	case dOID.Equal(asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}):
		hf = crypto.SHA512
	default:
		hf = crypto.SHA256
	}
	hh := hf.New()
	hh.Write(signedSet)
	var sigAlg asn1.ObjectIdentifier
	var sigParams asn1.RawValue
	switch s.Key.(type) {
	case *rsa.PrivateKey:
		sigAlg, sigParams = oidRSA, asn1.NullRawValue
	case *ecdsa.PrivateKey:
		sigAlg = map[crypto.Hash]asn1.ObjectIdentifier{crypto.SHA256: {1, 2, 840, 10045, 4, 3, 2}, crypto.SHA384: {1, 2, 840, 10045, 4, 3, 3},
			crypto.SHA512: {1, 2, 840, 10045, 4, 3, 4}}[hf]
	default:
		return nil, errors.New("the signing key is neither RSA nor ECDSA")
	}
	sig, err := s.Key.Sign(rand.Reader, hh.Sum(nil), hf)
	if err != nil {
		return nil, err
	}
	digAlg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: dOID, Parameters: asn1.NullRawValue})
	sa := pkix.AlgorithmIdentifier{Algorithm: sigAlg}
	if sigParams.FullBytes != nil {
		sa.Parameters = sigParams
	}
	sigAlgDER, _ := asn1.Marshal(sa)
	sid, _ := asn1.Marshal(issuerAndSerial{asn1.RawValue{FullBytes: s.Cert.RawIssuer}, s.Cert.SerialNumber})
	sigOct, _ := asn1.Marshal(sig)
	signedAttrs := cat(derHeader(0xa0, len(body)), body) // [0] IMPLICIT
	si := cat([]byte{0x02, 0x01, 0x01}, sid, digAlg, signedAttrs, sigAlgDER, sigOct)
	siSeq := cat(derHeader(0x30, len(si)), si)
	var certs []byte
	for _, c := range append([]*x509.Certificate{s.Cert}, s.Chain...) {
		certs = append(certs, c.Raw...)
	}
	dataOID, _ := asn1.Marshal(oidData)
	sdBody := cat([]byte{0x02, 0x01, 0x01}, derHeader(0x31, len(digAlg)), digAlg, derHeader(0x30, len(dataOID)), dataOID,
		derHeader(0xa0, len(certs)), certs, derHeader(0x31, len(siSeq)), siSeq)
	sd := cat(derHeader(0x30, len(sdBody)), sdBody)
	sdOID, _ := asn1.Marshal(asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2})
	ci := cat(sdOID, derHeader(0xa0, len(sd)), sd)
	return cat(derHeader(0x30, len(ci)), ci), nil
}
