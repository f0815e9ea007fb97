package s2s

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
)

// Key is the dialback key of XEP-0185 §3: hex(HMAC-SHA256(key:
// hex(SHA256(secret)), receiving + " " + originating + " " + streamID)).
// The spaces separate the fields so that no two triples give the same
// input (CVE-2016-0756 was keys without separators).
func Key(secret []byte, receiving, originating, streamID string) string {
	h := sha256.Sum256(secret)
	var hk [64]byte
	hex.Encode(hk[:], h[:])
	m := hmac.New(sha256.New, hk[:])
	m.Write([]byte(receiving))
	m.Write([]byte{' '})
	m.Write([]byte(originating))
	m.Write([]byte{' '})
	m.Write([]byte(streamID))
	return hex.EncodeToString(m.Sum(nil))
}

// keyValid compares a received key with the one we would have made, in
// constant time.
func keyValid(secret []byte, receiving, originating, streamID, key string) bool {
	want := Key(secret, receiving, originating, streamID)
	return subtle.ConstantTimeCompare([]byte(want), []byte(key)) == 1
}

// DeriveSecret makes the dialback secret from the server's master secret,
// so the key material of SCRAM fake salts and dialback stay apart.
func DeriveSecret(master []byte) []byte {
	m := hmac.New(sha256.New, master)
	m.Write([]byte("tern s2s dialback v1"))
	return m.Sum(nil)
}
