package trust

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"strings"
	"time"
)

// Purpose is what a discovered certificate is for (Direct Applicability
// Statement §4: a recipient's certificate to encrypt to, a sender's to
// check a signature with).
type Purpose string

const (
	PurposeEncrypt Purpose = "encrypt"
	PurposeVerify  Purpose = "verify"
)

// Bound says how a leaf is bound to a Direct address (AS §4.2).
type Bound string

const (
	BoundAddress Bound = "address" // SAN rfc822Name = the address
	BoundDomain  Bound = "domain"  // SAN dNSName = the address's domain
)

// ValidateFor checks a certificate found for a Direct address (by DNS
// CERT, LDAP or a peer's introduction) against the circles of local, the
// sender's domain: the steps of Validate, with the binding step accepting
// a SAN rfc822Name equal to the address (address-bound) or else a SAN
// dNSName equal to its domain (domain-bound), a key-usage step for the
// purpose (RFC 5280 §4.2.1.3, §4.2.1.12: a key usage or extended key
// usage, when present, must allow it), and the path built for
// emailProtection. The address is compared case-insensitively, as the
// Direct RI does.
func (v *Validator) ValidateFor(ctx context.Context, local, address string, purpose Purpose, chain []*x509.Certificate, now time.Time) (*Result, error) {
	addr := strings.ToLower(address)
	_, domain, ok := strings.Cut(addr, "@")
	if !ok {
		addr, domain = "", addr // a domain as such: domain-bound only
	}
	return v.runFor(ctx, local, binding{domain: domain, address: addr, purpose: purpose,
		eku: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}}, chain, now, false)
}

// allows reports whether leaf's key may serve p, with the reason.
func (p Purpose) allows(leaf *x509.Certificate) (string, bool) {
	if !SMIMEUsable(leaf) {
		return "the extended key usage does not allow S/MIME (emailProtection)", false
	}
	if leaf.KeyUsage == 0 {
		return "no key usage extension: any use", true
	}
	switch p {
	case PurposeVerify:
		if leaf.KeyUsage&(x509.KeyUsageDigitalSignature|x509.KeyUsageContentCommitment) != 0 {
			return "key usage allows signatures", true
		}
		return "key usage does not allow digitalSignature: not a signing certificate", false
	case PurposeEncrypt:
		switch leaf.PublicKey.(type) {
		case *rsa.PublicKey:
			if leaf.KeyUsage&x509.KeyUsageKeyEncipherment != 0 {
				return "key usage allows keyEncipherment", true
			}
			return "key usage does not allow keyEncipherment: not an encryption certificate", false
		case *ecdsa.PublicKey:
			if leaf.KeyUsage&x509.KeyUsageKeyAgreement != 0 {
				return "key usage allows keyAgreement", true
			}
			return "key usage does not allow keyAgreement: not an encryption certificate", false
		case ed25519.PublicKey:
			return "an Ed25519 key cannot encrypt", false
		}
		return "the key type cannot encrypt", false
	}
	return "unknown purpose " + string(p), false
}

// SMIMEUsable: c has no extended key usage, or one that allows
// emailProtection (RFC 5280 §4.2.1.12): it may serve S/MIME.
func SMIMEUsable(c *x509.Certificate) bool {
	if len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0 {
		return true
	}
	for _, u := range c.ExtKeyUsage {
		if u == x509.ExtKeyUsageAny || u == x509.ExtKeyUsageEmailProtection {
			return true
		}
	}
	return false
}

// BoundTo is how leaf is bound to who (an address, or a domain as such):
// BoundAddress, BoundDomain, or "" when it names neither (CN unused).
func BoundTo(leaf *x509.Certificate, who string) Bound {
	who = strings.ToLower(who)
	if _, domain, ok := strings.Cut(who, "@"); ok {
		if hasEmail(leaf, who) {
			return BoundAddress
		}
		if hasDNSName(leaf, NormalizeDomain(domain)) {
			return BoundDomain
		}
		return ""
	}
	if hasDNSName(leaf, NormalizeDomain(who)) {
		return BoundDomain
	}
	return ""
}

func hasEmail(c *x509.Certificate, address string) bool {
	for _, e := range c.EmailAddresses {
		if strings.EqualFold(e, address) {
			return true
		}
	}
	return false
}

func hasDNSName(c *x509.Certificate, domain string) bool {
	for _, n := range c.DNSNames {
		if NormalizeDomain(n) == domain {
			return true
		}
	}
	return false
}
