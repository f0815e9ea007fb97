package trust

import (
	"context"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// TestValidateFor: a certificate found for a Direct address is usable only
// if bound to the address (SAN rfc822Name) or its domain (SAN dNSName),
// in its validity window, of the right key usage for the purpose (RFC 5280
// §4.2.1.3, §4.2.1.12), not revoked and chained to an anchor of the
// sender's domain (Direct Applicability Statement §4; issue 14).
func TestValidateFor(t *testing.T) {
	w := newWorld(t)
	email := []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	const addr = "nurse@b.test"
	revoked := w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, DNSNames: []string{}, Emails: []string{addr}, EKU: email})
	w.rev.Revoke(revoked.Cert)
	rows := []struct {
		name    string
		leaf    *trusttest.Leaf
		issuers []*trusttest.CA
		local   string
		purpose Purpose
		address string
		reason  Reason
		bound   Bound
	}{
		{"address-bound", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, DNSNames: []string{}, Emails: []string{addr}, EKU: email}), nil, "d1.test", PurposeEncrypt, addr, ReasonTrusted, BoundAddress},
		{"address-case", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, DNSNames: []string{}, Emails: []string{"Nurse@B.test"}, EKU: email}), nil, "d1.test", PurposeEncrypt, "NURSE@b.test", ReasonTrusted, BoundAddress},
		{"domain-bound", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, DNSNames: []string{"b.test"}, NoEKU: true}), nil, "d1.test", PurposeEncrypt, addr, ReasonTrusted, BoundDomain},
		{"domain-asked", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, DNSNames: []string{"b.test"}, NoEKU: true}), nil, "d1.test", PurposeVerify, "b.test", ReasonTrusted, ""},
		{"other-address", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, DNSNames: []string{}, Emails: []string{"doctor@b.test"}, EKU: email}), nil, "d1.test", PurposeEncrypt, addr, ReasonSANMismatch, ""},
		{"other-domain", w.ia.Leaf(t, "c.test", trusttest.Opts{RSA: true, DNSNames: []string{"c.test"}, NoEKU: true}), nil, "d1.test", PurposeEncrypt, addr, ReasonSANMismatch, ""},
		{"server-eku", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, Emails: []string{addr}}), nil, "d1.test", PurposeEncrypt, addr, ReasonBadUsage, ""},
		{"sign-only-encrypt", w.ia.Leaf(t, "b.test", trusttest.Opts{Emails: []string{addr}, EKU: email, RSA: true, KeyUsage: x509.KeyUsageDigitalSignature}), nil, "d1.test", PurposeEncrypt, addr, ReasonBadUsage, ""},
		{"sign-only-verify", w.ia.Leaf(t, "b.test", trusttest.Opts{Emails: []string{addr}, EKU: email, RSA: true, KeyUsage: x509.KeyUsageDigitalSignature}), nil, "d1.test", PurposeVerify, addr, ReasonTrusted, BoundAddress},
		{"encrypt-only-verify", w.ia.Leaf(t, "b.test", trusttest.Opts{Emails: []string{addr}, EKU: email, RSA: true, KeyUsage: x509.KeyUsageKeyEncipherment}), nil, "d1.test", PurposeVerify, addr, ReasonBadUsage, ""},
		{"ecdsa-agreement", w.ia.Leaf(t, "b.test", trusttest.Opts{Emails: []string{addr}, EKU: email, KeyUsage: x509.KeyUsageKeyAgreement}), nil, "d1.test", PurposeEncrypt, addr, ReasonTrusted, BoundAddress},
		{"ecdsa-no-agreement", w.ia.Leaf(t, "b.test", trusttest.Opts{Emails: []string{addr}, EKU: email, KeyUsage: x509.KeyUsageKeyEncipherment}), nil, "d1.test", PurposeEncrypt, addr, ReasonBadUsage, ""},
		{"expired", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, Emails: []string{addr}, EKU: email, NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), nil, "d1.test", PurposeEncrypt, addr, ReasonExpired, ""},
		{"untrusted-for-sender", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, Emails: []string{addr}, EKU: email}), nil, "d2.test", PurposeEncrypt, addr, ReasonUntrustedAnchor, ""},
		{"no-crl-dp", w.ia.Leaf(t, "b.test", trusttest.Opts{RSA: true, Emails: []string{addr}, EKU: email, NoCRLDP: true}), nil, "d1.test", PurposeEncrypt, addr, ReasonNoCRLDP, ""},
		{"revoked", revoked, nil, "d1.test", PurposeEncrypt, addr, ReasonRevoked, ""},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			res, err := w.v.ValidateFor(context.Background(), r.local, r.address, r.purpose, chainOf(r.leaf, w.ia), time.Now())
			if res.Reason != r.reason || (err == nil) != (r.reason == ReasonTrusted) {
				t.Fatalf("reason %q, err %v; want %q\n%s", res.Reason, err, r.reason, Explain(res))
			}
			if err == nil && res.Bound != r.bound {
				t.Errorf("bound %q; want %q", res.Bound, r.bound)
			}
			if err != nil && !strings.Contains(err.Error(), strings.ToLower(r.address)) {
				t.Errorf("error %q does not name the address", err)
			}
		})
	}
}
