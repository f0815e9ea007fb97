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

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/direct/publish"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/storage"
)

// dnsPublisher is the running Direct DNS responder and what it needs to
// rebuild its zone when certificates change (tern direct cert add).
type dnsPublisher struct {
	cfg   *config.Config
	cm    *certs.Manager
	store storage.DirectCerts
	srv   *publish.Server
	log   *slog.Logger
}

// startDNS runs the Direct DNS responder ([dns] listen): CERT records of
// each Direct domain's S/MIME certificates and of its addresses' (from
// storage), and the SRV records of its XMPP services, on the ports tern
// listens on. nil when [dns] listen is empty.
func startDNS(ctx context.Context, cfg *config.Config, cm *certs.Manager, store storage.DirectCerts, reg prometheus.Registerer, log *slog.Logger) (*dnsPublisher, error) {
	if cfg.DNS.Listen == "" {
		return nil, nil
	}
	p := &dnsPublisher{cfg: cfg, cm: cm, store: store, log: log.With("component", "dns")}
	z, err := p.zone(ctx)
	if err != nil {
		return nil, err
	}
	p.srv = publish.NewServer(z, p.log)
	queries := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_dns_queries_total",
		Help: "Queries to the Direct DNS responder, by outcome (answer, nxdomain, refused, limited: over dns.rate_per_ip)."}, []string{"outcome"})
	if err := reg.Register(queries); err != nil {
		return nil, err
	}
	byOutcome := map[string]prometheus.Counter{}
	for _, o := range []string{"answer", "nxdomain", "refused", "limited"} {
		byOutcome[o] = queries.WithLabelValues(o)
	}
	p.srv.Queries = func(o string) { byOutcome[o].Inc() }
	if n := cfg.DNS.RatePerIP; n > 0 {
		p.srv.PerIP = ratelimit.NewWindow(n, time.Second)
	}
	addr, err := p.srv.Listen(cfg.DNS.Listen)
	if err != nil {
		return nil, fmt.Errorf("dns: cannot listen on %s: %w (change [dns] listen, or set it to \"\")", cfg.DNS.Listen, err)
	}
	p.log.Info("DNS responder listening", "addr", addr.String(), "domains", cfg.DirectDomains(), "ttl", cfg.DNS.TTL.String())
	return p, nil
}

// stop closes the responder.
func (p *dnsPublisher) stop() {
	if p == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	p.srv.Close(ctx)
}

// reload rebuilds the zone from the configuration and storage.
func (p *dnsPublisher) reload(ctx context.Context) (string, error) {
	if p == nil {
		return "no DNS responder runs ([dns] listen is empty): nothing to publish", nil
	}
	z, err := p.zone(ctx)
	if err != nil {
		return "", err
	}
	p.srv.SetZone(z)
	return "the DNS responder publishes the stored certificates now", nil
}

func (p *dnsPublisher) zone(ctx context.Context) (*publish.Zone, error) {
	cfg := p.cfg
	var ips []net.IP
	for _, s := range cfg.DNS.HostIPs {
		ips = append(ips, net.ParseIP(s))
	}
	// What is not published is logged once, by the introduction directory.
	pub, err := collectPublished(ctx, cfg, p.cm, p.store, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	c2s, s2s := firstPort(cfg.C2S.Listen), firstPort(cfg.S2S.Listen)
	var domains []publish.Domain
	for _, pd := range pub {
		d := publish.Domain{Name: pd.name, Host: cfg.DNS.Host, HostIPs: ips, C2SPort: c2s, S2SPort: s2s, Addresses: map[string][]*x509.Certificate{}}
		for _, c := range pd.domain {
			d.Certs = append(d.Certs, c[0])
		}
		for a, chains := range pd.addrs {
			for _, c := range chains {
				d.Addresses[a] = append(d.Addresses[a], c[0])
			}
		}
		domains = append(domains, d)
	}
	z, err := publish.Build(domains, cfg.DNS.TTL.Duration)
	if err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	return z, nil
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
