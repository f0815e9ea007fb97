// Package sealed keeps private keys encrypted at rest: AES-256-GCM (NIST
// SP 800-38D) under a key derived with HKDF-SHA256 (RFC 5869) from the
// server's secret, each sealed value bound to where it is stored (its
// additional data), so a sealed key copied to another row does not open.
package sealed

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

const version = 1

// Box seals and opens with one server secret.
type Box struct{ aead cipher.AEAD }

// New derives the sealing key from secret (at least 32 bytes).
func New(secret []byte) (*Box, error) {
	if len(secret) < 32 {
		return nil, errors.New("sealed: the server secret is shorter than 32 bytes")
	}
	key, err := hkdf.Key(sha256.New, secret, nil, "tern direct private keys v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Box{aead}, nil
}

// Seal encrypts plain, bound to aad.
func (b *Box) Seal(plain []byte, aad string) ([]byte, error) {
	nonce := make([]byte, b.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append([]byte{version}, nonce...)
	return b.aead.Seal(out, nonce, plain, []byte(aad)), nil
}

// Open decrypts what Seal made with the same secret and aad.
func (b *Box) Open(box []byte, aad string) ([]byte, error) {
	n := b.aead.NonceSize()
	if len(box) < 1+n+b.aead.Overhead() || box[0] != version {
		return nil, fmt.Errorf("sealed: not a sealed value of version %d", version)
	}
	plain, err := b.aead.Open(nil, box[1:1+n], box[1+n:], []byte(aad))
	if err != nil {
		return nil, errors.New("sealed: cannot open: sealed with another key (another server's secret, or [keys] changed since it was sealed: add the key again with tern direct cert add), or a value moved from elsewhere")
	}
	return plain, nil
}
