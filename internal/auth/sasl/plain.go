package sasl

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"unicode/utf8"

	"github.com/tern-xmpp/tern/internal/storage"
)

// maxPlainField bounds each PLAIN field: RFC 4616 §2 requires accepting
// 255 octets; we accept a JID's worth.
const maxPlainField = 3071

// plainSession is RFC 4616, verified against the SCRAM-SHA-256 credential.
type plainSession struct {
	cfg       Config
	over      bool
	asked     bool
	authed    string
	attempted string // prepared username the client named
}

func (p *plainSession) Username() string  { return p.authed }
func (p *plainSession) Attempted() string { return p.attempted }

func (p *plainSession) Step(ctx context.Context, in []byte) ([]byte, bool, error) {
	if p.over {
		return nil, false, fail(MalformedRequest, "the authentication exchange is over; start a new one")
	}
	if in == nil && !p.asked {
		p.asked = true
		return []byte{}, false, nil
	}
	p.over = true
	// message = [authzid] NUL authcid NUL passwd
	f := bytes.Split(in, []byte{0})
	if len(f) != 3 || len(f[1]) == 0 || len(f[2]) == 0 {
		return nil, false, fail(MalformedRequest, "PLAIN wants [authzid] NUL authcid NUL password (RFC 4616 §2)")
	}
	for _, x := range f {
		if len(x) > maxPlainField || !utf8.Valid(x) {
			return nil, false, fail(MalformedRequest, "PLAIN fields must be UTF-8 and at most 3071 octets")
		}
	}
	user, ok := prepareAuthcid(string(f[1]), p.cfg.Domain)
	if ok {
		p.attempted = user
	}
	if !ok {
		return nil, false, badLogin()
	}
	if fl := checkAuthzid(string(f[0]), user, p.cfg.Domain); fl != nil {
		return nil, false, fl
	}
	pass, err := preparePassword(string(f[2]))
	if err != nil {
		return nil, false, badLogin()
	}
	u, err := p.cfg.Lookup(ctx, user)
	c := &u.SHA256
	unknown := false
	switch {
	case errors.Is(err, storage.ErrNotFound):
		unknown = true
	case err != nil:
		return nil, false, fail(TemporaryAuthFailure, "account storage unavailable; try again later")
	case !usable(c, hashSHA256):
		unknown = true
	}
	if unknown {
		// Do the same PBKDF2 work so timing does not reveal the account.
		fc := fakeCredential(hashSHA256, p.cfg.Secret, user)
		c = &fc
	}
	got, err := deriveCredential(hashSHA256, pass, c.Salt, c.Iters)
	if err != nil {
		return nil, false, fail(TemporaryAuthFailure, "try again later")
	}
	if subtle.ConstantTimeCompare(got.StoredKey, c.StoredKey) != 1 || unknown {
		return nil, false, badLogin()
	}
	p.authed = user
	return nil, true, nil
}
