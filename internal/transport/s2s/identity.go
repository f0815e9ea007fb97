package s2s

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/pki/certs"
	"golang.org/x/net/idna"
)

// VerifyPeer checks that chain (leaf first, as sent in TLS) is a valid
// certificate for domain: it chains to roots (nil: the system roots) for
// serverAuth, which is what peers' certificates carry whichever side of
// the connection they are on (Let's Encrypt issues serverAuth only), and
// it names domain (RFC 6125 §6 as profiled by RFC 6120 §13.7.1.2).
func VerifyPeer(chain []*x509.Certificate, domain string, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("the peer sent no certificate")
	}
	leaf := chain[0]
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	if _, err := leaf.Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}); err != nil {
		return fmt.Errorf("certificate does not chain to a trusted root: %w", err)
	}
	if !Names(leaf, domain) {
		return fmt.Errorf("certificate does not name %s", domain)
	}
	return nil
}

// Names reports whether the certificate's identities cover domain:
// an XmppAddr equal to it, an SRV-ID _xmpp-server.<domain> or
// _xmpps-server.<domain>, or a DNS-ID (a wildcard only as the whole
// leftmost label, RFC 6125 §6.4.3). The CN counts only when the
// certificate has no such identity at all (RFC 6125 §6.4.4).
func Names(c *x509.Certificate, domain string) bool {
	a := asciiDomain(domain)
	if a == "" {
		return false
	}
	for _, x := range certs.XMPPAddrs(c) {
		if asciiDomain(x) == a {
			return true
		}
	}
	srv := certs.SRVNames(c)
	for _, s := range srv {
		svc, name, ok := strings.Cut(s, ".")
		if ok && (svc == "_xmpp-server" || svc == "_xmpps-server") && asciiDomain(name) == a {
			return true
		}
	}
	for _, n := range c.DNSNames {
		if matchDNS(strings.ToLower(n), a) {
			return true
		}
	}
	if len(c.DNSNames) == 0 && len(srv) == 0 && len(c.URIs) == 0 && len(certs.XMPPAddrs(c)) == 0 {
		return asciiDomain(c.Subject.CommonName) == a
	}
	return false
}

func matchDNS(pattern, domain string) bool {
	pattern = strings.TrimSuffix(pattern, ".")
	if pattern == domain {
		return true
	}
	rest, ok := strings.CutPrefix(pattern, "*.")
	if !ok || strings.Count(rest, ".") < 1 {
		return false // no wildcard, or one covering a whole TLD
	}
	_, dom, ok := strings.Cut(domain, ".")
	return ok && dom == rest
}

// asciiDomain is the lowercase A-label form certificates use.
func asciiDomain(s string) string {
	s = strings.ToLower(strings.TrimSuffix(s, "."))
	if a, err := idna.Lookup.ToASCII(s); err == nil {
		return a
	}
	return s
}
