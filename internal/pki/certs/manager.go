package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/idna"
)

// Source names the files of one domain's certificate.
type Source struct {
	Domain   string // prepared JID domain
	CertFile string // PEM chain, leaf first
	KeyFile  string // PEM private key
}

// Info describes the certificate serving one domain, for logs and checks.
type Info struct {
	Domain     string
	CertFile   string
	Subject    string
	Issuer     string
	NotAfter   time.Time
	DNSNames   []string
	SelfSigned bool
}

// Manager holds one certificate per domain and picks one per handshake.
// It is safe for concurrent use; Reload swaps all certificates at once.
type Manager struct {
	log     *slog.Logger
	sources []Source
	state   atomic.Pointer[state]
}

type state struct {
	byDomain map[string]*tls.Certificate // A-label domain -> cert
	byName   map[string]*tls.Certificate // exact DNS SAN -> cert
	wild     map[string]*tls.Certificate // "example.org" for SAN "*.example.org"
	def      *tls.Certificate
	infos    []Info
}

// NewManager loads every source; the first one is the default certificate
// for clients that send no or an unknown SNI. log may be nil.
func NewManager(log *slog.Logger, sources []Source) (*Manager, error) {
	if len(sources) == 0 {
		return nil, errors.New("certs: no domain to serve: configure at least one [[domain]]")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Manager{log: log, sources: append([]Source(nil), sources...)}
	if err := m.Reload(); err != nil {
		return nil, err
	}
	return m, nil
}

// Reload re-reads every file. On any error the certificates in use are
// kept and the error names each file that failed. Call it on SIGHUP.
func (m *Manager) Reload() error {
	st := &state{
		byDomain: map[string]*tls.Certificate{},
		byName:   map[string]*tls.Certificate{},
		wild:     map[string]*tls.Certificate{},
	}
	var errs []error
	for _, s := range m.sources {
		pair, err := tls.LoadX509KeyPair(s.CertFile, s.KeyFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("certs: domain %s: loading %s and %s: %w", s.Domain, s.CertFile, s.KeyFile, err))
			continue
		}
		c := &pair
		leaf := c.Leaf
		st.byDomain[asciiDomain(s.Domain)] = c
		// Several domains may share one certificate; the first domain wins
		// for names its own entry does not claim.
		for _, n := range leaf.DNSNames {
			n = strings.ToLower(n)
			if rest, ok := strings.CutPrefix(n, "*."); ok {
				if _, dup := st.wild[rest]; !dup {
					st.wild[rest] = c
				}
			} else if _, dup := st.byName[n]; !dup {
				st.byName[n] = c
			}
		}
		if st.def == nil {
			st.def = c
		}
		st.infos = append(st.infos, Info{
			Domain:     s.Domain,
			CertFile:   s.CertFile,
			Subject:    leaf.Subject.String(),
			Issuer:     leaf.Issuer.String(),
			NotAfter:   leaf.NotAfter,
			DNSNames:   leaf.DNSNames,
			SelfSigned: IsSelfSigned(leaf),
		})
	}
	if err := errors.Join(errs...); err != nil {
		if m.state.Load() != nil {
			return fmt.Errorf("%w (still serving the previous certificates)", err)
		}
		return err
	}
	m.state.Store(st)
	for _, in := range st.infos {
		m.log.Info("certificate", "domain", in.Domain, "subject", in.Subject, "issuer", in.Issuer,
			"not_after", in.NotAfter.UTC().Format(time.RFC3339), "self_signed", in.SelfSigned, "file", in.CertFile)
	}
	return nil
}

// GetCertificate chooses by SNI: a domain's own certificate, then any
// certificate naming the host exactly, then one with a matching wildcard,
// then the first domain's certificate. Use it as tls.Config.GetCertificate.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	st := m.state.Load()
	name := asciiDomain(hello.ServerName)
	if name == "" {
		return st.def, nil
	}
	if c, ok := st.byDomain[name]; ok {
		return c, nil
	}
	if c, ok := st.byName[name]; ok {
		return c, nil
	}
	if _, rest, ok := strings.Cut(name, "."); ok {
		if c, ok := st.wild[rest]; ok {
			return c, nil
		}
	}
	return st.def, nil
}

// Certificate returns the certificate of a configured domain.
func (m *Manager) Certificate(domain string) (*tls.Certificate, bool) {
	c, ok := m.state.Load().byDomain[asciiDomain(domain)]
	return c, ok
}

// Infos describes the certificate serving each domain, in source order.
func (m *Manager) Infos() []Info {
	return append([]Info(nil), m.state.Load().infos...)
}

// asciiDomain is the lowercase A-label form SNI uses (RFC 6066 §3).
func asciiDomain(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if a, err := idna.Lookup.ToASCII(s); err == nil {
		return a
	}
	return s
}
