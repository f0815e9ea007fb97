package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/xdg-go/stringprep"
)

const (
	// Iterations is the PBKDF2 count of new credentials and of fake
	// salts: RFC 7677 §4's minimum for SCRAM-SHA-256.
	Iterations = 4096
	// SaltLen is the salt length of new credentials and of fake salts.
	SaltLen = 16
)

// NewUser makes the stored credentials of an account: for each SCRAM hash a
// fresh random salt, Iterations rounds, and StoredKey/ServerKey (RFC 5802
// §3), never the password or the salted password. username must be a valid
// localpart (it is stored prepared); password is prepared with SASLprep.
func NewUser(domain, username, password string) (storage.User, error) {
	dom, err := prepareDomain(domain)
	if err != nil {
		return storage.User{}, err
	}
	user, ok := prepareUsername(username, dom)
	if !ok {
		return storage.User{}, fmt.Errorf("sasl: username %.64q is not a valid JID localpart (RFC 7622 §3.3); choose another", username)
	}
	pass, err := preparePassword(password)
	if err != nil {
		return storage.User{}, err
	}
	u := storage.User{Domain: dom, Username: user, Created: time.Now().UTC()}
	for _, h := range []*scramHash{hashSHA1, hashSHA256, hashSHA512} {
		salt := make([]byte, SaltLen)
		if _, err := rand.Read(salt); err != nil {
			return storage.User{}, fmt.Errorf("sasl: reading random salt: %w", err)
		}
		c, err := deriveCredential(h, pass, salt, Iterations)
		if err != nil {
			return storage.User{}, err
		}
		*h.cred(&u) = c
	}
	return u, nil
}

func prepareDomain(domain string) (string, error) {
	j, err := parseDomain(domain)
	if err != nil {
		return "", fmt.Errorf("sasl: domain %.64q is not a valid JID domainpart: %v", domain, err)
	}
	return j, nil
}

// preparePassword applies SASLprep (RFC 4013), the preparation SCRAM
// clients apply (RFC 5802 §5.1). Errors never contain the password.
func preparePassword(password string) (string, error) {
	if password == "" {
		return "", errors.New("sasl: the password is empty; choose a non-empty password")
	}
	p, err := stringprep.SASLprep.Prepare(password)
	if err != nil {
		var se stringprep.Error
		if errors.As(err, &se) {
			return "", fmt.Errorf("sasl: the password is not valid for SASLprep (RFC 4013): %s; avoid control and unassigned characters", se.Msg)
		}
		return "", errors.New("sasl: the password is not valid for SASLprep (RFC 4013); avoid control and unassigned characters")
	}
	if p == "" {
		return "", errors.New("sasl: the password is empty after SASLprep (it only has characters that map to nothing); choose another")
	}
	return p, nil
}

// deriveCredential is RFC 5802 §3: SaltedPassword = Hi(password, salt, i),
// StoredKey = H(HMAC(SaltedPassword, "Client Key")),
// ServerKey = HMAC(SaltedPassword, "Server Key").
func deriveCredential(h *scramHash, preparedPassword string, salt []byte, iters int) (storage.ScramCredential, error) {
	salted, err := pbkdf2.Key(h.std, preparedPassword, salt, iters, h.size)
	if err != nil {
		return storage.ScramCredential{}, fmt.Errorf("sasl: deriving %s key: %w", h.name, err)
	}
	clientKey := hmacSum(h, salted, "Client Key")
	d := h.std()
	d.Write(clientKey)
	return storage.ScramCredential{
		Salt:      append([]byte(nil), salt...),
		Iters:     iters,
		StoredKey: d.Sum(nil),
		ServerKey: hmacSum(h, salted, "Server Key"),
	}, nil
}

func hmacSum(h *scramHash, key []byte, msg string) []byte {
	m := hmac.New(h.std, key)
	m.Write([]byte(msg))
	return m.Sum(nil)
}

// fakeCredential stands in for an unknown user (or one without a credential
// for this hash): a salt that is the same on every attempt for the same name
// and unguessable without secret, the default iteration count, and random
// keys no proof can match.
func fakeCredential(h *scramHash, secret []byte, username string) storage.ScramCredential {
	m := hmac.New(hashSHA256.std, secret)
	m.Write([]byte("tern SCRAM fake salt\x00" + h.name + "\x00" + username))
	keys := make([]byte, 2*h.size)
	rand.Read(keys) // crypto/rand.Read never fails (Go 1.24+)
	return storage.ScramCredential{
		Salt:      m.Sum(nil)[:SaltLen],
		Iters:     Iterations,
		StoredKey: keys[:h.size],
		ServerKey: keys[h.size:],
	}
}

// usable reports whether a stored credential can verify a login.
func usable(c *storage.ScramCredential, h *scramHash) bool {
	return len(c.Salt) > 0 && c.Iters > 0 && len(c.StoredKey) == h.size && len(c.ServerKey) == h.size
}
