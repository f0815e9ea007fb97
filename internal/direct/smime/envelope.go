package smime

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Content encryption and key transport choices (RFC 3565, RFC 8017).
type (
	Cipher       string
	KeyTransport string
)

const (
	AES128CBC Cipher = "aes128-cbc"
	AES256CBC Cipher = "aes256-cbc"

	RSAPKCS1 KeyTransport = "rsa"      // PKCS#1 v1.5: every AS 1.2 receiver
	RSAOAEP  KeyTransport = "rsa-oaep" // RSAES-OAEP with SHA-256 and MGF1-SHA-256 (AS 1.3)
)

var (
	oidData          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidEnvelopedData = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 3}
	oidAuthEnveloped = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 23}
	oidAES128CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 2}
	oidAES192CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 22}
	oidAES256CBC     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}
	oidAES128GCM     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 6}
	oidAES256GCM     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 46}
	oidDESCBC        = asn1.ObjectIdentifier{1, 3, 14, 3, 2, 7}
	oidDESEDE3CBC    = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 7}
	oidRC2CBC        = asn1.ObjectIdentifier{1, 2, 840, 113549, 3, 2}
	oidRSA           = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSAOAEP       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 7}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
)

type issuerAndSerial struct {
	Issuer asn1.RawValue
	Serial *big.Int
}

type keyTransRecipient struct {
	Version      int
	Rid          issuerAndSerial
	KeyEncAlg    pkix.AlgorithmIdentifier
	EncryptedKey []byte
}

type oaepParams struct {
	Hash pkix.AlgorithmIdentifier `asn1:"explicit,tag:0"`
	MGF  pkix.AlgorithmIdentifier `asn1:"explicit,tag:1"`
}

// ErrNoRSA: a recipient certificate whose key cannot take RSA key transport.
var ErrNoRSA = errors.New("the certificate's key is neither RSA nor EC (P-256, P-384): nothing to encrypt to")

// Encrypt makes a CMS EnvelopedData (DER) of content for every recipient,
// with a fresh content key: AES-CBC under c, the key sent by RSA key
// transport kt to each certificate (RFC 5652 §6.2.1, issuerAndSerialNumber).
func Encrypt(content []byte, recipients []*x509.Certificate, c Cipher, kt KeyTransport) ([]byte, error) {
	if len(recipients) == 0 {
		return nil, errors.New("no recipient certificate to encrypt to")
	}
	keyLen, oid := 16, oidAES128CBC
	switch c {
	case AES128CBC, "":
	case AES256CBC:
		keyLen, oid = 32, oidAES256CBC
	case AES128GCM, AES256GCM:
		return encryptGCM(content, recipients, c, kt)
	default:
		return nil, fmt.Errorf("content encryption %q: use %s, %s, %s or %s", c, AES128CBC, AES256CBC, AES128GCM, AES256GCM)
	}
	key, iv := make([]byte, keyLen), make([]byte, aes.BlockSize)
	rand.Read(key) // crypto/rand.Read never fails (Go 1.24+)
	rand.Read(iv)
	var ris []byte // the recipientInfos' contents
	for _, r := range recipients {
		ri, err := recipientInfo(r, key, kt)
		if err != nil {
			return nil, err
		}
		ris = append(ris, ri...)
	}
	ivDER, _ := asn1.Marshal(iv)
	alg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: ivDER}})
	dataOID, _ := asn1.Marshal(oidData)
	envOID, _ := asn1.Marshal(oidEnvelopedData)
	version := []byte{0x02, 0x01, 0x00} // INTEGER 0: key transport to issuerAndSerialNumber only
	for _, r := range recipients {
		if _, ok := r.PublicKey.(*ecdsa.PublicKey); ok {
			version[2] = 2 // a key agreement recipient (RFC 5652 §6.1)
		}
	}

	// The whole DER is laid out once and the content encrypted in place:
	// a 50 MB document is not copied through three nested Marshal calls.
	pad := aes.BlockSize - len(content)%aes.BlockSize
	ctLen := len(content) + pad
	ctHdr := derHeader(0x80, ctLen) // [0] IMPLICIT OCTET STRING
	eciLen := len(dataOID) + len(alg) + len(ctHdr) + ctLen
	eciHdr := derHeader(0x30, eciLen)
	risHdr := derHeader(0x31, len(ris))
	envLen := len(version) + len(risHdr) + len(ris) + len(eciHdr) + eciLen
	envHdr := derHeader(0x30, envLen)
	expLen := len(envHdr) + envLen
	expHdr := derHeader(0xa0, expLen)
	ciLen := len(envOID) + len(expHdr) + expLen
	out := make([]byte, 0, len(derHeader(0x30, ciLen))+ciLen)
	for _, part := range [][]byte{derHeader(0x30, ciLen), envOID, expHdr, envHdr, version, risHdr, ris, eciHdr, dataOID, alg, ctHdr} {
		out = append(out, part...)
	}
	ct := out[len(out) : len(out)+ctLen]
	out = out[:len(out)+ctLen]
	copy(ct, content)
	for i := len(content); i < ctLen; i++ {
		ct[i] = byte(pad)
	}
	block, _ := aes.NewCipher(key)
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, ct)
	return out, nil
}

// recipientInfo is the DER RecipientInfo sending key to r: key transport
// (KeyTransRecipientInfo) to an RSA key, key agreement (ECDH, RFC 5753)
// to an EC one.
func recipientInfo(r *x509.Certificate, key []byte, kt KeyTransport) ([]byte, error) {
	if _, ok := r.PublicKey.(*ecdsa.PublicKey); ok {
		return keyAgreeInfo(r, key)
	}
	pub, ok := r.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("recipient %s: %w", r.Subject, ErrNoRSA)
	}
	var ek []byte
	var alg pkix.AlgorithmIdentifier
	var err error
	switch kt {
	case RSAPKCS1, "":
		ek, err = rsa.EncryptPKCS1v15(rand.Reader, pub, key)
		alg = pkix.AlgorithmIdentifier{Algorithm: oidRSA, Parameters: asn1.NullRawValue}
	case RSAOAEP:
		ek, err = rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key, nil)
		sha := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
		shaDER, _ := asn1.Marshal(sha)
		p, _ := asn1.Marshal(oaepParams{Hash: sha, MGF: pkix.AlgorithmIdentifier{Algorithm: oidMGF1, Parameters: asn1.RawValue{FullBytes: shaDER}}})
		alg = pkix.AlgorithmIdentifier{Algorithm: oidRSAOAEP, Parameters: asn1.RawValue{FullBytes: p}}
	default:
		return nil, fmt.Errorf("key transport %q: use %s or %s", kt, RSAPKCS1, RSAOAEP)
	}
	if err != nil {
		return nil, fmt.Errorf("recipient %s: %w", r.Subject, err)
	}
	return asn1.Marshal(keyTransRecipient{Rid: issuerAndSerial{asn1.RawValue{FullBytes: r.RawIssuer}, r.SerialNumber}, KeyEncAlg: alg, EncryptedKey: ek})
}

// derHeader is a DER identifier and definite length (X.690 §8.1.3).
func derHeader(tag byte, n int) []byte {
	if n < 0x80 {
		return []byte{tag, byte(n)}
	}
	var l []byte
	for v := n; v > 0; v >>= 8 {
		l = append([]byte{byte(v)}, l...)
	}
	return append([]byte{tag, 0x80 | byte(len(l))}, l...)
}

// Envelope is what an EnvelopedData says of its algorithms, read before
// any key is used so that a weak one is refused by name.
type Envelope struct {
	Cipher        asn1.ObjectIdentifier
	KeyTransports []asn1.ObjectIdentifier // one per key-transport recipient
	Recipients    int                     // every RecipientInfo, of any kind
}

// CipherName names a content-encryption OID.
func CipherName(oid asn1.ObjectIdentifier) string {
	for _, c := range []struct {
		oid  asn1.ObjectIdentifier
		name string
	}{{oidAES128CBC, "AES-128-CBC"}, {oidAES192CBC, "AES-192-CBC"}, {oidAES256CBC, "AES-256-CBC"}, {oidAES128GCM, "AES-128-GCM"},
		{oidAES256GCM, "AES-256-GCM"}, {oidDESCBC, "DES-CBC"}, {oidDESEDE3CBC, "3DES-CBC"}, {oidRC2CBC, "RC2-CBC"}} {
		if c.oid.Equal(oid) {
			return c.name
		}
	}
	return oid.String()
}

// envelope is the walk into a ContentInfo holding EnvelopedData or
// AuthEnvelopedData: its fields, and where recipientInfos stand (the
// encrypted content info follows).
type envelope struct {
	auth   bool
	fields []tlv
	ris    int
}

func envelopeFields(b []byte) (*envelope, error) {
	ci, err := children(b, 0x30) // ContentInfo
	if err != nil || len(ci) < 2 {
		return nil, fmt.Errorf("not a CMS ContentInfo: %v", err)
	}
	ct, err := oidOf(ci[0])
	if err != nil {
		return nil, err
	}
	if !ct.Equal(oidEnvelopedData) && !ct.Equal(oidAuthEnveloped) {
		return nil, fmt.Errorf("content type %s is not enveloped-data or authenticated-enveloped-data", ct)
	}
	wrapped, err := children(ci[1].full, 0xa0)
	if err != nil || len(wrapped) != 1 {
		return nil, fmt.Errorf("enveloped-data: %v", err)
	}
	ed, err := children(wrapped[0].full, 0x30)
	if err != nil || len(ed) < 3 {
		return nil, fmt.Errorf("enveloped-data: %v", err)
	}
	i := 1
	if ed[i].tag == 0xa0 { // originatorInfo
		i++
	}
	if i+1 >= len(ed) || ed[i].tag != 0x31 || ed[i+1].tag != 0x30 {
		return nil, errors.New("enveloped-data: no recipientInfos or content")
	}
	return &envelope{auth: ct.Equal(oidAuthEnveloped), fields: ed, ris: i}, nil
}

// InspectEnvelope reads the algorithms of a CMS ContentInfo holding
// EnvelopedData, BER or DER (senders stream BER with indefinite lengths).
func InspectEnvelope(b []byte) (*Envelope, error) {
	ef, err := envelopeFields(b)
	if err != nil {
		return nil, err
	}
	ed, i := ef.fields, ef.ris
	eci, err := children(ed[i+1].full, 0x30)
	if err != nil || len(eci) < 2 {
		return nil, fmt.Errorf("encryptedContentInfo: %v", err)
	}
	return envelopeOf(ed[i], eci[1])
}

// envelopeOf reads the algorithms of recipientInfos and of the content
// encryption algorithm identifier.
func envelopeOf(risT, algT tlv) (*Envelope, error) {
	env := &Envelope{}
	ris, err := children(risT.full, 0x31)
	if err != nil {
		return nil, err
	}
	for _, ri := range ris {
		env.Recipients++
		if ri.tag != 0x30 { // kari [1], kekri [2], pwri [3], ori [4]: not key transport
			continue
		}
		f, err := children(ri.full, 0x30)
		if err != nil || len(f) < 4 {
			return nil, fmt.Errorf("a recipientInfo: %v", err)
		}
		alg, err := children(f[2].full, 0x30)
		if err != nil || len(alg) == 0 {
			return nil, fmt.Errorf("a recipientInfo's algorithm: %v", err)
		}
		oid, err := oidOf(alg[0])
		if err != nil {
			return nil, err
		}
		env.KeyTransports = append(env.KeyTransports, oid)
	}
	alg, err := children(algT.full, 0x30)
	if err != nil || len(alg) == 0 {
		return nil, fmt.Errorf("the content encryption algorithm: %v", err)
	}
	if env.Cipher, err = oidOf(alg[0]); err != nil {
		return nil, err
	}
	return env, nil
}

// Decrypt opens a CMS EnvelopedData for the recipient's certificate and key.
func Decrypt(b []byte, cert *x509.Certificate, key crypto.PrivateKey) ([]byte, error) {
	return openEnvelope(b, cert, key)
}
