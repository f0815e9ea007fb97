package certs

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/pki/keypair"
	"golang.org/x/net/idna"
)

// Source names the files of one domain's certificate: PEM files, or a
// PKCS#12 file (internal/pki/keypair reads both, with the whole chain).
type Source struct {
	Domain       string // prepared JID domain
	CertFile     string // PEM chain, leaf first
	KeyFile      string // PEM private key
	PKCS12File   string // instead of CertFile and KeyFile
	PasswordFile string // the PKCS#12 password on its first line; "" = none
	// Direct: a TLS client naming this domain or a name under it
	// (groupchat.<domain>, ftproxystream.<domain>) gets a certificate with
	// that exact SAN dNSName or no handshake (TIM+): never a wildcard or
	// the default certificate.
	Direct bool
}

func (s Source) file() string {
	if s.PKCS12File != "" {
		return s.PKCS12File
	}
	return s.CertFile
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

	refusedLog atomic.Int64 // unix ns of the last refusal logged
}

type state struct {
	byDomain map[string]*tls.Certificate // A-label domain -> cert
	byName   map[string]*tls.Certificate // exact DNS SAN -> cert
	wild     map[string]*tls.Certificate // "example.org" for SAN "*.example.org"
	direct   map[string]bool             // A-label domain -> Direct (see Source.Direct)
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
		direct:   map[string]bool{},
	}
	var errs []error
	for _, s := range m.sources {
		st.direct[asciiDomain(s.Domain)] = s.Direct
	}
	for _, s := range m.sources {
		kp, err := keypair.Source{CertFile: s.CertFile, KeyFile: s.KeyFile, PKCS12File: s.PKCS12File, PasswordFile: s.PasswordFile}.Load(time.Now())
		if errors.Is(err, keypair.ErrExpired) && kp != nil {
			// Served anyway, as before: peers say why they refuse it, and
			// `tern check` reports it; a reload must not fail on it.
			m.log.Warn("certificate outside its validity period", "domain", s.Domain, "err", err)
			err = nil
		}
		if err != nil {
			if s.PKCS12File != "" {
				errs = append(errs, fmt.Errorf("certs: domain %s: loading %s: %w", s.Domain, s.PKCS12File, err))
			} else {
				errs = append(errs, fmt.Errorf("certs: domain %s: loading %s and %s: %w", s.Domain, s.CertFile, s.KeyFile, err))
			}
			continue
		}
		// The whole chain (leaf and intermediates), served as TLS server
		// and as s2s client certificate, so peers can build the path.
		pair := kp.TLSCertificate()
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
			CertFile:   s.file(),
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
// then the first domain's certificate. A name of a Direct domain (or under
// one) takes only a certificate with that exact SAN dNSName, else the
// handshake fails (TIM+, timplus.md §5 item 2). Use it as
// tls.Config.GetCertificate.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	st := m.state.Load()
	name := asciiDomain(hello.ServerName)
	if name == "" {
		return st.def, nil
	}
	if st.strict(name) {
		if c, ok := st.byDomain[name]; ok && hasDNSName(c, name) {
			return c, nil
		}
		if c, ok := st.byName[name]; ok {
			return c, nil
		}
		err := fmt.Errorf("certs: no certificate has SAN dNSName %s, which a Direct domain's name needs exactly; add it to the domain's certificate", name)
		// A misconfiguration the operator must see, but any client can
		// send such names: at most one line a minute.
		if now := time.Now().UnixNano(); now-m.refusedLog.Load() > int64(time.Minute) {
			m.refusedLog.Store(now)
			m.log.Warn("TLS handshake refused", "sni", name, "err", err)
		}
		return nil, err
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

// strict: name is a Direct domain or under one (and not itself a plain
// domain served here).
func (st *state) strict(name string) bool {
	if d, ok := st.direct[name]; ok {
		return d
	}
	for rest := name; ; {
		_, after, ok := strings.Cut(rest, ".")
		if !ok {
			return false
		}
		if d, ok := st.direct[after]; ok {
			return d // the nearest served domain decides
		}
		rest = after
	}
}

func hasDNSName(c *tls.Certificate, name string) bool {
	for _, n := range c.Leaf.DNSNames {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// Certificate returns the certificate of a configured domain, or for
// another local name (a service such as ftproxystream.<domain>) the one
// whose SAN carries it exactly: the s2s client certificate of a stream
// from that name.
func (m *Manager) Certificate(domain string) (*tls.Certificate, bool) {
	st := m.state.Load()
	name := asciiDomain(domain)
	if c, ok := st.byDomain[name]; ok {
		return c, true
	}
	c, ok := st.byName[name]
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
