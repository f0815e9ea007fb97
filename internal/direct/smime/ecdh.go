package smime

import (
	"crypto/aes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/subtle"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// ECDH key agreement for EC recipient certificates (RFC 5753 §3.1,
// ephemeral-static, "standard" DH): the content key wrapped (RFC 3394
// AES key wrap) under a key derived with the ANSI X9.63 KDF from the
// shared secret and ECC-CMS-SharedInfo.

var (
	oidECPublicKeyAlg = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidStdDHSHA1KDF   = asn1.ObjectIdentifier{1, 3, 133, 16, 840, 63, 0, 2}
	oidStdDHSHA224KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 0}
	oidStdDHSHA256KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 1}
	oidStdDHSHA384KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 2}
	oidStdDHSHA512KDF = asn1.ObjectIdentifier{1, 3, 132, 1, 11, 3}
	oidAES128Wrap     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 5}
	oidAES256Wrap     = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 45}
	oidP256           = asn1.ObjectIdentifier{1, 2, 840, 10045, 3, 1, 7}
	oidP384           = asn1.ObjectIdentifier{1, 3, 132, 0, 34}
)

type eccSharedInfo struct {
	KeyInfo     pkix.AlgorithmIdentifier
	EntityUInfo []byte `asn1:"optional,explicit,tag:0"`
	SuppPubInfo []byte `asn1:"explicit,tag:2"`
}

// x963KDF derives n bytes from the shared secret z (ANSI X9.63 §3.6.1).
func x963KDF(newHash func() hash.Hash, z, sharedInfo []byte, n int) []byte {
	var out []byte
	for counter := uint32(1); len(out) < n; counter++ {
		h := newHash()
		h.Write(z)
		binary.Write(h, binary.BigEndian, counter)
		h.Write(sharedInfo)
		out = h.Sum(out)
	}
	return out[:n]
}

func kdfHash(oid asn1.ObjectIdentifier) func() hash.Hash {
	switch {
	case oid.Equal(oidStdDHSHA1KDF):
		return sha1.New
	case oid.Equal(oidStdDHSHA224KDF):
		return sha256.New224
	case oid.Equal(oidStdDHSHA256KDF):
		return sha256.New
	case oid.Equal(oidStdDHSHA384KDF):
		return sha512.New384
	case oid.Equal(oidStdDHSHA512KDF):
		return sha512.New
	}
	return nil
}

// kek derives the key-encryption key for wrap (its OID and key length).
func kek(newHash func() hash.Hash, z, ukm []byte, wrapOID asn1.ObjectIdentifier, wrapLen int) ([]byte, error) {
	si, err := asn1.Marshal(eccSharedInfo{KeyInfo: pkix.AlgorithmIdentifier{Algorithm: wrapOID}, EntityUInfo: ukm,
		SuppPubInfo: binary.BigEndian.AppendUint32(nil, uint32(wrapLen*8))})
	if err != nil {
		return nil, err
	}
	return x963KDF(newHash, z, si, wrapLen), nil
}

// agreedKey unwraps the content key from a KeyAgreeRecipientInfo (the
// [1] tlv) for cert and priv; found is false when the info is not for cert.
func agreedKey(ri tlv, cert *x509.Certificate, priv *ecdsa.PrivateKey, keyLen int) (cek []byte, found bool, err error) {
	f, err := children(ri.full, 0xa1)
	if err != nil || len(f) < 4 {
		return nil, false, nil
	}
	// version, originator [0], ukm [1]?, keyEncryptionAlgorithm, recipientEncryptedKeys
	i := 1
	if f[i].tag != 0xa0 {
		return nil, false, nil
	}
	orig := f[i]
	i++
	var ukm []byte
	if f[i].tag == 0xa1 {
		u, err := children(f[i].full, 0xa1)
		if err != nil || len(u) != 1 || u[0].tag != 0x04 {
			return nil, true, errors.New("key agreement: bad user keying material")
		}
		ukm = u[0].content
		i++
	}
	if i+1 >= len(f) {
		return nil, false, nil
	}
	reks, err := children(f[i+1].full, 0x30)
	if err != nil {
		return nil, false, nil
	}
	var wrapped []byte
	for _, rek := range reks {
		rf, err := children(rek.full, 0x30)
		if err != nil || len(rf) != 2 || rf[1].tag != 0x04 {
			continue
		}
		rid := rf[0]
		if rid.tag == 0xa0 { // rKeyId [0] IMPLICIT RecipientKeyIdentifier { subjectKeyIdentifier, ... }
			k, err := children(rid.full, 0xa0)
			if err != nil || len(k) == 0 || k[0].tag != 0x04 {
				continue
			}
			rid = tlv{tag: 0x80, content: k[0].content}
		}
		if forCert(rid, cert) {
			wrapped = rf[1].content
			break
		}
	}
	if wrapped == nil {
		return nil, false, nil
	}
	// The originator's ephemeral key: [1] OriginatorPublicKey { algorithm, publicKey BIT STRING }.
	o, err := children(orig.full, 0xa0)
	if err != nil || len(o) != 1 || o[0].tag != 0xa1 {
		return nil, true, errors.New("key agreement: the originator is not an ephemeral public key")
	}
	op, err := children(o[0].full, 0xa1)
	if err != nil || len(op) != 2 || op[1].tag != 0x03 || len(op[1].content) < 2 || op[1].content[0] != 0 {
		return nil, true, errors.New("key agreement: the originator's public key does not parse")
	}
	curve, err := ecdhCurve(priv.Curve)
	if err != nil {
		return nil, true, err
	}
	pub, err := curve.NewPublicKey(op[1].content[1:])
	if err != nil {
		return nil, true, fmt.Errorf("key agreement: the originator's public key: %v", err)
	}
	ek, err := priv.ECDH()
	if err != nil {
		return nil, true, err
	}
	z, err := ek.ECDH(pub)
	if err != nil {
		return nil, true, err
	}
	alg, err := children(f[i].full, 0x30)
	if err != nil || len(alg) != 2 {
		return nil, true, errors.New("key agreement: the key encryption algorithm has no key wrap parameter")
	}
	kdfOID, _ := oidOf(alg[0])
	newHash := kdfHash(kdfOID)
	if newHash == nil {
		return nil, true, fmt.Errorf("key agreement scheme %s is not supported (dhSinglePass-stdDH with an X9.63 KDF is)", kdfOID)
	}
	wrap, err := children(alg[1].full, 0x30)
	if err != nil || len(wrap) == 0 {
		return nil, true, errors.New("key agreement: the key wrap algorithm does not parse")
	}
	wrapOID, _ := oidOf(wrap[0])
	wrapLen := 0
	switch {
	case wrapOID.Equal(oidAES128Wrap):
		wrapLen = 16
	case wrapOID.Equal(oidAES256Wrap):
		wrapLen = 32
	default:
		return nil, true, fmt.Errorf("key wrap %s is not supported (AES-128/256 key wrap are)", wrapOID)
	}
	k, err := kek(newHash, z, ukm, wrapOID, wrapLen)
	if err != nil {
		return nil, true, err
	}
	cek, err = aesUnwrap(k, wrapped)
	if err != nil || len(cek) != keyLen {
		return nil, true, errors.New("key agreement: the content key does not unwrap with this key")
	}
	return cek, true, nil
}

func ecdhCurve(c elliptic.Curve) (ecdh.Curve, error) {
	switch c {
	case elliptic.P256():
		return ecdh.P256(), nil
	case elliptic.P384():
		return ecdh.P384(), nil
	case elliptic.P521():
		return ecdh.P521(), nil
	}
	return nil, errors.New("key agreement: the curve is not P-256, P-384 or P-521")
}

// keyAgreeInfo is the DER [1] KeyAgreeRecipientInfo sending cek to an EC
// certificate: a fresh ephemeral key, dhSinglePass-stdDH-sha256kdf, AES
// key wrap of the content key's size.
func keyAgreeInfo(r *x509.Certificate, cek []byte) ([]byte, error) {
	pub, ok := r.PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, ErrNoRSA
	}
	rpub, err := pub.ECDH()
	if err != nil {
		return nil, err
	}
	eph, err := rpub.Curve().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	z, err := eph.ECDH(rpub)
	if err != nil {
		return nil, err
	}
	wrapOID, curveOID := oidAES128Wrap, oidP256
	if len(cek) == 32 {
		wrapOID = oidAES256Wrap
	}
	if pub.Curve == elliptic.P384() {
		curveOID = oidP384
	}
	k, err := kek(sha256.New, z, nil, wrapOID, len(cek))
	if err != nil {
		return nil, err
	}
	wrapped, err := aesWrap(k, cek)
	if err != nil {
		return nil, err
	}
	curveDER, _ := asn1.Marshal(curveOID)
	origAlg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidECPublicKeyAlg, Parameters: asn1.RawValue{FullBytes: curveDER}})
	point, _ := asn1.Marshal(asn1.BitString{Bytes: eph.PublicKey().Bytes(), BitLength: 8 * len(eph.PublicKey().Bytes())})
	origKey := cat(derHeader(0xa1, len(origAlg)+len(point)), origAlg, point)
	originator := cat(derHeader(0xa0, len(origKey)), origKey)
	wrapAlg, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: wrapOID})
	kea, _ := asn1.Marshal(pkix.AlgorithmIdentifier{Algorithm: oidStdDHSHA256KDF, Parameters: asn1.RawValue{FullBytes: wrapAlg}})
	rid, _ := asn1.Marshal(issuerAndSerial{asn1.RawValue{FullBytes: r.RawIssuer}, r.SerialNumber})
	ekey, _ := asn1.Marshal(wrapped)
	rek := cat(derHeader(0x30, len(rid)+len(ekey)), rid, ekey)
	reks := cat(derHeader(0x30, len(rek)), rek)
	body := cat([]byte{0x02, 0x01, 0x03}, originator, kea, reks)
	return cat(derHeader(0xa1, len(body)), body), nil
}

var wrapIV = []byte{0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6, 0xa6}

// aesWrap is RFC 3394 key wrap of key (a multiple of 8 bytes) under kek.
func aesWrap(kek, key []byte) ([]byte, error) {
	if len(key)%8 != 0 || len(key) < 16 {
		return nil, errors.New("key wrap: the key is not a multiple of 8 bytes")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(key) / 8
	a := append([]byte(nil), wrapIV...)
	r := append([]byte(nil), key...)
	buf := make([]byte, 16)
	for j := 0; j < 6; j++ {
		for i := 0; i < n; i++ {
			copy(buf, a)
			copy(buf[8:], r[i*8:i*8+8])
			block.Encrypt(buf, buf)
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(a, binary.BigEndian.Uint64(buf[:8])^t)
			copy(r[i*8:], buf[8:])
		}
	}
	return append(a, r...), nil
}

// aesUnwrap undoes aesWrap and checks the integrity value.
func aesUnwrap(kek, wrapped []byte) ([]byte, error) {
	if len(wrapped)%8 != 0 || len(wrapped) < 24 {
		return nil, errors.New("key wrap: bad length")
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	n := len(wrapped)/8 - 1
	a := append([]byte(nil), wrapped[:8]...)
	r := append([]byte(nil), wrapped[8:]...)
	buf := make([]byte, 16)
	for j := 5; j >= 0; j-- {
		for i := n - 1; i >= 0; i-- {
			t := uint64(n*j + i + 1)
			binary.BigEndian.PutUint64(buf, binary.BigEndian.Uint64(a)^t)
			copy(buf[8:], r[i*8:i*8+8])
			block.Decrypt(buf, buf)
			copy(a, buf[:8])
			copy(r[i*8:], buf[8:])
		}
	}
	if subtle.ConstantTimeCompare(a, wrapIV) != 1 {
		return nil, errors.New("key wrap: the integrity check failed")
	}
	return r, nil
}
