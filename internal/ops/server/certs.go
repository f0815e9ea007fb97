package server

import (
	"fmt"
	"log/slog"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
)

// Certificates generates the missing self-signed certificates of cfg's
// domains (those without cert and key) and returns a Manager serving all
// domains. Calling it again reuses the generated files. (Here, not in
// certs: the PKI layer knows no configuration.)
func Certificates(cfg *config.Config, log *slog.Logger) (*certs.Manager, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var sources []certs.Source
	for _, d := range cfg.Domains {
		cert, key, generated := cfg.CertFiles(d)
		if generated {
			made, err := certs.EnsureSelfSigned(cert, key, d.Name, certs.Options{})
			if err != nil {
				return nil, fmt.Errorf("domain %s: %w", d.Name, err)
			}
			if made {
				log.Warn("generated a self-signed certificate: clients will warn; configure cert and key for a CA-issued one",
					"domain", d.Name, "cert", cert, "key", key)
			}
		}
		sources = append(sources, certs.Source{Domain: d.Name, CertFile: cert, KeyFile: key, PKCS12File: d.PKCS12, PasswordFile: d.PasswordFile, Direct: d.Direct})
	}
	return certs.NewManager(log, sources)
}
