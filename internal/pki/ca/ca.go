package ca

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/smallstep/pkcs7"
	"golang.org/x/net/idna"

	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

// KeyType is the key algorithm of a CA or a certificate.
type KeyType string

const (
	RSA2048   KeyType = "rsa"   // RSA 2048 bits, SHA-256 signatures
	ECDSAP256 KeyType = "ecdsa" // ECDSA P-256, SHA-256 signatures
)

// ParseKeyType accepts "rsa", "rsa2048", "ecdsa", "p256" and "ec".
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(strings.ReplaceAll(s, "-", "")) {
	case "rsa", "rsa2048":
		return RSA2048, nil
	case "ecdsa", "ec", "p256", "ecdsap256":
		return ECDSAP256, nil
	}
	return "", fmt.Errorf("unknown key type %q: use rsa (RSA-2048) or ecdsa (P-256)", s)
}

// Usage says what an address-bound certificate's key is for. Direct
// senders sign with a digitalSignature certificate and encrypt to a
// keyEncipherment one; a dual-use certificate does both.
type Usage string

const (
	Signing    Usage = "sign"
	Encryption Usage = "encrypt"
	Dual       Usage = "dual"
)

// ParseUsage accepts sign|signing, encrypt|encryption and dual.
func ParseUsage(s string) (Usage, error) {
	switch strings.ToLower(s) {
	case "sign", "signing":
		return Signing, nil
	case "encrypt", "encryption":
		return Encryption, nil
	case "dual", "":
		return Dual, nil
	}
	return "", fmt.Errorf("unknown usage %q: use sign, encrypt or dual", s)
}

// Defaults of a lab CA.
const (
	DefaultBaseURL     = "http://127.0.0.1:5280" // tern's [http] listener
	DefaultCAValidity  = 10 * 365 * 24 * time.Hour
	DefaultValidity    = 365 * 24 * time.Hour
	DefaultCRLValidity = 7 * 24 * time.Hour
)

// Options configures Init.
type Options struct {
	Name string  // path segment of the URLs and subject O/CN: letters, digits, '.', '_', '-'
	Key  KeyType // default RSA2048
	// CRLURL and AIAURL are the CRL distribution point and caIssuers URL
	// put into issued certificates; default BaseURL/pki/<Name>/crl.der
	// and .../ca.der.
	CRLURL, AIAURL string
	BaseURL        string // default DefaultBaseURL
	// Intermediate makes a root and an issuing intermediate below it, so
	// that leaves chain through an intermediate.
	Intermediate bool
	Validity     time.Duration // of the CA certificates; default DefaultCAValidity
	Now          func() time.Time
}

// Entry is one issued certificate in the index.
type Entry struct {
	Serial    string    `json:"serial"` // hex
	Kind      string    `json:"kind"`   // "domain" or "address"
	Subject   string    `json:"subject"`
	Names     []string  `json:"names"`
	Key       KeyType   `json:"key"`
	Usage     Usage     `json:"usage,omitempty"`
	NotAfter  time.Time `json:"not_after"`
	CertFile  string    `json:"cert_file"` // relative to the CA directory
	KeyFile   string    `json:"key_file"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Reason    int       `json:"reason,omitempty"` // RFC 5280 §5.3.1 CRLReason
}

// Revoked reports whether the entry is revoked.
func (e Entry) Revoked() bool { return !e.RevokedAt.IsZero() }

type index struct {
	Name          string  `json:"name"`
	Key           KeyType `json:"key"`
	CRLURL        string  `json:"crl_url"`
	AIAURL        string  `json:"aia_url"`
	RootCRLURL    string  `json:"root_crl_url,omitempty"`
	RootAIAURL    string  `json:"root_aia_url,omitempty"`
	Intermediate  bool    `json:"intermediate"`
	NextSerial    int64   `json:"next_serial"`
	CRLNumber     int64   `json:"crl_number"`
	RootCRLNumber int64   `json:"root_crl_number,omitempty"`
	Issued        []Entry `json:"issued"`
}

// CA is an opened CA directory. It is not safe for concurrent use, nor
// for two processes at once.
type CA struct {
	Dir     string
	idx     index
	cert    *x509.Certificate // issuing CA
	key     crypto.Signer
	root    *x509.Certificate // == cert without an intermediate
	rootKey crypto.Signer     // nil without an intermediate
	now     func() time.Time
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

const indexFile = "index.json"

// Init creates a CA in dir, which must not hold one yet, and publishes its
// first (empty) CRL and its trust bundle.
func Init(dir string, o Options) (*CA, error) {
	if !nameRE.MatchString(o.Name) {
		return nil, fmt.Errorf("CA name %q: use letters, digits, '.', '_' and '-' (it becomes part of the URLs /pki/<name>/)", o.Name)
	}
	if _, err := os.Stat(filepath.Join(dir, indexFile)); err == nil {
		return nil, fmt.Errorf("%s already holds a CA (%s): use another directory, or remove it to start over", dir, indexFile)
	}
	if o.Key == "" {
		o.Key = RSA2048
	}
	if o.Validity == 0 {
		o.Validity = DefaultCAValidity
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	base := strings.TrimSuffix(o.BaseURL, "/")
	if base == "" {
		base = DefaultBaseURL
	}
	prefix := base + "/pki/" + o.Name + "/"
	idx := index{Name: o.Name, Key: o.Key, CRLURL: o.CRLURL, AIAURL: o.AIAURL, Intermediate: o.Intermediate, NextSerial: 1, CRLNumber: 1, RootCRLNumber: 1}
	if idx.CRLURL == "" {
		idx.CRLURL = prefix + "crl.der"
	}
	if idx.AIAURL == "" {
		idx.AIAURL = prefix + "ca.der"
	}
	for _, u := range []string{idx.CRLURL, idx.AIAURL} {
		if pu, err := url.Parse(u); err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || pu.Host == "" {
			return nil, fmt.Errorf("URL %q: want an absolute http(s) URL such as %scrl.der", u, prefix)
		}
	}
	if o.Intermediate {
		idx.RootCRLURL = prefix + "root-crl.der"
		idx.RootAIAURL = prefix + "root.der"
	}
	if err := os.MkdirAll(filepath.Join(dir, "issued"), 0o700); err != nil {
		return nil, err
	}
	c := &CA{Dir: dir, idx: idx, now: o.Now}
	now := o.Now()
	rootKey, err := generateKey(o.Key)
	if err != nil {
		return nil, err
	}
	rootCN := o.Name + " Lab Root CA"
	if !o.Intermediate {
		rootCN = o.Name + " Lab CA"
	}
	root, err := c.sign(&x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: rootCN, Organization: []string{o.Name}},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(o.Validity),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		SubjectKeyId:          skid(rootKey.Public()),
	}, rootKey.Public(), nil, rootKey)
	if err != nil {
		return nil, err
	}
	c.cert, c.key, c.root = root, rootKey, root
	if o.Intermediate {
		ik, err := generateKey(o.Key)
		if err != nil {
			return nil, err
		}
		inter, err := c.sign(&x509.Certificate{
			SerialNumber:          randomSerial(),
			Subject:               pkix.Name{CommonName: o.Name + " Lab Issuing CA", Organization: []string{o.Name}},
			NotBefore:             now.Add(-5 * time.Minute),
			NotAfter:              now.Add(o.Validity - time.Hour),
			IsCA:                  true,
			MaxPathLenZero:        true,
			BasicConstraintsValid: true,
			KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
			SubjectKeyId:          skid(ik.Public()),
			CRLDistributionPoints: []string{idx.RootCRLURL},
			IssuingCertificateURL: []string{idx.RootAIAURL},
		}, ik.Public(), root, rootKey)
		if err != nil {
			return nil, err
		}
		c.cert, c.key, c.rootKey = inter, ik, rootKey
		if err := writeCert(dir, "root", root); err != nil {
			return nil, err
		}
		if err := writeKey(filepath.Join(dir, "root.key"), rootKey); err != nil {
			return nil, err
		}
	}
	if err := writeCert(dir, "ca", c.cert); err != nil {
		return nil, err
	}
	if err := writeKey(filepath.Join(dir, "ca.key"), c.key); err != nil {
		return nil, err
	}
	var chain []byte
	if o.Intermediate {
		chain = pemCert(c.cert)
	}
	if err := writeFileAtomic(filepath.Join(dir, "chain.pem"), chain, 0o644); err != nil {
		return nil, err
	}
	p7, err := pkcs7.DegenerateCertificate(root.Raw)
	if err != nil {
		return nil, fmt.Errorf("trust bundle: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "bundle.p7b"), p7, 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(dir, "bundle.pem"), pemCert(root), 0o644); err != nil {
		return nil, err
	}
	if _, err := c.PublishCRL(0); err != nil {
		return nil, err
	}
	return c, nil
}

// Open loads the CA in dir.
func Open(dir string) (*CA, error) {
	b, err := os.ReadFile(filepath.Join(dir, indexFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%s holds no CA (no %s): create one with `tern cert init --dir %s --name NAME`", dir, indexFile, dir)
	} else if err != nil {
		return nil, err
	}
	c := &CA{Dir: dir, now: time.Now}
	if err := json.Unmarshal(b, &c.idx); err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, indexFile), err)
	}
	p, err := keypair.LoadPEMFiles(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), time.Time{})
	if err != nil {
		return nil, fmt.Errorf("CA %s: %w", c.idx.Name, err)
	}
	c.cert, c.key, c.root = p.Leaf(), p.Key, p.Leaf()
	if c.idx.Intermediate {
		rp, err := keypair.LoadPEMFiles(filepath.Join(dir, "root.pem"), filepath.Join(dir, "root.key"), time.Time{})
		if err != nil {
			return nil, fmt.Errorf("CA %s: %w", c.idx.Name, err)
		}
		c.root, c.rootKey = rp.Leaf(), rp.Key
	}
	return c, nil
}

// Name is the CA's name, the path segment under /pki/.
func (c *CA) Name() string { return c.idx.Name }

// Certificate is the issuing CA certificate (the intermediate if any).
func (c *CA) Certificate() *x509.Certificate { return c.cert }

// Root is the trust anchor peers load (the bundle's content).
func (c *CA) Root() *x509.Certificate { return c.root }

// CRLURL and AIAURL are what issued certificates point to.
func (c *CA) CRLURL() string { return c.idx.CRLURL }
func (c *CA) AIAURL() string { return c.idx.AIAURL }

// Entries returns the index of issued certificates, oldest first.
func (c *CA) Entries() []Entry { return append([]Entry(nil), c.idx.Issued...) }

// SetNow replaces the clock (tests).
func (c *CA) SetNow(now func() time.Time) { c.now = now }

// Issued is a certificate just issued.
type Issued struct {
	Entry
	Cert     *x509.Certificate
	Chain    []*x509.Certificate // leaf, then the intermediate if any (not the root)
	CertPath string              // absolute or as given by Dir
	KeyPath  string
}

// IssueDomain issues a domain-bound certificate for a Direct/TIM+ domain:
// SAN dNSName = domain plus each service name (ServiceNames), serverAuth
// and clientAuth, with the CRL DP and AIA of the CA. validity 0 means
// DefaultValidity; a negative one makes an already expired certificate
// (for tests of the refusal).
func (c *CA) IssueDomain(domain string, services []string, kt KeyType, validity time.Duration) (*Issued, error) {
	d, err := normDomain(domain)
	if err != nil {
		return nil, err
	}
	names := []string{d}
	for _, s := range keypair.ServiceNames(d, services) {
		n, err := normDomain(s)
		if err != nil {
			return nil, fmt.Errorf("service name: %w", err)
		}
		names = append(names, n)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: d, Organization: []string{c.idx.Name}},
		DNSNames:    names,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	return c.issue("domain", d, names, tmpl, kt, "", validity)
}

// IssueDomainSMIME issues a domain-bound S/MIME certificate, a Direct
// organization's (Applicability Statement §4): SAN dNSName = domain only,
// emailProtection, key usage u (default dual). It signs and decrypts
// messages for every address of the domain; it is not a TLS certificate.
func (c *CA) IssueDomainSMIME(domain string, kt KeyType, u Usage, validity time.Duration) (*Issued, error) {
	d, err := normDomain(domain)
	if err != nil {
		return nil, err
	}
	if u == "" {
		u = Dual
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: d, Organization: []string{c.idx.Name}},
		DNSNames:    []string{d},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	return c.issue("domain-smime", d, []string{d}, tmpl, kt, u, validity)
}

// IssueAddress issues an address-bound certificate (SAN rfc822Name =
// address, emailProtection) for Direct messaging.
func (c *CA) IssueAddress(address string, kt KeyType, u Usage, validity time.Duration) (*Issued, error) {
	local, dom, ok := strings.Cut(address, "@")
	if !ok || local == "" || strings.ContainsAny(local, " \t<>@") {
		return nil, fmt.Errorf("address %q: want a Direct address such as nurse@b.example", address)
	}
	d, err := normDomain(dom)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", address, err)
	}
	addr := local + "@" + d
	if u == "" {
		u = Dual
	}
	tmpl := &x509.Certificate{
		Subject:        pkix.Name{CommonName: addr, Organization: []string{c.idx.Name}},
		EmailAddresses: []string{addr},
		ExtKeyUsage:    []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	return c.issue("address", addr, []string{addr}, tmpl, kt, u, validity)
}

func (c *CA) issue(kind, subject string, names []string, tmpl *x509.Certificate, kt KeyType, u Usage, validity time.Duration) (*Issued, error) {
	if kt == "" {
		kt = RSA2048
	}
	if validity == 0 {
		validity = DefaultValidity
	}
	key, err := generateKey(kt)
	if err != nil {
		return nil, err
	}
	_, isRSA := key.Public().(*rsa.PublicKey)
	switch u {
	case "": // domain: TLS
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		if isRSA {
			tmpl.KeyUsage |= x509.KeyUsageKeyEncipherment
		}
	case Signing:
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	case Encryption, Dual:
		if isRSA {
			tmpl.KeyUsage = x509.KeyUsageKeyEncipherment
		} else {
			tmpl.KeyUsage = x509.KeyUsageKeyAgreement // ECDH, RFC 5753
		}
		if u == Dual {
			tmpl.KeyUsage |= x509.KeyUsageDigitalSignature
		}
	default:
		return nil, fmt.Errorf("unknown usage %q", u)
	}
	now := c.now()
	serial := c.idx.NextSerial
	tmpl.SerialNumber = big.NewInt(serial)
	tmpl.NotBefore = now.Add(-5 * time.Minute)
	tmpl.NotAfter = now.Add(validity)
	if validity < 0 {
		tmpl.NotBefore = now.Add(2 * validity)
	}
	tmpl.BasicConstraintsValid = true
	tmpl.CRLDistributionPoints = []string{c.idx.CRLURL}
	tmpl.IssuingCertificateURL = []string{c.idx.AIAURL}
	tmpl.SubjectKeyId = skid(key.Public())
	cert, err := c.sign(tmpl, key.Public(), c.cert, c.key)
	if err != nil {
		return nil, err
	}
	chain := []*x509.Certificate{cert}
	if c.idx.Intermediate {
		chain = append(chain, c.cert)
	}
	base := fileName(subject)
	if _, err := os.Stat(filepath.Join(c.Dir, "issued", base+".pem")); err == nil {
		base += "-" + SerialHex(tmpl.SerialNumber)
	}
	e := Entry{
		Serial: SerialHex(tmpl.SerialNumber), Kind: kind, Subject: subject, Names: names, Key: kt, Usage: u,
		NotAfter: cert.NotAfter, CertFile: filepath.Join("issued", base+".pem"), KeyFile: filepath.Join("issued", base+".key"),
	}
	var pemChain []byte
	for _, x := range chain {
		pemChain = append(pemChain, pemCert(x)...)
	}
	if err := writeKey(filepath.Join(c.Dir, e.KeyFile), key); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(c.Dir, e.CertFile), pemChain, 0o644); err != nil {
		return nil, err
	}
	c.idx.NextSerial++
	c.idx.Issued = append(c.idx.Issued, e)
	if err := c.save(); err != nil {
		return nil, err
	}
	return &Issued{Entry: e, Cert: cert, Chain: chain, CertPath: filepath.Join(c.Dir, e.CertFile), KeyPath: filepath.Join(c.Dir, e.KeyFile)}, nil
}

// Reasons maps the RFC 5280 §5.3.1 reason names to their codes.
var Reasons = map[string]int{
	"unspecified": 0, "keyCompromise": 1, "cACompromise": 2, "affiliationChanged": 3,
	"superseded": 4, "cessationOfOperation": 5, "certificateHold": 6, "privilegeWithdrawn": 9,
}

// ParseReason accepts a reason name (case-insensitive) or its number.
func ParseReason(s string) (int, error) {
	for n, c := range Reasons {
		if strings.EqualFold(n, s) || fmt.Sprint(c) == s {
			return c, nil
		}
	}
	return 0, fmt.Errorf("unknown revocation reason %q: use keyCompromise, superseded, cessationOfOperation, affiliationChanged, privilegeWithdrawn, certificateHold or unspecified", s)
}

// Revoke marks the certificate with serial (hex, "0x" optional) revoked.
// The CRL changes only with the next PublishCRL.
func (c *CA) Revoke(serial string, reason int) (Entry, error) {
	n, ok := new(big.Int).SetString(strings.TrimPrefix(strings.ToLower(serial), "0x"), 16)
	if !ok {
		return Entry{}, fmt.Errorf("serial %q: want the hex serial `tern cert issue` printed (or the certificate file)", serial)
	}
	for i, e := range c.idx.Issued {
		en, _ := new(big.Int).SetString(e.Serial, 16)
		if en.Cmp(n) != 0 {
			continue
		}
		if e.Revoked() {
			return e, fmt.Errorf("serial %s (%s) is already revoked since %s", e.Serial, e.Subject, e.RevokedAt.UTC().Format(time.RFC3339))
		}
		c.idx.Issued[i].RevokedAt = c.now().UTC().Truncate(time.Second)
		c.idx.Issued[i].Reason = reason
		if err := c.save(); err != nil {
			return Entry{}, err
		}
		return c.idx.Issued[i], nil
	}
	return Entry{}, fmt.Errorf("serial %s was not issued by CA %s (see index.json)", serial, c.idx.Name)
}

// RevokeFile revokes the leaf certificate in file (PEM or DER).
func (c *CA) RevokeFile(file string, reason int) (Entry, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return Entry{}, err
	}
	certs, err := keypair.ParseCertificatesPEM(file, b)
	if err != nil {
		return Entry{}, err
	}
	if !bytes.Equal(certs[0].RawIssuer, c.cert.RawSubject) || certs[0].CheckSignatureFrom(c.cert) != nil {
		return Entry{}, fmt.Errorf("%s: %q was not issued by CA %s", file, certs[0].Subject.String(), c.idx.Name)
	}
	return c.Revoke(certs[0].SerialNumber.Text(16), reason)
}

// PublishCRL signs a new CRL listing every revoked certificate, with the
// next CRL number, and writes crl.der and crl.pem (and the root's
// root-crl.der with an intermediate). validity 0 means DefaultCRLValidity.
func (c *CA) PublishCRL(validity time.Duration) (*x509.RevocationList, error) {
	if validity == 0 {
		validity = DefaultCRLValidity
	}
	now := c.now().UTC()
	var revoked []x509.RevocationListEntry
	for _, e := range c.idx.Issued {
		if !e.Revoked() {
			continue
		}
		n, _ := new(big.Int).SetString(e.Serial, 16)
		revoked = append(revoked, x509.RevocationListEntry{SerialNumber: n, RevocationTime: e.RevokedAt, ReasonCode: e.Reason})
	}
	crl, err := c.signCRL(c.cert, c.key, c.idx.CRLNumber, revoked, now, validity)
	if err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(c.Dir, "crl.pem"), pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: crl.Raw}), 0o644); err != nil {
		return nil, err
	}
	if err := writeFileAtomic(filepath.Join(c.Dir, "crl.der"), crl.Raw, 0o644); err != nil {
		return nil, err
	}
	c.idx.CRLNumber++
	if c.idx.Intermediate {
		rc, err := c.signCRL(c.root, c.rootKey, c.idx.RootCRLNumber, nil, now, validity)
		if err != nil {
			return nil, err
		}
		if err := writeFileAtomic(filepath.Join(c.Dir, "root-crl.der"), rc.Raw, 0o644); err != nil {
			return nil, err
		}
		c.idx.RootCRLNumber++
	}
	return crl, c.save()
}

func (c *CA) signCRL(issuer *x509.Certificate, key crypto.Signer, number int64, revoked []x509.RevocationListEntry, now time.Time, validity time.Duration) (*x509.RevocationList, error) {
	der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number:                    big.NewInt(number),
		ThisUpdate:                now.Add(-time.Minute),
		NextUpdate:                now.Add(validity),
		RevokedCertificateEntries: revoked,
	}, issuer, key)
	if err != nil {
		return nil, fmt.Errorf("signing the CRL: %w", err)
	}
	return x509.ParseRevocationList(der)
}

func (c *CA) sign(tmpl *x509.Certificate, pub crypto.PublicKey, parent *x509.Certificate, key crypto.Signer) (*x509.Certificate, error) {
	if parent == nil {
		parent = tmpl
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		return nil, fmt.Errorf("signing %q: %w", tmpl.Subject.CommonName, err)
	}
	return x509.ParseCertificate(der)
}

func (c *CA) save() error {
	b, err := json.MarshalIndent(c.idx, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.Dir, indexFile), append(b, '\n'), 0o600)
}

func generateKey(kt KeyType) (crypto.Signer, error) {
	switch kt {
	case RSA2048:
		return rsa.GenerateKey(rand.Reader, 2048)
	case ECDSAP256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	}
	return nil, fmt.Errorf("unknown key type %q: use rsa or ecdsa", kt)
}

// SerialHex is how serials are written: lower-case hex, an even number
// of digits (as openssl prints them).
func SerialHex(n *big.Int) string {
	s := n.Text(16)
	if len(s)%2 == 1 {
		s = "0" + s
	}
	return s
}

func randomSerial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 63))
	return n.Add(n, big.NewInt(1))
}

// skid is the RFC 5280 §4.2.1.2 method (1) key identifier: the SHA-1 of
// the subjectPublicKey bits (an identifier, not a security function).
func skid(pub crypto.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if _, err := asn1.Unmarshal(der, &spki); err != nil {
		return nil
	}
	h := sha1.Sum(spki.PublicKey.Bytes)
	return h[:]
}

func normDomain(s string) (string, error) {
	s = strings.TrimSuffix(strings.TrimSpace(s), ".")
	if s == "" || strings.Contains(s, "*") {
		return "", fmt.Errorf("domain %q: want an exact domain name (no wildcard), e.g. a.example", s)
	}
	a, err := idna.Lookup.ToASCII(s)
	if err != nil {
		return "", fmt.Errorf("domain %q: %v", s, err)
	}
	return strings.ToLower(a), nil
}

func fileName(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func writeCert(dir, base string, c *x509.Certificate) error {
	if err := writeFileAtomic(filepath.Join(dir, base+".pem"), pemCert(c), 0o644); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, base+".der"), c.Raw, 0o644)
}

func writeKey(path string, k crypto.Signer) error {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return err
	}
	return writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)
}

// writeFileAtomic writes via a temporary file and a rename, so that the
// HTTP handler and peers never read half a CRL.
func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), name)
}
