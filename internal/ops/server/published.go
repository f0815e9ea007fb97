package server

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"sync/atomic"

	"github.com/tern-xmpp/tern/internal/direct/introduce"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/storage"
)

// publishedDomain is what tern publishes of one Direct domain, in DNS CERT
// records and by peer introduction: its domain-bound certificates and its
// addresses', each leaf first.
type publishedDomain struct {
	name   string
	domain [][]*x509.Certificate
	addrs  map[string][][]*x509.Certificate
}

// collectPublished reads what each Direct domain publishes: its TLS
// certificate when it may serve S/MIME too (a discoverer would skip a
// serverAuth-only one), with its intermediates, and the certificates
// `tern direct cert add` stored (leaves: intermediates are not stored).
func collectPublished(ctx context.Context, cfg *config.Config, cm *certs.Manager, store storage.DirectCerts, log *slog.Logger) ([]publishedDomain, error) {
	var out []publishedDomain
	for _, name := range cfg.DirectDomains() {
		d := publishedDomain{name: name, addrs: map[string][][]*x509.Certificate{}}
		if c, ok := cm.Certificate(name); ok && c.Leaf != nil {
			if trust.SMIMEUsable(c.Leaf) {
				chain := []*x509.Certificate{c.Leaf}
				for _, der := range c.Certificate[1:] {
					if ic, err := x509.ParseCertificate(der); err == nil {
						chain = append(chain, ic)
					}
				}
				d.domain = append(d.domain, chain)
			} else {
				log.Info("domain TLS certificate not published (DNS CERT, peer introduction): its extended key usage does not allow S/MIME (emailProtection)", "domain", name)
			}
		}
		rows, err := store.DomainCerts(ctx, name)
		if err != nil {
			return nil, fmt.Errorf("the certificates of %s: %w", name, err)
		}
		for _, r := range rows {
			c, err := x509.ParseCertificate(r.DER)
			if err != nil {
				log.Warn("stored certificate not published: it does not parse", "address", r.Address, "sha256", r.SHA256, "err", err)
				continue
			}
			if r.Address == name {
				d.domain = append(d.domain, []*x509.Certificate{c})
			} else {
				d.addrs[r.Address] = append(d.addrs[r.Address], []*x509.Certificate{c})
			}
		}
		out = append(out, d)
	}
	return out, nil
}

// directory is the peer-introduction directory in use, rebuilt when the
// stored certificates change.
type directory struct {
	cfg   *config.Config
	cm    *certs.Manager
	store storage.DirectCerts
	log   *slog.Logger
	cur   atomic.Pointer[introduce.Directory]
}

// load builds the directory from the configuration and storage; a
// failure keeps the one in use.
func (d *directory) load(ctx context.Context) error {
	pub, err := collectPublished(ctx, d.cfg, d.cm, d.store, d.log)
	if err != nil {
		return fmt.Errorf("peer introduction: %w", err)
	}
	dir := introduce.NewDirectory()
	for _, pd := range pub {
		for _, c := range pd.domain {
			dir.AddDomain(pd.name, c)
		}
		for a, chains := range pd.addrs {
			for _, c := range chains {
				dir.AddAddress(a, c)
			}
		}
	}
	d.cur.Store(dir)
	return nil
}

func (d *directory) get() *introduce.Directory { return d.cur.Load() }
