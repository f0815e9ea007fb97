// Package trusttest makes a lab PKI at test time (roots, intermediates,
// domain leaves shaped like TIM+ domain certificates, trust bundles, a fake
// revocation checker) for tests of internal/direct and of its users.
// Nothing it makes is ever written to the repository, and every validity
// window is relative to the time of the test.
package trusttest

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"
)

// Opts shape a certificate; zero values give sensible defaults.
type Opts struct {
	NotBefore, NotAfter time.Time          // default: 1 h ago, in 30 days
	DNSNames            []string           // leaf SANs; default: the domain, groupchat. and ftproxystream.
	CRLDP               []string           // default for leaves: http://crl.invalid/<issuer>.crl
	NoCRLDP             bool               // leave the CRL distribution point out
	AIA                 []string           // caIssuers URLs
	EKU                 []x509.ExtKeyUsage // nil: serverAuth and clientAuth
	NoEKU               bool               // leave the extended key usage out
	Emails              []string           // SAN rfc822Names (address-bound certificates)
	KeyUsage            x509.KeyUsage      // 0: digitalSignature and keyEncipherment
	RSA                 bool               // RSA-2048 instead of ECDSA P-256
	Bits                int                // with RSA: the key size (0: 2048)
	Key                 crypto.Signer      // reuse this key (many certificates, fast)
	CommonName          string
}

// CA is a certificate authority of the lab.
type CA struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// Leaf is an end-entity certificate and its key.
type Leaf struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

var serial struct {
	sync.Mutex
	n int64
}

func nextSerial() *big.Int {
	serial.Lock()
	defer serial.Unlock()
	serial.n++
	return big.NewInt(time.Now().UnixNano()/1000 + serial.n)
}

func newKey(tb testing.TB, o Opts) crypto.Signer {
	tb.Helper()
	if o.Key != nil {
		return o.Key
	}
	if o.RSA {
		bits := o.Bits
		if bits == 0 {
			bits = 2048
		}
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			tb.Fatal(err)
		}
		return k
	}
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func window(o Opts) (time.Time, time.Time) {
	nb, na := o.NotBefore, o.NotAfter
	if nb.IsZero() {
		nb = time.Now().Add(-time.Hour)
	}
	if na.IsZero() {
		na = time.Now().Add(30 * 24 * time.Hour)
	}
	return nb, na
}

func create(tb testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, signer crypto.Signer) *x509.Certificate {
	tb.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		tb.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// NewRoot makes a self-signed root CA.
func NewRoot(tb testing.TB, name string, o Opts) *CA {
	tb.Helper()
	key := newKey(tb, o)
	nb, na := window(o)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name, Organization: []string{"tern lab"}},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	return &CA{Cert: create(tb, tmpl, tmpl, key.Public(), key), Key: key}
}

// Intermediate makes a CA issued by ca.
func (ca *CA) Intermediate(tb testing.TB, name string, o Opts) *CA {
	tb.Helper()
	key := newKey(tb, o)
	nb, na := window(o)
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: name, Organization: []string{"tern lab"}},
		NotBefore: nb, NotAfter: na, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign, IssuingCertificateURL: o.AIA,
	}
	if !o.NoCRLDP {
		tmpl.CRLDistributionPoints = o.CRLDP
	}
	return &CA{Cert: create(tb, tmpl, ca.Cert, key.Public(), ca.Key), Key: key}
}

// Leaf makes a TIM+ domain certificate for domain issued by ca: SAN
// dNSNames domain, groupchat.domain, ftproxystream.domain; EKU serverAuth
// and clientAuth; digitalSignature|keyEncipherment; a CRL DP.
func (ca *CA) Leaf(tb testing.TB, domain string, o Opts) *Leaf {
	tb.Helper()
	key := newKey(tb, o)
	nb, na := window(o)
	names := o.DNSNames
	if names == nil {
		names = []string{domain, "groupchat." + domain, "ftproxystream." + domain}
	}
	eku := o.EKU
	if eku == nil && !o.NoEKU {
		eku = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	ku := o.KeyUsage
	if ku == 0 {
		ku = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	}
	cn := o.CommonName
	if cn == "" {
		cn = domain
	}
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: cn}, NotBefore: nb, NotAfter: na,
		DNSNames: names, EmailAddresses: o.Emails, ExtKeyUsage: eku, BasicConstraintsValid: true,
		KeyUsage:              ku,
		IssuingCertificateURL: o.AIA,
	}
	if !o.NoCRLDP {
		tmpl.CRLDistributionPoints = o.CRLDP
		if tmpl.CRLDistributionPoints == nil {
			tmpl.CRLDistributionPoints = []string{"http://crl.invalid/" + ca.Cert.Subject.CommonName + ".crl"}
		}
	}
	return &Leaf{Cert: create(tb, tmpl, ca.Cert, key.Public(), ca.Key), Key: key}
}

// PEM encodes certificates as PEM.
func PEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

// P7B makes a PKCS#7 certs-only bundle (DER).
func P7B(tb testing.TB, certs ...*x509.Certificate) []byte {
	tb.Helper()
	var raw []byte
	for _, c := range certs {
		raw = append(raw, c.Raw...)
	}
	der, err := pkcs7.DegenerateCertificate(raw)
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// SignedBundle wraps content (a P7B) in a CMS SignedData signed by
// signer/key with SHA-256, carrying the signer's certificate.
func SignedBundle(tb testing.TB, content []byte, signer *x509.Certificate, key crypto.Signer) []byte {
	tb.Helper()
	sd, err := pkcs7.NewSignedData(content)
	if err != nil {
		tb.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	if err := sd.AddSigner(signer, key, pkcs7.SignerInfoConfig{}); err != nil {
		tb.Fatal(err)
	}
	der, err := sd.Finish()
	if err != nil {
		tb.Fatal(err)
	}
	return der
}

// ErrNoCRL is what Revocations answers for an unavailable CRL.
var ErrNoCRL = errors.New("trusttest: CRL unavailable")

// Revocations is a fake revocation checker: certificates revoked by
// serial, and a switch that makes every CRL unobtainable. It satisfies
// trust.Revocation.
type Revocations struct {
	mu          sync.Mutex
	revoked     map[string]bool
	unavailable bool
	calls       int
}

// Revoke marks c revoked.
func (r *Revocations) Revoke(c *x509.Certificate) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.revoked == nil {
		r.revoked = map[string]bool{}
	}
	r.revoked[c.Issuer.String()+"/"+c.SerialNumber.String()] = true
}

// SetUnavailable makes every Check fail (or not).
func (r *Revocations) SetUnavailable(v bool) {
	r.mu.Lock()
	r.unavailable = v
	r.mu.Unlock()
}

// Calls counts Check calls.
func (r *Revocations) Calls() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// Check answers like a CRL checker with a warm cache. The result converts
// to trust.RevocationStatus (trusttest cannot import trust: use
// trust.RevocationFunc or Revocations.Adapter in the trust package tests).
func (r *Revocations) Check(ctx context.Context, c, issuer *x509.Certificate) (Status, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	if r.unavailable {
		return Status{}, ErrNoCRL
	}
	st := Status{URL: "http://crl.invalid/" + issuer.Subject.CommonName + ".crl", ThisUpdate: time.Now().Add(-time.Hour), NextUpdate: time.Now().Add(time.Hour)}
	if r.revoked[c.Issuer.String()+"/"+c.SerialNumber.String()] {
		st.Revoked, st.RevokedAt, st.Reason = true, time.Now().Add(-time.Minute), 1
	}
	return st, nil
}

// Status has the fields of trust.RevocationStatus (and of
// internal/pki/crl.Status).
type Status struct {
	Revoked    bool
	RevokedAt  time.Time
	Reason     int
	URL        string
	ThisUpdate time.Time
	NextUpdate time.Time
}
