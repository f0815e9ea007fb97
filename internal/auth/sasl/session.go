package sasl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
)

// MinSecretLen is the minimum length of Config.Secret: with a guessable
// secret, fake salts could be told from real ones.
const MinSecretLen = 16

// Config is what one authentication exchange needs from its connection.
type Config struct {
	Domain      string                                                           // the vhost; authzids must name a user of it
	Lookup      func(ctx context.Context, username string) (storage.User, error) // storage.ErrNotFound for unknown
	TLS         *tls.ConnectionState                                             // nil when the stream is not encrypted
	PlusOffered bool                                                             // whether -PLUS mechanisms were advertised on this connection
	Secret      []byte                                                           // per-server secret for fake salts, >= MinSecretLen random bytes

	// Certificate is the leaf certificate the server presented on this
	// connection; nil disables tls-server-end-point.
	Certificate *x509.Certificate
	// AllowPlain permits PLAIN (still only over TLS); keep it in step with
	// the allowPlain given to Mechanisms.
	AllowPlain bool
}

// Session is one authentication exchange; it is not safe for concurrent use.
type Session interface {
	// Step takes the client's message (already base64-decoded; nil for "no
	// initial response", empty for "=") and returns the server's challenge
	// or additional data. done=true means success (out may hold
	// additional-data for <success/>). err is *Failure on failure; after a
	// failure or success every further Step fails.
	Step(ctx context.Context, in []byte) (out []byte, done bool, err error)
	// Username is the authenticated, prepared localpart (after success).
	Username() string
	// Attempted is the prepared localpart the client named, as soon as it
	// is known, whether or not authentication succeeds (per-account
	// failure limits need it).
	Attempted() string
}

// NewSession starts an exchange for the mechanism the client selected.
// It fails with invalid-mechanism for an unknown mechanism or one not
// available on this connection (-PLUS when not PlusOffered or without a
// channel-binding type, PLAIN when not AllowPlain), and with encryption-required for PLAIN without TLS.
func NewSession(mechanism string, cfg Config) (Session, error) {
	if cfg.Lookup == nil {
		return nil, fail(TemporaryAuthFailure, "server misconfigured: no account lookup")
	}
	dom, err := parseDomain(cfg.Domain)
	if err != nil {
		return nil, fail(TemporaryAuthFailure, "server misconfigured: invalid domain")
	}
	cfg.Domain = dom
	if mechanism == Plain {
		if !cfg.AllowPlain {
			return nil, fail(InvalidMechanism, "PLAIN is not offered; use SCRAM")
		}
		if cfg.TLS == nil {
			return nil, fail(EncryptionRequired, "PLAIN needs TLS; start TLS first")
		}
		return &plainSession{cfg: cfg}, nil
	}
	m, ok := scramMechs[mechanism]
	if !ok {
		return nil, fail(InvalidMechanism, "unsupported mechanism; use one of the advertised ones")
	}
	if len(cfg.Secret) < MinSecretLen {
		return nil, fail(TemporaryAuthFailure, "server misconfigured: SASL secret too short")
	}
	if m.plus && !cfg.PlusOffered {
		return nil, fail(InvalidMechanism, mechanism+" was not offered on this connection")
	}
	if m.plus && (cfg.TLS == nil || len(ChannelBindingTypes(*cfg.TLS, cfg.Certificate)) == 0) {
		return nil, fail(InvalidMechanism, mechanism+" needs channel binding, which this connection does not offer")
	}
	return &scramSession{cfg: cfg, h: m.h, plus: m.plus}, nil
}

// checkAuthzid enforces RFC 6120 §6.4.6 for a client that gives an
// authzid: it must be the bare JID of the authenticated user.
func checkAuthzid(authzid, username, domain string) *Failure {
	if authzid == "" {
		return nil
	}
	want, err := jid.New(username, domain, "")
	if err != nil {
		return fail(InvalidAuthzid, "the authzid must be your bare JID")
	}
	got, err := jid.Parse(authzid)
	if err != nil || !got.Equal(want) {
		return fail(InvalidAuthzid, "the authzid must be your bare JID")
	}
	return nil
}

// prepareUsername applies RFC 7622 §3.3 to an authcid: it must be a valid
// localpart.
func prepareUsername(authcid, domain string) (string, bool) {
	j, err := jid.New(authcid, domain, "")
	if err != nil || j.Local() == "" {
		return "", false
	}
	return j.Local(), true
}

// prepareAuthcid maps a client's SASL username to a localpart: the
// localpart itself, or the bare JID user@domain of the stream's domain
// (TIM+ clients log in with the bare JID, as the reference server's
// authcid; RFC 6120 §6.3.8 leaves the authcid's form to the mechanism).
// A bare JID of another domain is refused like an unknown user.
func prepareAuthcid(authcid, domain string) (string, bool) {
	if !strings.Contains(authcid, "@") {
		return prepareUsername(authcid, domain)
	}
	j, err := jid.Parse(authcid)
	if err != nil || j.Local() == "" || j.Resource() != "" {
		return "", false
	}
	want, err := parseDomain(domain)
	if err != nil || j.Domain() != want {
		return "", false
	}
	return j.Local(), true
}

// parseDomain prepares a domainpart (RFC 7622 §3.2).
func parseDomain(domain string) (string, error) {
	j, err := jid.New("", domain, "")
	if err != nil {
		return "", err
	}
	return j.Domain(), nil
}
