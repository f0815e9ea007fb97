package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// KeyType selects the key algorithm of generated certificates.
type KeyType int

const (
	ECDSAP256 KeyType = iota // default: small and fast
	RSA2048                  // for old clients without ECDSA
)

// Options tune certificate generation. The zero value is ECDSA P-256,
// one year, now.
type Options struct {
	Key      KeyType
	Validity time.Duration    // default 365 days
	Now      func() time.Time // default time.Now
}

// RenewBefore is how long before expiry a generated self-signed
// certificate is replaced on start.
const RenewBefore = 30 * 24 * time.Hour

var (
	oidSAN      = asn1.ObjectIdentifier{2, 5, 29, 17}
	oidXMPPAddr = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 5} // RFC 6120 §13.7.1.4
)

// SelfSigned returns a PEM certificate and PKCS#8 PEM key for domain,
// valid for domain and *.domain, with an XmppAddr for domain.
func SelfSigned(domain string, o Options) (certPEM, keyPEM []byte, err error) {
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	validity := o.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	var (
		priv  crypto.Signer
		usage = x509.KeyUsageDigitalSignature
	)
	switch o.Key {
	case ECDSAP256:
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RSA2048:
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
		usage |= x509.KeyUsageKeyEncipherment // TLS 1.2 RSA key exchange is off, but old verifiers want it
	default:
		return nil, nil, fmt.Errorf("certs: unknown key type %d", o.Key)
	}
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, nil, err
	}
	san, err := marshalSAN(domain)
	if err != nil {
		return nil, nil, err
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: domain, Organization: []string{"tern self-signed"}},
		NotBefore:             t.Add(-time.Hour), // tolerate small clock skew
		NotAfter:              t.Add(validity),
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		// Setting the SAN as an extra extension replaces the one Go would
		// build: Go cannot write otherName.
		ExtraExtensions: []pkix.Extension{{Id: oidSAN, Value: san}},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, priv.Public(), priv)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), nil
}

// marshalSAN builds GeneralNames: dNSName domain, dNSName *.domain and an
// otherName id-on-xmppAddr with the domain as UTF8String.
func marshalSAN(domain string) ([]byte, error) {
	utf8, err := asn1.MarshalWithParams(domain, "utf8")
	if err != nil {
		return nil, err
	}
	oid, err := asn1.Marshal(oidXMPPAddr)
	if err != nil {
		return nil, err
	}
	value, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8})
	if err != nil {
		return nil, err
	}
	names := []asn1.RawValue{
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte(asciiDomain(domain))},
		{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("*." + asciiDomain(domain))},
		{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(oid, value...)},
	}
	return asn1.Marshal(names)
}

// XMPPAddrs returns the id-on-xmppAddr names of a certificate (RFC 6120
// §13.7.1.4), which Go's parser skips.
func XMPPAddrs(c *x509.Certificate) []string { return otherNames(c, oidXMPPAddr, "utf8") }

// SRVNames returns the SRVName identities of a certificate (RFC 4985),
// lowercased, e.g. "_xmpp-server.example.com".
func SRVNames(c *x509.Certificate) []string {
	out := otherNames(c, oidSRVName, "ia5")
	for i := range out {
		out[i] = strings.ToLower(out[i])
	}
	return out
}

var oidSRVName = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 7, 8, 7}

// otherNames returns the subjectAltName otherName values of type oid,
// decoded as the given ASN.1 string type.
func otherNames(c *x509.Certificate, oid asn1.ObjectIdentifier, params string) []string {
	var out []string
	for _, ext := range c.Extensions {
		if !ext.Id.Equal(oidSAN) {
			continue
		}
		var names []asn1.RawValue
		if _, err := asn1.Unmarshal(ext.Value, &names); err != nil {
			return nil
		}
		for _, n := range names {
			if n.Class != asn1.ClassContextSpecific || n.Tag != 0 {
				continue
			}
			var id asn1.ObjectIdentifier
			rest, err := asn1.Unmarshal(n.Bytes, &id)
			if err != nil || !id.Equal(oid) {
				continue
			}
			var wrapped asn1.RawValue
			if _, err := asn1.Unmarshal(rest, &wrapped); err != nil {
				continue
			}
			var s string
			if _, err := asn1.UnmarshalWithParams(wrapped.Bytes, &s, params); err == nil {
				out = append(out, s)
			}
		}
	}
	return out
}

// EnsureSelfSigned makes sure certFile and keyFile hold a usable
// certificate for domain: it reuses an existing pair and generates a new
// one when either file is missing or when the existing self-signed
// certificate expires within RenewBefore. The key is written 0600, the
// certificate 0644. It reports whether it generated a new pair.
func EnsureSelfSigned(certFile, keyFile, domain string, o Options) (generated bool, err error) {
	_, errC := os.Stat(certFile)
	_, errK := os.Stat(keyFile)
	if errC == nil && errK == nil {
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return false, fmt.Errorf("certs: %s / %s: %w (remove both files to generate a new self-signed pair)", certFile, keyFile, err)
		}
		now := time.Now
		if o.Now != nil {
			now = o.Now
		}
		leaf := pair.Leaf
		if !(IsSelfSigned(leaf) && now().Add(RenewBefore).After(leaf.NotAfter)) {
			return false, nil
		}
	} else if !errors.Is(errC, fs.ErrNotExist) && errC != nil {
		return false, fmt.Errorf("certs: %w", errC)
	} else if !errors.Is(errK, fs.ErrNotExist) && errK != nil {
		return false, fmt.Errorf("certs: %w", errK)
	}
	certPEM, keyPEM, err := SelfSigned(domain, o)
	if err != nil {
		return false, err
	}
	if err := os.MkdirAll(filepath.Dir(keyFile), 0o700); err != nil {
		return false, fmt.Errorf("certs: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(certFile), 0o755); err != nil {
		return false, fmt.Errorf("certs: %w", err)
	}
	// Key first: a crash between the two writes leaves a key without a
	// certificate, which the next start regenerates.
	if err := writeFileAtomic(keyFile, keyPEM, 0o600); err != nil {
		return false, err
	}
	if err := writeFileAtomic(certFile, certPEM, 0o644); err != nil {
		return false, err
	}
	return true, nil
}

// IsSelfSigned reports whether c is signed by its own key.
func IsSelfSigned(c *x509.Certificate) bool {
	return c != nil && bytes.Equal(c.RawSubject, c.RawIssuer) &&
		c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func writeFileAtomic(name string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(name), ".tmp-"+filepath.Base(name))
	if err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("certs: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("certs: writing %s: %w", name, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("certs: writing %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("certs: writing %s: %w", name, err)
	}
	if err := os.Rename(f.Name(), name); err != nil {
		return fmt.Errorf("certs: %w", err)
	}
	return nil
}
