package smime

import (
	"bytes"
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	_ "crypto/sha1" // OAEP may name SHA-1 (its default)
	"crypto/sha256"
	_ "crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// AuthEnvelopedData with AES-GCM (RFC 5083, RFC 5084), which the Direct
// Applicability Statement 1.3 allows and smallstep/pkcs7 does not read:
// the content encrypted and authenticated under a fresh key sent by RSA
// key transport, the GCM tag in 'mac'.

// AES-GCM content encryption for Seal (AuthEnvelopedData).
const (
	AES128GCM Cipher = "aes128-gcm"
	AES256GCM Cipher = "aes256-gcm"
)

type gcmParams struct {
	Nonce  []byte
	ICVLen int `asn1:"optional,default:12"`
}

// encryptGCM makes a CMS AuthEnvelopedData (DER) of content for every
// recipient: AES-GCM with a 12-byte nonce and a 16-byte tag, no
// authenticated attributes.
func encryptGCM(content []byte, recipients []*x509.Certificate, c Cipher, kt KeyTransport) ([]byte, error) {
	keyLen, oid := 16, oidAES128GCM
	if c == AES256GCM {
		keyLen, oid = 32, oidAES256GCM
	}
	key, nonce := make([]byte, keyLen), make([]byte, 12)
	rand.Read(key)
	rand.Read(nonce)
	var ris []byte
	for _, r := range recipients {
		ri, err := recipientInfo(r, key, kt)
		if err != nil {
			return nil, err
		}
		ris = append(ris, ri...)
	}
	block, _ := aes.NewCipher(key)
	gcm, _ := cipher.NewGCMWithTagSize(block, 16)
	sealed := gcm.Seal(nil, nonce, content, nil)
	ct, tag := sealed[:len(content)], sealed[len(content):]
	params, _ := asn1.Marshal(gcmParams{Nonce: nonce, ICVLen: 16})
	alg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oid, Parameters: asn1.RawValue{FullBytes: params}})
	dataOID, _ := asn1.Marshal(oidData)
	ctInfo := cat(dataOID, alg, derHeader(0x80, len(ct)), ct)
	mac, _ := asn1.Marshal(tag)
	body := cat([]byte{0x02, 0x01, 0x00}, derHeader(0x31, len(ris)), ris, derHeader(0x30, len(ctInfo)), ctInfo, mac)
	aed := cat(derHeader(0x30, len(body)), body)
	ctype, _ := asn1.Marshal(oidAuthEnveloped)
	inner := cat(ctype, derHeader(0xa0, len(aed)), aed)
	return cat(derHeader(0x30, len(inner)), inner), nil
}

func cat(parts ...[]byte) []byte {
	n := 0
	for _, p := range parts {
		n += len(p)
	}
	out := make([]byte, 0, n)
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// openEnvelope opens a CMS EnvelopedData (AES-CBC) or AuthEnvelopedData
// (AES-GCM), BER or DER, for the recipient's certificate and key: RSA key
// transport (PKCS#1 v1.5, OAEP) or ECDH key agreement (RFC 5753).
func openEnvelope(b []byte, cert *x509.Certificate, key crypto.PrivateKey) ([]byte, error) {
	env, err := envelopeFields(b)
	if err != nil {
		return nil, err
	}
	auth, f, i := env.auth, env.fields, env.ris
	ris, eci := f[i], f[i+1]
	var aad, tag []byte
	if auth {
		j := i + 2
		if j < len(f) && f[j].tag == 0xa1 { // authAttrs: authenticated as their DER SET OF (RFC 5083 §2.2)
			aad = append([]byte{0x31}, f[j].full[1:]...)
			j++
		}
		if j >= len(f) || f[j].tag != 0x04 {
			return nil, errors.New("authenticated-enveloped-data: no mac")
		}
		if tag, err = octets(f[j]); err != nil {
			return nil, err
		}
	}
	ef, err := children(eci.full, 0x30)
	if err != nil || len(ef) < 3 {
		return nil, errors.New("enveloped-data: no encrypted content")
	}
	alg, err := children(ef[1].full, 0x30)
	if err != nil || len(alg) != 2 {
		return nil, errors.New("the content encryption algorithm has no parameters")
	}
	oid, _ := oidOf(alg[0])
	keyLen := 0
	switch {
	case oid.Equal(oidAES128CBC), oid.Equal(oidAES128GCM):
		keyLen = 16
	case oid.Equal(oidAES256CBC), oid.Equal(oidAES256GCM):
		keyLen = 32
	}
	gcmAlg := oid.Equal(oidAES128GCM) || oid.Equal(oidAES256GCM)
	if keyLen == 0 || gcmAlg != auth {
		return nil, fmt.Errorf("content encryption %s is not supported here (AES-128/256-CBC in enveloped-data, AES-128/256-GCM in authenticated-enveloped-data are)", CipherName(oid))
	}
	if ef[2].tag != 0x80 && ef[2].tag != 0xa0 {
		return nil, errors.New("enveloped-data: the encrypted content is detached")
	}
	ct, err := octets(ef[2])
	if err != nil {
		return nil, err
	}
	cek, err := recipientKey(ris, cert, key, keyLen)
	if err != nil {
		return nil, err
	}
	block, _ := aes.NewCipher(cek)
	if !auth {
		iv := alg[1].content
		if alg[1].tag != 0x04 || len(iv) != aes.BlockSize || len(ct) == 0 || len(ct)%aes.BlockSize != 0 {
			return nil, errors.New("AES-CBC: a bad IV or a content that is no whole number of blocks")
		}
		plain := make([]byte, len(ct))
		cipher.NewCBCDecrypter(block, iv).CryptBlocks(plain, ct)
		pad := int(plain[len(plain)-1])
		if pad == 0 || pad > aes.BlockSize || pad > len(plain) {
			return nil, errors.New("AES-CBC: bad padding (not for this key, or changed)")
		}
		for _, p := range plain[len(plain)-pad:] {
			if int(p) != pad {
				return nil, errors.New("AES-CBC: bad padding (not for this key, or changed)")
			}
		}
		return plain[:len(plain)-pad], nil
	}
	var gp gcmParams
	if rest, err := asn1.Unmarshal(alg[1].full, &gp); err != nil || len(rest) > 0 || len(gp.Nonce) == 0 || gp.ICVLen < 12 || gp.ICVLen > 16 || len(tag) != gp.ICVLen {
		return nil, fmt.Errorf("GCM parameters: nonce of %d bytes, tag of %d (want %d, 12 to 16): %v", len(gp.Nonce), len(tag), gp.ICVLen, err)
	}
	var gcm cipher.AEAD
	if len(gp.Nonce) == 12 {
		gcm, err = cipher.NewGCMWithTagSize(block, gp.ICVLen)
	} else if gp.ICVLen == 16 {
		gcm, err = cipher.NewGCMWithNonceSize(block, len(gp.Nonce))
	} else {
		err = errors.New("GCM: a nonce other than 12 bytes with a short tag")
	}
	if err != nil {
		return nil, err
	}
	sealed := append(append(make([]byte, 0, len(ct)+len(tag)), ct...), tag...) // not into the caller's DER
	plain, err := gcm.Open(nil, gp.Nonce, sealed, aad)
	if err != nil {
		return nil, errors.New("the AES-GCM content does not authenticate (changed, or not for this key)")
	}
	return plain, nil
}

// octets is the contents of an OCTET STRING, primitive or (BER)
// constructed of primitive chunks.
func octets(t tlv) ([]byte, error) {
	if t.tag&0x20 == 0 {
		return t.content, nil
	}
	chunks, err := children(t.full, t.tag)
	if err != nil {
		return nil, err
	}
	var out []byte
	for _, c := range chunks {
		if c.tag != 0x04 {
			return nil, fmt.Errorf("%w: a chunk of a constructed OCTET STRING is not one", errBER)
		}
		out = append(out, c.content...)
	}
	return out, nil
}

// recipientKey finds the recipientInfo for cert and unwraps the content
// key with key: key transport for RSA, key agreement for EC. A PKCS#1
// v1.5 failure yields a random key (RFC 3218 §2.3.2), so it shows as the
// content failing to decrypt, not as an oracle.
func recipientKey(ris tlv, cert *x509.Certificate, key crypto.PrivateKey, keyLen int) ([]byte, error) {
	list, err := children(ris.full, 0x31)
	if err != nil {
		return nil, err
	}
	for _, ri := range list {
		switch ri.tag {
		case 0x30: // KeyTransRecipientInfo
			priv, ok := key.(*rsa.PrivateKey)
			f, err := children(ri.full, 0x30)
			if !ok || err != nil || len(f) != 4 || f[3].tag != 0x04 || !forCert(f[1], cert) {
				continue
			}
			return transportedKey(f, priv, keyLen)
		case 0xa1: // [1] KeyAgreeRecipientInfo
			priv, ok := key.(*ecdsa.PrivateKey)
			if !ok {
				continue
			}
			cek, found, err := agreedKey(ri, cert, priv, keyLen)
			if found {
				return cek, err
			}
		}
	}
	return nil, errors.New("pkcs7: no enveloped recipient for provided certificate")
}

func transportedKey(f []tlv, priv *rsa.PrivateKey, keyLen int) ([]byte, error) {
	alg, err := children(f[2].full, 0x30)
	if err != nil || len(alg) == 0 {
		return nil, errors.New("a recipientInfo's algorithm does not parse")
	}
	oid, _ := oidOf(alg[0])
	switch {
	case oid.Equal(oidRSA):
		// On bad padding the key stays the substitute, derived from the
		// encrypted key (the same each time: no oracle across retries).
		cek := substituteKey(f[3].content, keyLen)
		if err := rsa.DecryptPKCS1v15SessionKey(nil, priv, f[3].content, cek); err != nil {
			return nil, err
		}
		return cek, nil
	case oid.Equal(oidRSAOAEP):
		h, mgf, err := oaepHashes(alg)
		if err != nil {
			return nil, err
		}
		cek, err := priv.Decrypt(nil, f[3].content, &rsa.OAEPOptions{Hash: h, MGFHash: mgf})
		if err != nil || len(cek) != keyLen {
			return nil, errors.New("the content key does not decrypt with this key")
		}
		return cek, nil
	}
	return nil, fmt.Errorf("key transport %s is not supported (RSA, RSA-OAEP are)", oid)
}

// forCert: the recipient identifier names cert (issuerAndSerialNumber, or
// [0] subjectKeyIdentifier).
func forCert(rid tlv, cert *x509.Certificate) bool {
	if rid.tag == 0x80 {
		return len(cert.SubjectKeyId) > 0 && bytes.Equal(rid.content, cert.SubjectKeyId)
	}
	var ias struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	if _, err := asn1.Unmarshal(rid.full, &ias); err != nil {
		return false
	}
	return bytes.Equal(ias.Issuer.FullBytes, cert.RawIssuer) && ias.Serial.Cmp(cert.SerialNumber) == 0
}

// oaepHashes reads RSAES-OAEP-params (RFC 4055 §4.1; SHA-1 and MGF1-SHA-1
// when absent).
func oaepHashes(alg []tlv) (crypto.Hash, crypto.Hash, error) {
	h, mgf := crypto.SHA1, crypto.SHA1
	if len(alg) < 2 || alg[1].tag == 0x05 {
		return h, mgf, nil
	}
	var p struct {
		Hash pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:0"`
		MGF  pkix.AlgorithmIdentifier `asn1:"optional,explicit,tag:1"`
	}
	if _, err := asn1.Unmarshal(alg[1].full, &p); err != nil {
		return 0, 0, fmt.Errorf("RSAES-OAEP parameters: %v", err)
	}
	var err error
	if p.Hash.Algorithm != nil {
		if h, err = hashOf(p.Hash.Algorithm); err != nil {
			return 0, 0, err
		}
	}
	if p.MGF.Algorithm != nil {
		var inner pkix.AlgorithmIdentifier
		if _, err := asn1.Unmarshal(p.MGF.Parameters.FullBytes, &inner); err != nil || !p.MGF.Algorithm.Equal(oidMGF1) {
			return 0, 0, errors.New("RSAES-OAEP: the mask generation function is not MGF1")
		}
		if mgf, err = hashOf(inner.Algorithm); err != nil {
			return 0, 0, err
		}
	}
	return h, mgf, nil
}

func hashOf(oid asn1.ObjectIdentifier) (crypto.Hash, error) {
	for h, o := range map[crypto.Hash]asn1.ObjectIdentifier{
		crypto.SHA1: {1, 3, 14, 3, 2, 26}, crypto.SHA256: oidSHA256,
		crypto.SHA384: {2, 16, 840, 1, 101, 3, 4, 2, 2}, crypto.SHA512: {2, 16, 840, 1, 101, 3, 4, 2, 3},
	} {
		if oid.Equal(o) {
			return h, nil
		}
	}
	return 0, fmt.Errorf("RSAES-OAEP hash %s is not supported", oid)
}

// substituteSecret keys the substitute content keys of this process.
var substituteSecret = func() []byte { b := make([]byte, 32); rand.Read(b); return b }()

// substituteKey is the content key a PKCS#1 v1.5 failure leaves (RFC 3218
// §2.3.2): HMAC of the encrypted key, so the same ciphertext always
// decrypts to the same garbage.
func substituteKey(encryptedKey []byte, n int) []byte {
	m := hmac.New(sha256.New, substituteSecret)
	m.Write(encryptedKey)
	return m.Sum(nil)[:n]
}
