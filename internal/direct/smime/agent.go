package smime

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"io"
	"net/mail"
	"os"
	"slices"
	"strings"

	"github.com/smallstep/pkcs7"

	"github.com/tern-xmpp/tern/internal/direct/trust"
)

// Digest is the signature's message digest.
type Digest string

const (
	SHA256 Digest = "sha-256"
	SHA384 Digest = "sha-384"
	SHA512 Digest = "sha-512"
)

func (d Digest) oid() (asn1.ObjectIdentifier, error) {
	switch d {
	case SHA256, "":
		return pkcs7.OIDDigestAlgorithmSHA256, nil
	case SHA384:
		return pkcs7.OIDDigestAlgorithmSHA384, nil
	case SHA512:
		return pkcs7.OIDDigestAlgorithmSHA512, nil
	}
	return nil, fmt.Errorf("digest %q: use %s, %s or %s", d, SHA256, SHA384, SHA512)
}

// Signer is a certificate allowed to sign, its key and the intermediates
// to send with it (leaf's issuer first).
type Signer struct {
	Cert  *x509.Certificate
	Key   crypto.Signer
	Chain []*x509.Certificate
}

// Options choose the algorithms of a sent message; zero values are the
// Direct defaults every AS 1.2 receiver reads: SHA-256, AES-128-CBC, RSA
// PKCS#1 v1.5 key transport.
type Options struct {
	Digest       Digest
	Cipher       Cipher
	KeyTransport KeyTransport
}

// Seal signs and encrypts msg as the Applicability Statement has it: the
// RFC 5322 message wrapped as message/rfc822, signed (multipart/signed,
// detached SignedData with the signer's chain), then enveloped to every
// recipient certificate; the outer headers repeat From, To, Date,
// Message-ID and Subject. It returns the message to transmit, CRLF.
func Seal(msg *Message, s Signer, recipients []*x509.Certificate, o Options) ([]byte, error) {
	inner, err := msg.Bytes()
	if err != nil {
		return nil, err
	}
	signed, err := SignEntity(append([]byte("Content-Type: message/rfc822"+crlf+crlf), inner...), s, o.Digest)
	if err != nil {
		return nil, err
	}
	der, err := Encrypt(signed, recipients, o.Cipher, o.KeyTransport)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Grow(base64Len(len(der)) + 1024)
	b.Write(outerHeaders(inner))
	b.WriteString("MIME-Version: 1.0" + crlf)
	st := "enveloped-data"
	if o.Cipher == AES128GCM || o.Cipher == AES256GCM {
		st = "authEnveloped-data" // RFC 8551 §3.2.2
	}
	b.WriteString("Content-Type: application/pkcs7-mime; smime-type=" + st + "; name=\"smime.p7m\"" + crlf)
	b.WriteString("Content-Transfer-Encoding: base64" + crlf)
	b.WriteString("Content-Disposition: attachment; filename=\"smime.p7m\"" + crlf + crlf)
	writeBase64(&b, der)
	return b.Bytes(), nil
}

// outerHeaders copies the inner message's addressing headers (RFC 5751
// §3.1: the outer ones may be checked against the inner).
func outerHeaders(inner []byte) []byte {
	var b bytes.Buffer
	m, err := mail.ReadMessage(bytes.NewReader(inner))
	if err != nil {
		return nil
	}
	for _, k := range []string{"From", "To", "Date", "Message-ID", "Subject"} {
		if v := m.Header.Get(k); v != "" {
			b.WriteString(k + ": " + v + crlf)
		}
	}
	return b.Bytes()
}

// SignEntity signs a MIME entity (headers, empty line, body, CRLF) and
// returns the multipart/signed entity holding it and its detached
// signature (RFC 5751 §3.5.3).
func SignEntity(ent []byte, s Signer, d Digest) ([]byte, error) {
	if s.Cert == nil || s.Key == nil {
		return nil, errors.New("no signing certificate and key")
	}
	oid, err := d.oid()
	if err != nil {
		return nil, err
	}
	if d == "" {
		d = SHA256
	}
	if !bytes.HasSuffix(ent, []byte(crlf)) {
		// The line break before the delimiter belongs to the delimiter: the
		// entity must end with its own for the signed bytes to be the part's.
		ent = append(ent[:len(ent):len(ent)], crlf...)
	}
	sd, err := pkcs7.NewSignedData(ent)
	if err != nil {
		return nil, err
	}
	sd.SetDigestAlgorithm(oid)
	if err := sd.AddSignerChain(s.Cert, s.Key, s.Chain, pkcs7.SignerInfoConfig{}); err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	sd.Detach()
	sig, err := sd.Finish()
	if err != nil {
		return nil, err
	}
	head, tail := signedAround(d, sig)
	return cat(head, ent, tail), nil
}

// signedAround is what a multipart/signed entity (RFC 5751 §3.5) puts
// before the signed part and after it: the headers and first delimiter;
// the signature part (base64 of sig) and the close delimiter.
func signedAround(d Digest, sig []byte) (head, tail []byte) {
	bd := boundary("signed-")
	head = []byte("Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; micalg=" + string(orDefault(d)) +
		"; boundary=\"" + bd + "\"" + crlf + crlf + "--" + bd + crlf)
	var t bytes.Buffer
	t.Grow(base64Len(len(sig)) + 256)
	t.WriteString(crlf + "--" + bd + crlf)
	t.WriteString("Content-Type: application/pkcs7-signature; name=\"smime.p7s\"" + crlf)
	t.WriteString("Content-Transfer-Encoding: base64" + crlf)
	t.WriteString("Content-Disposition: attachment; filename=\"smime.p7s\"" + crlf + crlf)
	writeBase64(&t, sig)
	t.WriteString(crlf + "--" + bd + "--" + crlf)
	return head, t.Bytes()
}

// Rule names why a received message was refused.
type Rule string

const (
	RuleMalformed      Rule = "malformed"
	RuleNotEncrypted   Rule = "not-encrypted"
	RuleNotForUs       Rule = "no-recipient"
	RuleDecryptFailed  Rule = "decrypt-failed"
	RuleWeakEncryption Rule = "weak-encryption"
	RuleNotSigned      Rule = "not-signed"
	RuleWeakDigest     Rule = "weak-digest"
	RuleWeakKey        Rule = "weak-key"
	RuleBadSignature   Rule = "bad-signature"
	RuleUntrusted      Rule = "untrusted"
	RuleExpired        Rule = "expired"
	RuleNotYetValid    Rule = "not-yet-valid"
	RuleRevoked        Rule = "revoked"
	RuleBinding        Rule = "binding-mismatch"
	RuleKeyUsage       Rule = "key-usage"
	RuleHeaderMismatch Rule = "header-mismatch"
)

// Rejection is a refused message: the rule and what broke it.
type Rejection struct {
	Rule   Rule
	Detail string
	// Unauthenticated: it came after an AES-CBC decryption and before the
	// signature held, so it says something of a plaintext nobody vouched
	// for. Told to a remote sender, such rules would be a padding oracle:
	// tell them all as one (decrypt-failed, no detail).
	Unauthenticated bool
}

func (r *Rejection) Error() string { return string(r.Rule) + ": " + r.Detail }

func reject(rule Rule, format string, a ...any) *Rejection {
	return &Rejection{Rule: rule, Detail: fmt.Sprintf(format, a...)}
}

// Recipient is a certificate and key the receiver decrypts with.
type Recipient struct {
	Cert *x509.Certificate
	Key  crypto.PrivateKey
}

// Verifier checks the signer's chain for the sender's address (trust.Validator.ValidateFor
// with PurposeVerify, for the receiving domain's circles).
type Verifier func(ctx context.Context, sender string, chain []*x509.Certificate) (*trust.Result, error)

// Opened is an accepted message.
type Opened struct {
	Message []byte // the RFC 5322 message that was signed (the inner one when wrapped)
	Wrapped bool
	From    string
	// MessageID is the signed inner Message-ID when wrapped, else the
	// outer one; "" when there is none. Checked: <...>, printable, no CR/LF.
	MessageID string
	Signer    *x509.Certificate
	Trust     *trust.Result
	Cipher    string
	Digest    string

	// Opened from a file (OpenFile): Message is nil, the message is in
	// a temporary file under dir, read through Reader until Close.
	content *io.SectionReader
	file    *os.File
	dir     string
}

// Reader reads the RFC 5322 message that was signed.
func (op *Opened) Reader() io.Reader {
	if op.content != nil {
		return io.NewSectionReader(op.content, 0, op.content.Size())
	}
	return bytes.NewReader(op.Message)
}

// Size is the length of the signed message.
func (op *Opened) Size() int64 {
	if op.content != nil {
		return op.content.Size()
	}
	return int64(len(op.Message))
}

// Dir is a temporary directory that lives as long as the message (for
// what is taken out of it: its documents), "" when it was opened in memory.
func (op *Opened) Dir() string { return op.dir }

// Close removes what OpenFile kept on disk; a no-op for Open.
func (op *Opened) Close() error {
	if op.file != nil {
		op.file.Close()
	}
	if op.dir != "" {
		return os.RemoveAll(op.dir)
	}
	return nil
}

// Open runs the receive path on a message as it arrived: decrypt with one
// of the recipient's certificates, verify the signature over the exact
// signed bytes, check the algorithms and the signer's key, have verify
// check the signer's trust for the sender, and compare the inner headers
// with the outer. An error is a *Rejection naming the rule.
func Open(ctx context.Context, raw []byte, rcpts []Recipient, verify Verifier) (op *Opened, err error) {
	decrypted, authenticated := false, false
	defer func() {
		if rej, ok := err.(*Rejection); ok && decrypted && !authenticated {
			rej.Unauthenticated = true
		}
	}()
	outer, err := parseEntity(raw)
	if err != nil {
		return nil, reject(RuleMalformed, "%v", err)
	}
	if err := checkOuter(outer.header); err != nil {
		return nil, err
	}
	der, err := outer.decodedBody()
	if err != nil {
		return nil, reject(RuleMalformed, "%v", err)
	}
	env, err := InspectEnvelope(der)
	if err != nil {
		return nil, reject(RuleMalformed, "the enveloped data: %v", err)
	}
	if err := checkCipher(env); err != nil {
		return nil, err
	}
	var plain []byte
	var lastErr error
	for _, r := range rcpts {
		if plain, lastErr = Decrypt(der, r.Cert, r.Key); lastErr == nil {
			break
		}
	}
	if plain == nil {
		if lastErr == nil || strings.Contains(lastErr.Error(), "no enveloped recipient") {
			return nil, reject(RuleNotForUs, "encrypted to none of the %d certificate(s) given (%d recipient(s) in the message)", len(rcpts), env.Recipients)
		}
		return nil, reject(RuleDecryptFailed, "%v", lastErr)
	}
	decrypted = true
	authenticated = env.Cipher.Equal(oidAES128GCM) || env.Cipher.Equal(oidAES256GCM) // the tag vouched for it
	op = &Opened{Cipher: CipherName(env.Cipher)}
	if err := op.openSigned(ctx, outer.header, bytes.NewReader(plain), verify, &authenticated); err != nil {
		return nil, err
	}
	return op, nil
}

// checkOuter: what arrives must be application/pkcs7-mime enveloped-data.
func checkOuter(h mail.Header) error {
	mt, params := mediaTypeOf(h)
	if (mt != "application/pkcs7-mime" && mt != "application/x-pkcs7-mime") ||
		(params["smime-type"] != "" && !strings.EqualFold(params["smime-type"], "enveloped-data") && !strings.EqualFold(params["smime-type"], "authEnveloped-data")) {
		return reject(RuleNotEncrypted, "the message is %s, not application/pkcs7-mime enveloped-data", mt)
	}
	return nil
}

func signerCert(p7 *pkcs7.PKCS7, serial string, issuer []byte) *x509.Certificate {
	for _, c := range p7.Certificates {
		if c.SerialNumber.String() == serial && bytes.Equal(c.RawIssuer, issuer) {
			return c
		}
	}
	return nil
}

func others(all []*x509.Certificate, not *x509.Certificate) []*x509.Certificate {
	var out []*x509.Certificate
	for _, c := range all {
		if !c.Equal(not) {
			out = append(out, c)
		}
	}
	return out
}

// checkCipher refuses what Direct does not allow: DES, 3DES, RC2.
func checkCipher(env *Envelope) error {
	switch {
	case env.Cipher.Equal(oidAES128CBC), env.Cipher.Equal(oidAES256CBC), env.Cipher.Equal(oidAES128GCM), env.Cipher.Equal(oidAES256GCM):
	case env.Cipher.Equal(oidDESCBC), env.Cipher.Equal(oidDESEDE3CBC), env.Cipher.Equal(oidRC2CBC):
		return reject(RuleWeakEncryption, "the content is encrypted with %s; Direct requires AES", CipherName(env.Cipher))
	default:
		return reject(RuleWeakEncryption, "content encryption %s is not supported (AES-128/256-CBC are)", CipherName(env.Cipher))
	}
	for _, kt := range env.KeyTransports {
		if !kt.Equal(oidRSA) && !kt.Equal(oidRSAOAEP) {
			return reject(RuleWeakEncryption, "key transport %s is not supported (RSA, RSA-OAEP are)", kt)
		}
	}
	return nil
}

func checkDigest(oid asn1.ObjectIdentifier) error {
	switch {
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA256), oid.Equal(pkcs7.OIDDigestAlgorithmSHA384), oid.Equal(pkcs7.OIDDigestAlgorithmSHA512):
		return nil
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA1), oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}):
		return reject(RuleWeakDigest, "the signature's digest is %s; Direct requires SHA-256 or stronger", digestName(oid))
	}
	return reject(RuleWeakDigest, "digest %s is not allowed (SHA-256, SHA-384, SHA-512 are)", oid)
}

// checkSignatureAlgorithm refuses a signature algorithm that names its own
// weak digest (the verifier would use it whatever the digest algorithm
// says) and DSA, which Direct does not allow.
func checkSignatureAlgorithm(oid asn1.ObjectIdentifier) error {
	switch {
	case oid.Equal(pkcs7.OIDEncryptionAlgorithmRSA), oid.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA256),
		oid.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA384), oid.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA512),
		oid.Equal(pkcs7.OIDDigestAlgorithmECDSASHA256), oid.Equal(pkcs7.OIDDigestAlgorithmECDSASHA384),
		oid.Equal(pkcs7.OIDDigestAlgorithmECDSASHA512), oid.Equal(oidECPublicKey),
		oid.Equal(pkcs7.OIDEncryptionAlgorithmECDSAP256), oid.Equal(pkcs7.OIDEncryptionAlgorithmECDSAP384):
		return nil
	case oid.Equal(pkcs7.OIDEncryptionAlgorithmRSASHA1), oid.Equal(pkcs7.OIDDigestAlgorithmECDSASHA1), oid.Equal(pkcs7.OIDDigestAlgorithmDSASHA1):
		return reject(RuleWeakDigest, "the signature algorithm %s uses SHA-1; Direct requires SHA-256 or stronger", oid)
	case oid.Equal(pkcs7.OIDEncryptionAlgorithmRSAMD5):
		return reject(RuleWeakDigest, "the signature algorithm %s uses MD5; Direct requires SHA-256 or stronger", oid)
	}
	return reject(RuleWeakKey, "signature algorithm %s is not allowed (RSA or ECDSA with SHA-256 or stronger are)", oid)
}

// oidECPublicKey (id-ecPublicKey) is what some signers put as the
// signature algorithm of an ECDSA signature.
var oidECPublicKey = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}

func digestName(oid asn1.ObjectIdentifier) string {
	switch {
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA256):
		return "SHA-256"
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA384):
		return "SHA-384"
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA512):
		return "SHA-512"
	case oid.Equal(pkcs7.OIDDigestAlgorithmSHA1):
		return "SHA-1"
	case oid.Equal(asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 5}):
		return "MD5"
	}
	return oid.String()
}

// checkKey refuses RSA keys under 2048 bits and EC curves other than
// P-256 and P-384.
func checkKey(c *x509.Certificate) error {
	switch k := c.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			return reject(RuleWeakKey, "the signer's RSA key has %d bits; Direct requires 2048 at least", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if n := k.Curve.Params().Name; n != "P-256" && n != "P-384" {
			return reject(RuleWeakKey, "the signer's EC key is on %s; P-256 and P-384 are allowed", n)
		}
	default:
		return reject(RuleWeakKey, "the signer's key type %T is not allowed", c.PublicKey)
	}
	return nil
}

// compareHeaders: a wrapped message's outer From and To must say what the
// signed inner ones say (RFC 5751 §3.1; the Direct RI's tamper policy).
// CheckMessageID returns a Message-ID that is safe to copy into a header
// or a log line: an RFC 5322 msg-id, "<" printable ASCII without spaces ">".
func CheckMessageID(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	ok := len(v) >= 3 && len(v) <= 250 && v[0] == '<' && v[len(v)-1] == '>' && strings.Contains(v, "@")
	for i := 1; ok && i < len(v)-1; i++ {
		ok = v[i] > ' ' && v[i] < 0x7f && v[i] != '<' && v[i] != '>'
	}
	if !ok {
		return "", reject(RuleMalformed, "the Message-ID %q is not <id@domain> in printable ASCII", v)
	}
	return v, nil
}

func compareHeaders(outer, inner mail.Header) error {
	for _, k := range []string{"From", "To"} {
		o, i := addrSet(outer.Get(k)), addrSet(inner.Get(k))
		if o == "" {
			continue // absent outside: nothing claims otherwise
		}
		if o != i {
			return reject(RuleHeaderMismatch, "outer %s %q is not the signed %s %q", k, o, k, i)
		}
	}
	return nil
}

func addrSet(v string) string {
	if strings.TrimSpace(v) == "" {
		return ""
	}
	l, err := mail.ParseAddressList(v)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(v))
	}
	var out []string
	for _, a := range l {
		out = append(out, strings.ToLower(a.Address))
	}
	slices.Sort(out)
	return strings.Join(out, ",")
}

// trustRule maps a validation's reason to the rule named to the sender.
func trustRule(r trust.Reason) Rule {
	switch r {
	case trust.ReasonExpired, trust.ReasonChainExpired:
		return RuleExpired
	case trust.ReasonNotYetValid:
		return RuleNotYetValid
	case trust.ReasonRevoked:
		return RuleRevoked
	case trust.ReasonSANMismatch:
		return RuleBinding
	case trust.ReasonBadUsage:
		return RuleKeyUsage
	}
	return RuleUntrusted
}
