package trust

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// TestTLSHooks shows the wiring the s2s transport needs, over real TLS:
// inbound, RequireAnyClientCert (Go would check the client cert for
// clientAuth) and VerifyConnection -> VerifyPeer, so a serverAuth-only peer
// certificate is accepted (server-pitfalls §4); outbound,
// InsecureSkipVerify only together with VerifyConnection -> VerifyPeer.
// Checklist items 3 and 6.
func TestTLSHooks(t *testing.T) {
	w := newWorld(t)
	var observed atomic.Int64
	w.v = w.validator(ValidatorOptions{Revocation: adapt(w.rev), Observe: func(r *Result, _ time.Duration) { observed.Add(1) }})
	local := w.ia.Leaf(t, "d1.test", trusttest.Opts{})
	serverOnly := w.ia.Leaf(t, "peer.test", trusttest.Opts{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	stranger := w.rootB.Leaf(t, "peer.test", trusttest.Opts{})
	pair := func(l *trusttest.Leaf, cas ...*trusttest.CA) tls.Certificate {
		c := tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
		for _, ca := range cas {
			c.Certificate = append(c.Certificate, ca.Cert.Raw)
		}
		return c
	}
	inbound := func(localDomain, peerDomain string) *tls.Config {
		return &tls.Config{
			Certificates: []tls.Certificate{pair(local, w.ia)},
			ClientAuth:   tls.RequireAnyClientCert,
			MinVersion:   tls.VersionTLS12,
			VerifyConnection: func(cs tls.ConnectionState) error {
				return w.v.VerifyPeer(context.Background(), localDomain, peerDomain, cs.PeerCertificates)
			},
		}
	}
	outbound := func(localDomain, peerDomain string, cert tls.Certificate) *tls.Config {
		return &tls.Config{
			Certificates:       []tls.Certificate{cert},
			ServerName:         peerDomain,
			MinVersion:         tls.VersionTLS12,
			InsecureSkipVerify: true, // replaced by VerifyConnection, never without it
			VerifyConnection: func(cs tls.ConnectionState) error {
				return w.v.VerifyPeer(context.Background(), localDomain, peerDomain, cs.PeerCertificates)
			},
		}
	}
	handshake := func(srv, cli *tls.Config) (srvErr, cliErr error) {
		c1, c2 := net.Pipe()
		defer c1.Close()
		defer c2.Close()
		errc := make(chan error, 1)
		s := tls.Server(c1, srv)
		go func() { errc <- s.Handshake(); c1.Close() }()
		cliErr = tls.Client(c2, cli).Handshake()
		c2.Close()
		return <-errc, cliErr
	}
	// peer.test (serverAuth-only cert, an ordinary PKIX client) connects
	// to d1.test.
	roots := x509.NewCertPool()
	roots.AddCert(w.rootA.Cert)
	plain := func(cert tls.Certificate) *tls.Config {
		return &tls.Config{Certificates: []tls.Certificate{cert}, ServerName: "d1.test", RootCAs: roots, MinVersion: tls.VersionTLS12}
	}
	if se, ce := handshake(inbound("d1.test", "peer.test"), plain(pair(serverOnly, w.ia))); se != nil || ce != nil {
		t.Fatalf("inbound serverAuth-only peer refused: %v / %v", se, ce)
	}
	// A peer outside d1's circles is refused by the hook.
	se, _ := handshake(inbound("d1.test", "peer.test"), plain(pair(stranger)))
	var ue *UntrustedError
	if !errors.As(se, &ue) || ue.Reason != ReasonUntrustedAnchor {
		t.Fatalf("inbound stranger: %v", se)
	}
	// Outbound: d2.test does not trust root A, so it refuses d1.test's server.
	_, ce := handshake(inbound("d1.test", "d2.test"), outbound("d2.test", "d1.test", pair(stranger)))
	if ce == nil || !strings.Contains(ce.Error(), string(ReasonUntrustedAnchor)) {
		t.Fatalf("outbound to a server outside the circles: %v", ce)
	}
	if observed.Load() < 3 {
		t.Fatalf("Observe called %d times", observed.Load())
	}
}
