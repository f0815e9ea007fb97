package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Direct trust domains (TIM+, DirectTrust ANSI/DS 2019-02-100-2021 §4 and
// §6.1): a stream whose local domain is Direct is authenticated only by
// certificates, both ways. Before TLS only <starttls><required/> is
// offered (as for every domain); TLS 1.2 at least; inbound, a client
// certificate is required (tls.RequireAnyClientCert: never Go's own
// client-certificate verification, which demands the clientAuth EKU); the
// peer's chain is validated by the trust layer's hook for the local
// domain's circles before SASL EXTERNAL succeeds (RFC 6120 §6, XEP-0178)
// and, outbound, before we authenticate; dialback (XEP-0220) is never
// offered, accepted or used, whatever Config.Dialback says. Plain domains
// of the same server are not affected.
//
// The hooks are funcs because internal/transport and internal/direct are
// neighbours that do not import each other: the server wiring passes the
// trust layer's methods.
type DirectHooks struct {
	// IsDirect reports whether a local domain is a Direct trust domain.
	IsDirect func(local string) bool
	// Verify validates the chain a peer presented (leaf first) for
	// peerDomain against the circles of local (trust.Validator.VerifyPeer);
	// nil error: trusted.
	Verify func(ctx context.Context, local, peerDomain string, chain []*x509.Certificate) error
	// Track records an authenticated Direct pair for re-validation
	// (trust.Sessions.TrackPair); closeStream ends the stream with the
	// reason. The returned func is called when the stream ends.
	Track func(local, peer string, chain []*x509.Certificate, closeStream func(error)) (untrack func())
	// Refused, if set, counts a Direct stream refused before its trust
	// check ran (no certificate, no EXTERNAL, dialback asked), by reason.
	Refused func(reason string)
	// Closed, if set, counts a live Direct stream closed by re-validation.
	Closed func()
	// Reason, if set, gives the short code of a Verify error for the log
	// line's reason field (trust.UntrustedError.Reason).
	Reason func(error) string
}

// isDirect reports whether local is a Direct domain here.
func (s *Service) isDirect(local string) bool {
	h := s.cfg.Direct
	return local != "" && h.IsDirect != nil && h.IsDirect(local)
}

func (s *Service) directRefused(reason string) {
	if f := s.cfg.Direct.Refused; f != nil {
		f(reason)
	}
}

// directServerTLS is cfg for an inbound handshake of a Direct domain:
// the client certificate is required but verified by the trust hook, not
// by crypto/tls (serverAuth-only peer certificates are common).
func directServerTLS(cfg *tls.Config) *tls.Config {
	c := cfg.Clone()
	c.ClientAuth = tls.RequireAnyClientCert
	c.GetConfigForClient = nil
	if c.MinVersion < tls.VersionTLS12 {
		c.MinVersion = tls.VersionTLS12
	}
	return c
}

// inboundTLS is the server configuration for this stream: per SNI on a
// direct TLS port (the stream header comes after TLS), per stream header
// on STARTTLS.
func (c *conn) inboundTLS() *tls.Config {
	s := c.svc
	base := certs.ForDomain(s.cfg.ServerTLS, c.local)
	if c.local != "" {
		if s.isDirect(c.local) {
			return directServerTLS(base)
		}
		return base
	}
	if s.cfg.Direct.IsDirect == nil {
		return base
	}
	cfg := base.Clone()
	cfg.GetConfigForClient = func(h *tls.ClientHelloInfo) (*tls.Config, error) {
		if name := h.ServerName; name != "" && s.isDirect(name) {
			return directServerTLS(certs.ForDomain(base, name)), nil
		}
		return nil, nil
	}
	return cfg
}

// directVerify runs the trust hook for the peer domain, once per domain
// on a stream (the result is cached), without holding c.mu: the check may
// fetch a CRL.
func (c *conn) directVerify(local, peer string) error {
	s := c.svc
	c.mu.Lock()
	if err, ok := c.directRes[peer]; ok {
		c.mu.Unlock()
		return err
	}
	chain := c.peerCerts
	c.mu.Unlock()
	var err error
	switch {
	case s.cfg.Direct.Verify == nil:
		err = errors.New("no trust validator configured for Direct domains")
	case len(chain) == 0:
		err = fmt.Errorf("direct trust: peer %s is not trusted by %s: no-certificate: the peer presented no certificate (Direct domains require mutual TLS)", peer, local)
		s.directRefused("no-certificate")
	default:
		ctx, cancel := context.WithTimeout(s.ctx, max(s.cfg.ConnectTimeout, s.cfg.AuthTimeout))
		err = s.cfg.Direct.Verify(ctx, local, peer, chain)
		cancel()
	}
	c.mu.Lock()
	if len(c.directRes) < maxCertCache {
		c.directRes[peer] = err
	}
	c.mu.Unlock()
	if err != nil {
		reason := "no-certificate"
		if f := s.cfg.Direct.Reason; f != nil && len(chain) > 0 {
			reason = f(err)
		}
		s.log.Warn("direct: peer refused", "dir", c.dir(), "local", local, "remote", peer, "reason", reason, "err", err)
	} else {
		s.log.Info("direct: peer trusted", "dir", c.dir(), "local", local, "remote", peer)
	}
	return err
}

// directTrack registers an authenticated Direct pair for re-validation.
func (c *conn) directTrack(p pair) {
	s := c.svc
	if s.cfg.Direct.Track == nil {
		return
	}
	c.mu.Lock()
	chain := c.peerCerts
	c.mu.Unlock()
	untrack := s.cfg.Direct.Track(p.local, p.remote, chain, func(err error) {
		s.log.Warn("direct: closing a stream that no longer validates", "dir", c.dir(), "local", p.local, "remote", p.remote, "err", err)
		if f := s.cfg.Direct.Closed; f != nil {
			f()
		}
		c.close(stream.NewError("policy-violation", "certificate revoked/expired/untrusted: "+err.Error()))
	})
	c.mu.Lock()
	c.untrack = append(c.untrack, untrack)
	c.mu.Unlock()
}

// directUntrack forgets the stream's Direct pairs; at its end.
func (c *conn) directUntrack() {
	c.mu.Lock()
	fns := c.untrack
	c.untrack = nil
	c.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// PeerChain connects to peer's s2s service as local (static route or SRV,
// as a stream would), runs TLS presenting local's certificate, and returns
// the chain the peer's server presented, without authenticating or
// sending anything else: for `tern direct trust check`, which explains
// the chain. The caller validates it.
func (s *Service) PeerChain(ctx context.Context, local, peer string) ([]*x509.Certificate, string, error) {
	route, _ := s.route(peer)
	ts, err := targets(ctx, s.cfg.Resolver, route, peer)
	if err != nil {
		return nil, "", fmt.Errorf("finding %s: %w", peer, err)
	}
	var errs []error
	for _, t := range ts {
		chain, err := s.probeChain(ctx, local, peer, t)
		if err == nil {
			return chain, t.addr, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.addr, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, "", errors.Join(errs...)
}

func (s *Service) probeChain(ctx context.Context, local, peer string, t target) ([]*x509.Certificate, error) {
	d := s.cfg.Dial
	if d == nil {
		var nd net.Dialer
		d = nd.DialContext
	}
	nc, err := d(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	defer nc.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	header := func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:stream='%s' from='%s' to='%s' version='1.0'>",
			xml.NSStream, local, peer)
		return err
	}
	if !t.direct {
		if err := header(nc); err != nil {
			return nil, err
		}
		dec := xml.NewDecoder(nc, s.preAuth)
		if _, err := dec.ReadHeader(); err != nil {
			return nil, fmt.Errorf("reading the stream header: %w", err)
		}
		f, err := dec.ReadElement()
		if err != nil {
			return nil, fmt.Errorf("reading the features: %w", err)
		}
		if f.Child(stream.NSTLS, "starttls") == nil {
			return nil, errors.New("the peer does not offer STARTTLS")
		}
		if _, err := io.WriteString(nc, "<starttls xmlns='"+stream.NSTLS+"'/>"); err != nil {
			return nil, err
		}
		p, err := dec.ReadElement()
		if err != nil || p.Name != "proceed" {
			return nil, fmt.Errorf("STARTTLS refused (%v)", err)
		}
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: asciiDomain(peer),
		InsecureSkipVerify: true, //nolint:gosec // the chain is only captured here; the caller validates it
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			if s.cfg.Certificate != nil {
				if c, ok := s.cfg.Certificate(local); ok {
					return c, nil
				}
			}
			return &tls.Certificate{}, nil
		}}
	if t.direct {
		cfg.NextProtos = []string{"xmpp-server"}
	}
	tc := tls.Client(nc, cfg)
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, fmt.Errorf("TLS: %w", err)
	}
	chain := tc.ConnectionState().PeerCertificates
	_, _ = io.WriteString(tc, "</stream:stream>")
	if len(chain) == 0 {
		return nil, errors.New("the peer's server presented no certificate")
	}
	return chain, nil
}
