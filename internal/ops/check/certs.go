package check

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"golang.org/x/net/idna"
)

// ExpiryWarning is how close to expiry a certificate gets a warning.
const ExpiryWarning = 30 * 24 * time.Hour

// Certificates checks each domain's certificate at time now.
func Certificates(cfg *config.Config, now time.Time) []Result {
	var rs []Result
	for _, d := range cfg.Domains {
		if d.Direct || d.PKCS12 != "" {
			rs = append(rs, directCert(cfg, d, &Checker{Now: func() time.Time { return now }})...)
			continue
		}
		rs = append(rs, Certificate(cfg, d, now)...)
	}
	return rs
}

// Certificate checks one domain's certificate files.
func Certificate(cfg *config.Config, d config.Domain, now time.Time) []Result {
	name := "cert " + d.Name
	certFile, keyFile, generated := cfg.CertFiles(d)
	certPEM, err := os.ReadFile(certFile)
	if generated && errors.Is(err, fs.ErrNotExist) {
		return []Result{{Info, name, fmt.Sprintf("no certificate yet: tern serve will generate a self-signed one in %s (set cert and key in [[domain]] to use a CA-issued one)", certFile)}}
	}
	if err != nil {
		return []Result{{Error, name, fmt.Sprintf("cannot read %v: check the cert path and that tern's user may read it", err)}}
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return []Result{{Error, name, fmt.Sprintf("cannot read %v: check the key path and that tern's user may read it", err)}}
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		if !hasCert(certPEM) {
			return []Result{{Error, name, fmt.Sprintf("%s holds no PEM certificate: point cert at the PEM chain (e.g. fullchain.pem)", certFile)}}
		}
		return []Result{{Error, name, fmt.Sprintf("%s and %s do not make a pair (%v): the key must be the certificate's private key", certFile, keyFile, err)}}
	}
	leaf := pair.Leaf
	rs := []Result{{OK, name, fmt.Sprintf("%s: key matches, subject %q, issuer %q", certFile, leaf.Subject.CommonName, leaf.Issuer.CommonName)}}
	add := func(s Severity, format string, a ...any) { rs = append(rs, Result{s, name, fmt.Sprintf(format, a...)}) }

	left := leaf.NotAfter.Sub(now)
	switch {
	case now.Before(leaf.NotBefore):
		add(Error, "not valid before %s: check the system clock or wait", leaf.NotBefore.UTC().Format(time.DateOnly))
	case left <= 0:
		add(Error, "expired on %s: renew it (then `kill -HUP` tern to reload)", leaf.NotAfter.UTC().Format(time.DateOnly))
	case left < ExpiryWarning:
		add(Warning, "expires on %s, in %s: renew it soon", leaf.NotAfter.UTC().Format(time.DateOnly), days(left))
	default:
		add(OK, "valid until %s (%s)", leaf.NotAfter.UTC().Format(time.DateOnly), days(left))
	}

	if err := leaf.VerifyHostname(asciiDomain(d.Name)); err != nil {
		add(Error, "does not cover %s (it names %s): get a certificate with DNS name %s", d.Name, namesOf(leaf), d.Name)
	} else {
		add(OK, "names cover %s", d.Name)
	}
	if len(leaf.ExtKeyUsage) > 0 && !slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageServerAuth) &&
		!slices.Contains(leaf.ExtKeyUsage, x509.ExtKeyUsageAny) {
		add(Error, "not usable by a server (no serverAuth extended key usage): get a TLS server certificate")
	}

	if certs.IsSelfSigned(leaf) {
		add(Warning, "self-signed: clients will warn; federation will need dialback (set cert and key to a CA-issued certificate, e.g. Let's Encrypt)")
		return rs
	}
	inter := x509.NewCertPool()
	for _, der := range pair.Certificate[1:] {
		if c, err := x509.ParseCertificate(der); err == nil {
			inter.AddCert(c)
		}
	}
	_, err = leaf.Verify(x509.VerifyOptions{Intermediates: inter, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	if err != nil {
		add(Warning, "not trusted by this system (%v): clients will reject it; serve the full chain (fullchain.pem) or install the CA", err)
	} else {
		add(OK, "chains to a trusted root")
	}
	return rs
}

func hasCert(b []byte) bool {
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return false
		}
		if blk.Type == "CERTIFICATE" {
			return true
		}
	}
}

func namesOf(c *x509.Certificate) string {
	names := append([]string(nil), c.DNSNames...)
	names = append(names, certs.XMPPAddrs(c)...)
	if len(names) == 0 {
		return "no DNS name, only CN " + c.Subject.CommonName
	}
	return strings.Join(names, ", ")
}

func asciiDomain(s string) string {
	if a, err := idna.Lookup.ToASCII(s); err == nil {
		return a
	}
	return s
}

// days says how many whole days d is: "1 day", "30 days", "less than a day".
func days(d time.Duration) string {
	n := int(d.Hours() / 24)
	if n == 0 {
		return "less than a day"
	}
	return amount(n, "day")
}
