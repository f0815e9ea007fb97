package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/metrics"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/transport/s2s"
)

// startS2S starts federation when a s2s listener is configured: it binds
// every listener (a taken port fails the start), installs the service as
// the router's Remote and returns its shutdown function. Without
// listeners it returns a no-op: remote stanzas bounce with
// remote-server-not-found, as they did before federation existed.
func startS2S(ctx context.Context, cfg *config.Config, cm *certs.Manager, r *router.Router, m *metrics.Metrics, secret []byte, trusted ratelimit.Networks, dt *directTrust, log *slog.Logger) (func(context.Context), error) {
	sc := cfg.S2S
	if !sc.Federates() {
		return func(context.Context) {}, nil
	}
	roots, err := x509.SystemCertPool()
	if err != nil || roots == nil {
		roots = x509.NewCertPool()
	}
	if sc.CAFile != "" {
		b, err := os.ReadFile(sc.CAFile)
		if err != nil {
			return nil, fmt.Errorf("s2s.ca_file: %w", err)
		}
		if !roots.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("s2s.ca_file: %s holds no PEM certificate", sc.CAFile)
		}
	}
	lim := s2sLimits(cfg)
	ms := m.NewS2S()
	// Not cancelled by SIGTERM: stanzas still in flight are routed until Shutdown.
	svc := s2s.New(context.WithoutCancel(ctx), s2s.Config{
		ServerTLS:         certs.S2STLSConfig(cm),
		Certificate:       cm.Certificate,
		Roots:             roots,
		Secret:            s2s.DeriveSecret(secret),
		Dialback:          sc.Dialback,
		RequireValidCerts: sc.RequireValidCerts,
		InsecureDomains:   sc.InsecureDomains,
		Routes:            sc.Routes,
		Resolver:          s2s.NewResolver(sc.DNSServer),
		ConnectTimeout:    sc.ConnectTimeout.Duration,
		AuthTimeout:       cfg.Limits.AuthTimeout.Duration,
		IdleTimeout:       sc.IdleTimeout.Duration,
		QueueMax:          sc.QueueMax,
		Limits:            lim,
		ConnsPerIP:        cfg.Limits.ConnsPerIP,
		Trusted:           trusted,
		Metrics:           s2s.Metrics{Streams: ms.Stream, Stanza: ms.Stanza, Bounce: ms.Bounce, StreamError: ms.StreamError},
		Direct:            dt.hooks(),
	}, r, log)
	if dt != nil {
		probe := probeFunc(svc.PeerChain) // tern direct trust check without --chain
		dt.probe.Store(&probe)
	}
	type lis struct {
		l      net.Listener
		direct bool
	}
	var ls []lis
	for _, group := range []struct {
		key    string
		addrs  []string
		direct bool
	}{{"listen", sc.Listen, false}, {"listen_tls", sc.ListenTLS, true}} {
		for _, a := range group.addrs {
			l, err := net.Listen("tcp", a)
			if err != nil {
				for _, x := range ls {
					x.l.Close()
				}
				return nil, fmt.Errorf("s2s: cannot listen on %s: %w (is another server running? change [s2s] %s)", a, err, group.key)
			}
			ls = append(ls, lis{l, group.direct})
		}
	}
	r.SetRemote(svc)
	for _, l := range ls {
		kind := "STARTTLS"
		if l.direct {
			kind = "direct TLS"
		}
		log.Info("s2s listening", "addr", l.l.Addr().String(), "tls", kind, "dialback", sc.Dialback, "require_valid_certs", sc.RequireValidCerts)
		go func() {
			if err := svc.Serve(l.l, l.direct); err != nil {
				log.Error("s2s listener stopped", "addr", l.l.Addr().String(), "err", err)
			}
		}()
	}
	return func(ctx context.Context) {
		log.Info("shutting down: closing server-to-server streams")
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		svc.Shutdown(sctx)
	}, nil
}
