package sasl

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"hash"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/xdg-go/scram"
)

// Mechanism names.
const (
	ScramSHA512Plus = "SCRAM-SHA-512-PLUS"
	ScramSHA256Plus = "SCRAM-SHA-256-PLUS"
	ScramSHA1Plus   = "SCRAM-SHA-1-PLUS"
	ScramSHA512     = "SCRAM-SHA-512"
	ScramSHA256     = "SCRAM-SHA-256"
	ScramSHA1       = "SCRAM-SHA-1"
	Plain           = "PLAIN"
)

// scramHash is one SCRAM hash family.
type scramHash struct {
	name string // for the fake-salt derivation
	gen  scram.HashGeneratorFcn
	std  func() hash.Hash
	size int
	cred func(*storage.User) *storage.ScramCredential
}

var (
	hashSHA1 = &scramHash{"SHA-1", scram.SHA1, sha1.New, sha1.Size,
		func(u *storage.User) *storage.ScramCredential { return &u.SHA1 }}
	hashSHA256 = &scramHash{"SHA-256", scram.SHA256, sha256.New, sha256.Size,
		func(u *storage.User) *storage.ScramCredential { return &u.SHA256 }}
	hashSHA512 = &scramHash{"SHA-512", scram.SHA512, sha512.New, sha512.Size,
		func(u *storage.User) *storage.ScramCredential { return &u.SHA512 }}
)

var scramMechs = map[string]struct {
	h    *scramHash
	plus bool
}{
	ScramSHA512Plus: {hashSHA512, true},
	ScramSHA256Plus: {hashSHA256, true},
	ScramSHA1Plus:   {hashSHA1, true},
	ScramSHA512:     {hashSHA512, false},
	ScramSHA256:     {hashSHA256, false},
	ScramSHA1:       {hashSHA1, false},
}

// Mechanisms lists the mechanisms to advertise on this connection,
// strongest first: the -PLUS variants when a channel-binding type is
// available (see ChannelBindingTypes, which takes the same optional served
// certificate), then plain SCRAM, then PLAIN when cs != nil (TLS) and
// allowPlain. Never drop a mechanism clients have seen on an earlier
// connection to the same server configuration: Conversations treats a
// vanished SCRAM as an attack.
func Mechanisms(cs *tls.ConnectionState, allowPlain bool, served ...*x509.Certificate) []string {
	m := make([]string, 0, 7)
	if cs != nil && len(ChannelBindingTypes(*cs, served...)) > 0 {
		m = append(m, ScramSHA512Plus, ScramSHA256Plus, ScramSHA1Plus)
	}
	m = append(m, ScramSHA512, ScramSHA256, ScramSHA1)
	if cs != nil && allowPlain {
		m = append(m, Plain)
	}
	return m
}
