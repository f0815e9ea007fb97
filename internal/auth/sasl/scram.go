package sasl

import (
	"context"
	"errors"
	"strings"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/xdg-go/scram"
)

type scramState int

const (
	scramStart scramState = iota
	scramWantFirst
	scramWantFinal
	scramDone
)

// scramSession drives an xdg-go/scram ServerConversation after checking
// the GS2 header and username itself (see doc.go for why).
type scramSession struct {
	cfg   Config
	h     *scramHash
	plus  bool
	state scramState
	conv  *scram.ServerConversation

	nonce     scram.NonceGeneratorFcn // tests and benchmarks only; nil: xdg-go's crypto/rand nonce
	ctx       context.Context         // the Step's context, for Lookup
	username  string                  // prepared localpart
	unknown   bool                    // fake credential in use: never succeed
	lookupErr error
	authed    string
}

func (s *scramSession) Username() string  { return s.authed }
func (s *scramSession) Attempted() string { return s.username }

func (s *scramSession) Step(ctx context.Context, in []byte) (out []byte, done bool, err error) {
	switch s.state {
	case scramStart:
		if in == nil {
			// No initial response: RFC 6120 §6.4.2, send an empty challenge.
			s.state = scramWantFirst
			return []byte{}, false, nil
		}
		return s.first(ctx, in)
	case scramWantFirst:
		return s.first(ctx, in)
	case scramWantFinal:
		return s.final(in)
	}
	return nil, false, fail(MalformedRequest, "the authentication exchange is over; start a new one")
}

func (s *scramSession) first(ctx context.Context, in []byte) ([]byte, bool, error) {
	s.state = scramDone // until proven otherwise
	msg := string(in)
	c1, err := parseClientFirst(msg)
	if err != nil {
		return nil, false, fail(MalformedRequest, "invalid SCRAM client-first-message (RFC 5802 §7)")
	}
	user, ok := prepareAuthcid(c1.username, s.cfg.Domain)
	if !ok {
		return nil, false, badLogin()
	}
	s.username = user // for the log and the per-account limit, whatever fails next
	// GS2 policy, RFC 5802 §6.
	var cb scram.ChannelBinding
	switch c1.flag {
	case 'p':
		if !s.plus {
			return nil, false, fail(MalformedRequest, "channel binding ('p=') needs the -PLUS mechanism")
		}
		data, err := bindingData(c1.cbName, s.cfg.TLS, s.cfg.Certificate)
		if err != nil {
			f := fail(NotAuthorized, "channel-binding type "+c1.cbName+" is not supported on this connection; use one of: "+
				strings.Join(ChannelBindingTypes(*s.cfg.TLS, s.cfg.Certificate), ", "))
			f.Negotiation = true
			return nil, false, f
		}
		cb = scram.ChannelBinding{Type: scram.ChannelBindingType(c1.cbName), Data: data}
	case 'y':
		if s.cfg.PlusOffered {
			// The client supports binding but saw no -PLUS: someone removed it.
			// Not a credential guess either: a legacy client that tried
			// -PLUS with tls-unique falls back to 'y'; it must not lock
			// itself out before it reaches a mechanism that works.
			f := fail(NotAuthorized, "channel binding downgrade detected: this server offered -PLUS mechanisms")
			f.Negotiation = true
			return nil, false, f
		}
		fallthrough
	default:
		if s.plus {
			return nil, false, fail(MalformedRequest, "a -PLUS mechanism needs a 'p=' channel-binding flag")
		}
	}
	if f := checkAuthzid(c1.authzid, user, s.cfg.Domain); f != nil {
		return nil, false, f
	}
	s.ctx = ctx
	defer func() { s.ctx = nil }()

	srv, err := s.h.gen.NewServer(s.lookup)
	if err != nil {
		return nil, false, fail(TemporaryAuthFailure, "SCRAM server unavailable; try again later")
	}
	if s.nonce != nil {
		srv = srv.WithNonceGenerator(s.nonce)
	}
	if c1.flag == 'p' {
		s.conv = srv.NewConversationWithChannelBindingRequired(cb)
	} else {
		s.conv = srv.NewConversation()
	}
	resp, err := s.conv.Step(msg)
	switch {
	case s.lookupErr != nil:
		return nil, false, fail(TemporaryAuthFailure, "account storage unavailable; try again later")
	case err != nil:
		return nil, false, mapScramError(resp)
	}
	s.state = scramWantFinal
	return []byte(resp), false, nil
}

// lookup is xdg-go's CredentialLookup. xdg-go passes the decoded
// username; we use our PRECIS-prepared one instead.
func (s *scramSession) lookup(string) (scram.StoredCredentials, error) {
	ctx := s.ctx
	if ctx == nil {
		ctx = context.Background()
	}
	u, err := s.cfg.Lookup(ctx, s.username)
	var c storage.ScramCredential
	switch {
	case errors.Is(err, storage.ErrNotFound):
		s.unknown = true
	case err != nil:
		s.lookupErr = err
		return scram.StoredCredentials{}, err
	default:
		c = *s.h.cred(&u)
		if !usable(&c, s.h) {
			s.unknown = true // no credential for this hash: fail like a wrong password
		}
	}
	if s.unknown {
		c = fakeCredential(s.h, s.cfg.Secret, s.username)
	}
	return scram.StoredCredentials{
		KeyFactors: scram.KeyFactors{Salt: string(c.Salt), Iters: c.Iters},
		StoredKey:  c.StoredKey,
		ServerKey:  c.ServerKey,
	}, nil
}

func (s *scramSession) final(in []byte) ([]byte, bool, error) {
	s.state = scramDone
	msg := string(in)
	if err := checkClientFinal(msg, s.h.size); err != nil {
		return nil, false, fail(MalformedRequest, "invalid SCRAM client-final-message (RFC 5802 §7)")
	}
	resp, err := s.conv.Step(msg)
	if err != nil {
		return nil, false, mapScramError(resp)
	}
	if s.unknown || !s.conv.Valid() {
		return nil, false, badLogin()
	}
	s.authed = s.username
	// server-final-message ("v=...") goes in <success/> (RFC 6120 §6.3.10).
	return []byte(resp), true, nil
}

// mapScramError maps xdg-go's server-error ("e=...") to RFC 6120 §6.5.
func mapScramError(serverErr string) *Failure {
	switch serverErr {
	case scram.ErrInvalidProof:
		return badLogin()
	case scram.ErrChannelBindingsDontMatch:
		return fail(NotAuthorized, "channel-binding data does not match this TLS connection")
	case scram.ErrServerDoesSupportChannelBinding, scram.ErrChannelBindingNotSupported, scram.ErrUnsupportedChannelBindingType:
		return fail(NotAuthorized, "channel-binding negotiation failed")
	case scram.ErrNoResources:
		return fail(TemporaryAuthFailure, "try again later")
	}
	// Parse errors ("") and other-error (a nonce that is not ours).
	return fail(MalformedRequest, "invalid SCRAM message (RFC 5802 §7)")
}
