package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/tern-xmpp/tern/internal/direct/publish"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
)

// startDNS runs the Direct DNS responder ([dns] listen): CERT records of
// each Direct domain's certificate and the SRV records of its XMPP
// services, on the ports tern listens on.
func startDNS(cfg *config.Config, cm *certs.Manager, reg prometheus.Registerer, log *slog.Logger) (stop func(), err error) {
	if cfg.DNS.Listen == "" {
		return func() {}, nil
	}
	var ips []net.IP
	for _, s := range cfg.DNS.HostIPs {
		ips = append(ips, net.ParseIP(s))
	}
	c2s, s2s := firstPort(cfg.C2S.Listen), firstPort(cfg.S2S.Listen)
	var domains []publish.Domain
	for _, name := range cfg.DirectDomains() {
		d := publish.Domain{Name: name, Host: cfg.DNS.Host, HostIPs: ips, C2SPort: c2s, S2SPort: s2s}
		// The domain's TLS certificate is a CERT record only if it may
		// serve S/MIME too: a discoverer would skip a serverAuth-only one.
		if c, ok := cm.Certificate(name); ok && c.Leaf != nil {
			if trust.SMIMEUsable(c.Leaf) {
				d.Certs = []*x509.Certificate{c.Leaf}
			} else {
				log.Info("domain certificate not published as a DNS CERT record: its extended key usage does not allow S/MIME (emailProtection)", "component", "dns", "domain", name)
			}
		}
		domains = append(domains, d)
	}
	z, err := publish.Build(domains, cfg.DNS.TTL.Duration)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	log = log.With("component", "dns")
	srv := publish.NewServer(z, log)
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_dns_queries_total",
		Help: "Queries the Direct DNS responder answered, by outcome (answer, nxdomain, refused)."}, []string{"outcome"})
	if err := reg.Register(queries); err != nil {
		return nil, err
	}
	byOutcome := map[string]prometheus.Counter{}
	for _, o := range []string{"answer", "nxdomain", "refused"} {
		byOutcome[o] = queries.WithLabelValues(o)
	}
	srv.Queries = func(o string) { byOutcome[o].Inc() }
	addr, err := srv.Listen(cfg.DNS.Listen)
	if err != nil {
		return nil, fmt.Errorf("dns: cannot listen on %s: %w (change [dns] listen, or set it to \"\")", cfg.DNS.Listen, err)
	}
	log.Info("DNS responder listening", "addr", addr.String(), "domains", cfg.DirectDomains(), "ttl", cfg.DNS.TTL.String())
	return func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		srv.Close(ctx)
	}, nil
}

// firstPort is the port of the first host:port in l (0: none).
func firstPort(l []string) uint16 {
	for _, a := range l {
		if _, p, err := net.SplitHostPort(a); err == nil {
			if n, err := strconv.ParseUint(p, 10, 16); err == nil {
				return uint16(n)
			}
		}
	}
	return 0
}
