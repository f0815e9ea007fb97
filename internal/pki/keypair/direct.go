package keypair

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Severity says whether a Problem stops the certificate being used.
type Severity int

const (
	Error   Severity = iota + 1 // peers will refuse the certificate
	Warning                     // works today, but fix it
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Problem is one deviation from the Direct domain certificate profile:
// Text says what is wrong and how to fix it.
type Problem struct {
	Severity Severity
	Text     string
}

func (p Problem) String() string { return p.Severity.String() + ": " + p.Text }

// ExpiryWarning is how long before NotAfter a certificate draws a warning.
const ExpiryWarning = 30 * 24 * time.Hour

// ServiceNames returns the SAN names the services of domain need: a bare
// label ("groupchat") becomes "groupchat.<domain>", a full name is kept.
func ServiceNames(domain string, services []string) []string {
	var names []string
	for _, s := range services {
		s = strings.TrimSuffix(strings.TrimSpace(s), ".")
		if s == "" {
			continue
		}
		if !strings.HasSuffix(strings.ToLower(s), "."+strings.ToLower(domain)) {
			s += "." + domain
		}
		names = append(names, s)
	}
	return names
}

var oidKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 15}

// CheckDirectDomainCert lists every problem of chain (leaf first) as the
// domain certificate of the Direct (TIM+) domain, which also serves each
// of services (see ServiceNames). An empty result means none was found.
func CheckDirectDomainCert(chain []*x509.Certificate, domain string, services []string, now time.Time) []Problem {
	var ps []Problem
	add := func(s Severity, format string, a ...any) {
		ps = append(ps, Problem{s, fmt.Sprintf(format, a...)})
	}
	if len(chain) == 0 {
		add(Error, "no certificate")
		return ps
	}
	if now.IsZero() {
		now = time.Now()
	}
	leaf := chain[0]

	// Binding: SAN dNSName equal to each name, never CN nor a wildcard.
	names := map[string]bool{}
	var wild []string
	for _, n := range leaf.DNSNames {
		a := asciiLower(n)
		names[a] = true
		if strings.HasPrefix(a, "*.") {
			wild = append(wild, n)
		}
	}
	if len(leaf.DNSNames) == 0 {
		cn := ""
		if leaf.Subject.CommonName != "" {
			cn = fmt.Sprintf(" (the subject CN %q is not used for Direct binding)", leaf.Subject.CommonName)
		}
		add(Error, "no subjectAltName dNSName%s: issue the certificate with SAN DNS:%s", cn, domain)
	}
	for _, want := range append([]string{domain}, ServiceNames(domain, services)...) {
		if names[asciiLower(want)] || len(leaf.DNSNames) == 0 && want == domain {
			continue
		}
		how := ""
		if len(wild) > 0 {
			how = fmt.Sprintf(" (the wildcard %s does not count: Direct binds exact names)", strings.Join(wild, ", "))
		}
		add(Error, "subjectAltName lacks dNSName %s%s: re-issue with SAN DNS:%s", want, how, want)
	}
	if len(wild) > 0 {
		add(Warning, "wildcard dNSName %s: Direct peers and test tools treat wildcard certificates as invalid; list exact names", strings.Join(wild, ", "))
	}

	// Revocation: peers fail closed without an obtainable CRL.
	var httpDP, otherDP []string
	for _, u := range leaf.CRLDistributionPoints {
		if pu, err := url.Parse(u); err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" {
			httpDP = append(httpDP, u)
		} else {
			otherDP = append(otherDP, u)
		}
	}
	switch {
	case len(leaf.CRLDistributionPoints) == 0:
		add(Error, "no CRL distribution point: TIM+ peers refuse a certificate whose revocation they cannot check; have the CA include an http CRL URI")
	case len(httpDP) == 0:
		add(Error, "CRL distribution point %s is not an http(s) URL: peers (tern included) fetch CRLs over HTTP only", strings.Join(otherDP, ", "))
	case len(httpDP) > 0 && strings.HasPrefix(httpDP[0], "https:"):
		add(Warning, "CRL distribution point %s uses https: RFC 5280 CRLs are signed, plain http avoids a TLS dependency peers may not have", httpDP[0])
	}

	// Validity window.
	switch {
	case now.After(leaf.NotAfter):
		add(Error, "expired on %s: renew the certificate", leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		add(Error, "not valid before %s: check the clock of this machine and of the CA", leaf.NotBefore.UTC().Format(time.RFC3339))
	case leaf.NotAfter.Sub(now) < ExpiryWarning:
		add(Warning, "expires on %s (in %d days): renew it soon", leaf.NotAfter.UTC().Format(time.RFC3339), int(leaf.NotAfter.Sub(now).Hours()/24))
	}

	// Key usage and extended key usage.
	_, isRSA := leaf.PublicKey.(*rsa.PublicKey)
	if leaf.KeyUsage == 0 {
		add(Error, "no keyUsage extension: the profile needs digitalSignature%s (critical)", map[bool]string{true: " and keyEncipherment"}[isRSA])
	} else {
		if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
			add(Error, "keyUsage lacks digitalSignature: TLS handshakes sign with the key; re-issue with it")
		}
		if isRSA && leaf.KeyUsage&x509.KeyUsageKeyEncipherment == 0 {
			add(Error, "keyUsage lacks keyEncipherment, which the TIM+ profile requires of RSA certificates; re-issue with it")
		}
		for _, e := range leaf.Extensions {
			if e.Id.Equal(oidKeyUsage) && !e.Critical {
				add(Warning, "keyUsage is not marked critical as the TIM+ profile asks")
			}
		}
	}
	var server, client, anyEKU bool
	for _, u := range leaf.ExtKeyUsage {
		switch u {
		case x509.ExtKeyUsageServerAuth:
			server = true
		case x509.ExtKeyUsageClientAuth:
			client = true
		case x509.ExtKeyUsageAny:
			anyEKU = true
		}
	}
	switch {
	case len(leaf.ExtKeyUsage) == 0 && len(leaf.UnknownExtKeyUsage) == 0:
		add(Warning, "no extendedKeyUsage: the profile asks for serverAuth and clientAuth")
	case anyEKU:
	default:
		if !server {
			add(Error, "extendedKeyUsage lacks serverAuth: peers will refuse it as a TLS server certificate; re-issue with serverAuth and clientAuth")
		}
		if !client {
			add(Warning, "extendedKeyUsage lacks clientAuth: the TIM+ profile wants it for outgoing s2s (mutual TLS); some public CAs (Let's Encrypt since 2026) no longer issue it, and strict peers may refuse the certificate as a client")
		}
	}
	if leaf.BasicConstraintsValid && leaf.IsCA {
		add(Error, "the certificate is a CA (basicConstraints cA=TRUE): use an end-entity certificate issued by the CA")
	}

	// Algorithms.
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		if k.N.BitLen() < 2048 {
			add(Error, "RSA key of %d bits: Direct needs at least 2048", k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			add(Error, "ECDSA curve %s: Direct allows P-256 and P-384", k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
		add(Error, "Ed25519 key: Direct allows RSA (2048 bits or more) and ECDSA P-256/P-384")
	default:
		add(Error, "unsupported public key type %T", k)
	}
	for i, c := range chain {
		if bytes.Equal(c.RawSubject, c.RawIssuer) && i > 0 {
			continue // a root's self-signature is not checked by peers
		}
		if weakSignature(c.SignatureAlgorithm) {
			add(Error, "%s is signed with %s: Direct needs SHA-256 or better; have the CA re-issue it", who(i, c), c.SignatureAlgorithm)
		}
	}

	// Chain: each certificate issued by the next; intermediates valid.
	if len(chain) == 1 && bytes.Equal(leaf.RawSubject, leaf.RawIssuer) && leaf.CheckSignatureFrom(leaf) == nil {
		add(Warning, "self-signed: a peer trusts it only if it adds this very certificate as an anchor; use a CA (lab: tern cert init)")
	}
	for i := 0; i+1 < len(chain); i++ {
		var weak x509.InsecureAlgorithmError
		if err := chain[i].CheckSignatureFrom(chain[i+1]); err != nil && !errors.As(err, &weak) { // weak: reported above
			add(Error, "%s is not issued by the next certificate in the file, %q (%v): put the chain in order, leaf first, and drop unrelated certificates", who(i, chain[i]), chain[i+1].Subject.String(), err)
			break
		}
	}
	for i, c := range chain[1:] {
		if now.After(c.NotAfter) || now.Before(c.NotBefore) {
			add(Error, "%s is outside its validity period (%s to %s): get the CA's current chain", who(i+1, c), c.NotBefore.UTC().Format(time.DateOnly), c.NotAfter.UTC().Format(time.DateOnly))
		}
	}
	if len(chain) == 1 && !bytes.Equal(leaf.RawSubject, leaf.RawIssuer) && len(leaf.IssuingCertificateURL) == 0 {
		add(Warning, "the file holds no intermediate and the certificate has no AIA caIssuers URL: a peer that has only the root cannot build the path; append the intermediates to the file")
	}
	return ps
}

func who(i int, c *x509.Certificate) string {
	if i == 0 {
		return "the certificate"
	}
	return fmt.Sprintf("chain certificate %d (%q)", i+1, c.Subject.String())
}

func weakSignature(a x509.SignatureAlgorithm) bool {
	switch a {
	case x509.SHA256WithRSA, x509.SHA384WithRSA, x509.SHA512WithRSA,
		x509.SHA256WithRSAPSS, x509.SHA384WithRSAPSS, x509.SHA512WithRSAPSS,
		x509.ECDSAWithSHA256, x509.ECDSAWithSHA384, x509.ECDSAWithSHA512:
		return false
	}
	return true
}

// asciiLower is the comparison form of a DNS name: A-labels, lower case,
// no trailing dot.
func asciiLower(s string) string {
	s = strings.TrimSuffix(s, ".")
	if a, err := idna.Lookup.ToASCII(s); err == nil {
		s = a
	}
	return strings.ToLower(s)
}

// CheckDirectDomain loads src and lists every problem of it as the
// certificate of the Direct domain: a load failure is one Error (its
// text names the file and the fix), key and password files readable by
// others are warnings, then CheckDirectDomainCert. It is what `tern
// check` reports for a Direct domain.
func CheckDirectDomain(src Source, domain string, services []string, now time.Time) []Problem {
	var ps []Problem
	p, err := src.Load(now)
	if err != nil && !errors.Is(err, ErrExpired) {
		return []Problem{{Error, err.Error()}}
	}
	for _, f := range []string{src.KeyFile, src.PKCS12File, src.PasswordFile} {
		if f == "" {
			continue
		}
		if fi, err := os.Stat(f); err == nil && fi.Mode().Perm()&0o077 != 0 {
			ps = append(ps, Problem{Warning, fmt.Sprintf("%s is readable by other users (mode %04o): chmod 600 %s", f, fi.Mode().Perm(), f)})
		}
	}
	return append(ps, CheckDirectDomainCert(p.Chain, domain, services, now)...)
}
