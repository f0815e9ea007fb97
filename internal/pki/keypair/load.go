package keypair

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Errors a load can wrap, for callers that react to the kind of problem
// (errors.Is); the error text itself is written for the operator.
var (
	ErrNoCertificate = errors.New("no certificate")
	ErrNoKey         = errors.New("no private key")
	ErrKeyMismatch   = errors.New("private key does not match the certificate")
	ErrWrongPassword = errors.New("wrong PKCS#12 password")
	ErrEncryptedKey  = errors.New("encrypted PEM private key")
	ErrExpired       = errors.New("certificate outside its validity period")
	ErrMalformed     = errors.New("malformed file")
)

// Pair is a certificate chain with the private key of its leaf.
type Pair struct {
	Chain []*x509.Certificate // leaf first, then the issuer of each one before it
	Key   crypto.Signer
}

// Leaf returns the end-entity certificate.
func (p *Pair) Leaf() *x509.Certificate { return p.Chain[0] }

// TLSCertificate returns the pair as a tls.Certificate carrying the whole
// chain, so peers that lack our intermediate can still build a path (the
// TIM+ reference server sends the leaf alone; we do not copy that).
func (p *Pair) TLSCertificate() tls.Certificate {
	c := tls.Certificate{PrivateKey: p.Key, Leaf: p.Chain[0]}
	for _, x := range p.Chain {
		c.Certificate = append(c.Certificate, x.Raw)
	}
	return c
}

// LoadPEMFiles reads a PEM certificate file (leaf and intermediates) and a
// PEM key file; they may be the same file. The leaf must be valid at now
// (zero: the current time); on ErrExpired the pair is returned as well.
func LoadPEMFiles(certFile, keyFile string, now time.Time) (*Pair, error) {
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("certificate file: %w", err)
	}
	keyPEM, err := os.ReadFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("key file: %w", err)
	}
	p, err := parsePEM(certFile, keyFile, certPEM, keyPEM)
	if err != nil {
		return nil, err
	}
	return p, CheckValidity(certFile, p.Leaf(), now)
}

// ParsePEM parses a PEM chain and a PEM key; names are used in errors.
func ParsePEM(certPEM, keyPEM []byte) (*Pair, error) {
	return parsePEM("certificate", "key", certPEM, keyPEM)
}

func parsePEM(certName, keyName string, certPEM, keyPEM []byte) (*Pair, error) {
	certs, err := ParseCertificatesPEM(certName, certPEM)
	if err != nil {
		return nil, err
	}
	key, err := parseKeyPEM(keyName, keyPEM)
	if err != nil {
		return nil, err
	}
	return assemble(certName, keyName, certs, key)
}

// ParseCertificatesPEM returns every CERTIFICATE block of data, in file
// order. Other block types are skipped (a combined cert+key file is fine);
// DER input is accepted too, since `tern cert show` is handed either.
func ParseCertificatesPEM(name string, data []byte) ([]*x509.Certificate, error) {
	if !bytes.Contains(data, []byte("-----BEGIN")) {
		if len(bytes.TrimSpace(data)) == 0 {
			return nil, fmt.Errorf("%s: %w: the file is empty", name, ErrNoCertificate)
		}
		certs, err := x509.ParseCertificates(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: neither PEM nor a DER certificate (%v); if it is PKCS#12 (.p12/.pfx), configure it as such", name, ErrMalformed, err)
		}
		return certs, nil
	}
	var certs []*x509.Certificate
	rest := data
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: PEM block %d is not a valid certificate: %v", name, ErrMalformed, n, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%s: %w: no \"BEGIN CERTIFICATE\" block in the file (is it the key file?)", name, ErrNoCertificate)
	}
	return certs, nil
}

func parseKeyPEM(name string, data []byte) (crypto.Signer, error) {
	rest := data
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if !strings.HasSuffix(b.Type, "PRIVATE KEY") {
			continue // certificates, EC PARAMETERS
		}
		if b.Type == "ENCRYPTED PRIVATE KEY" || b.Headers["Proc-Type"] != "" {
			return nil, fmt.Errorf("%s: %w: tern does not take key passwords in PEM; decrypt it (openssl pkey -in %s -out plain.key, mode 0600) or use a PKCS#12 file with a password file", name, ErrEncryptedKey, name)
		}
		k, err := parseKeyDER(b.Type, b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("%s: %w: %q block: %v", name, ErrMalformed, b.Type, err)
		}
		return k, nil
	}
	return nil, fmt.Errorf("%s: %w: no \"BEGIN ... PRIVATE KEY\" block (PKCS#1, PKCS#8 or SEC1) in the file", name, ErrNoKey)
}

func parseKeyDER(typ string, der []byte) (crypto.Signer, error) {
	var k any
	var err error
	switch typ {
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(der)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(der)
	default: // "PRIVATE KEY" and anything else: PKCS#8 first, then the others
		if k, err = x509.ParsePKCS8PrivateKey(der); err != nil {
			if k2, err2 := x509.ParsePKCS1PrivateKey(der); err2 == nil {
				k, err = k2, nil
			} else if k3, err3 := x509.ParseECPrivateKey(der); err3 == nil {
				k, err = k3, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	return asSigner(k)
}

func asSigner(k any) (crypto.Signer, error) {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return k, nil
	case *ecdsa.PrivateKey:
		return k, nil
	case ed25519.PrivateKey:
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", k)
}

// LoadPKCS12File reads a PKCS#12 file (.p12/.pfx). An empty password also
// opens files made without one. The leaf must be valid at now (zero: the
// current time); on ErrExpired the pair is returned as well.
func LoadPKCS12File(file, password string, now time.Time) (*Pair, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("PKCS#12 file: %w", err)
	}
	p, err := parsePKCS12(file, data, password)
	if err != nil {
		return nil, err
	}
	return p, CheckValidity(file, p.Leaf(), now)
}

// ParsePKCS12 decodes PKCS#12 data.
func ParsePKCS12(data []byte, password string) (*Pair, error) {
	return parsePKCS12("PKCS#12", data, password)
}

func parsePKCS12(name string, data []byte, password string) (*Pair, error) {
	if bytes.HasPrefix(bytes.TrimSpace(data), []byte("-----BEGIN")) {
		return nil, fmt.Errorf("%s: %w: this is a PEM file, not PKCS#12: configure it as the certificate (and key) file instead", name, ErrMalformed)
	}
	key, leaf, cas, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		switch {
		case errors.Is(err, pkcs12.ErrIncorrectPassword) || errors.Is(err, pkcs12.ErrDecryption):
			hint := "check the password file (its first line is the password, without trailing spaces)"
			if password == "" {
				hint = "the file has a password: give it a password file"
			}
			return nil, fmt.Errorf("%s: %w: %s", name, ErrWrongPassword, hint)
		case strings.Contains(err.Error(), "no MAC in data"):
			return nil, fmt.Errorf("%s: %w: the file has no password (no MAC), but one was given: remove the password setting", name, ErrWrongPassword)
		case strings.Contains(err.Error(), "certificate missing"):
			return nil, fmt.Errorf("%s: %w: the PKCS#12 file holds no certificate: export it again with the certificate (openssl pkcs12 -export -in cert.pem -inkey key.pem)", name, ErrNoCertificate)
		case strings.Contains(err.Error(), "private key missing"):
			return nil, fmt.Errorf("%s: %w: the PKCS#12 file holds no private key (a trust store?): export it with -inkey", name, ErrNoKey)
		}
		var ni pkcs12.NotImplementedError
		if errors.As(err, &ni) {
			return nil, fmt.Errorf("%s: %w: unsupported PKCS#12 layout (%v): re-export it with openssl pkcs12 -export", name, ErrMalformed, err)
		}
		return nil, fmt.Errorf("%s: %w: not a readable PKCS#12 file (%v)", name, ErrMalformed, err)
	}
	signer, err := asSigner(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %v", name, ErrMalformed, err)
	}
	return assemble(name, name, append([]*x509.Certificate{leaf}, cas...), signer)
}

// assemble finds the certificate of key among certs, puts it first and
// orders the others issuer after subject: files seldom keep the order
// RFC 8446 §4.4.2 asks for on the wire, PKCS#12 bags never promise one.
func assemble(certName, keyName string, certs []*x509.Certificate, key crypto.Signer) (*Pair, error) {
	pub, ok := key.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok {
		return nil, fmt.Errorf("%s: %w: unsupported key type %T", keyName, ErrMalformed, key)
	}
	li := -1
	for i, c := range certs {
		if pub.Equal(c.PublicKey) {
			li = i
			break
		}
	}
	if li < 0 {
		return nil, fmt.Errorf("%s: %w: the key in %s belongs to none of the %d certificate(s) (first: %q): pair the certificate with the key it was issued for",
			certName, ErrKeyMismatch, keyName, len(certs), certs[0].Subject.String())
	}
	rest := make([]*x509.Certificate, 0, len(certs)-1)
	rest = append(rest, certs[:li]...)
	rest = append(rest, certs[li+1:]...)
	return &Pair{Chain: OrderChain(certs[li], rest), Key: key}, nil
}

// OrderChain returns leaf followed by the certificates of others that
// form its issuer chain, then any left over in their original order.
func OrderChain(leaf *x509.Certificate, others []*x509.Certificate) []*x509.Certificate {
	chain := []*x509.Certificate{leaf}
	used := make([]bool, len(others))
	for cur := leaf; ; {
		next := -1
		for i, c := range others {
			if !used[i] && bytes.Equal(c.RawSubject, cur.RawIssuer) && cur.CheckSignatureFrom(c) == nil {
				next = i
				break
			}
		}
		if next < 0 || bytes.Equal(cur.RawSubject, cur.RawIssuer) {
			break
		}
		used[next] = true
		chain = append(chain, others[next])
		cur = others[next]
	}
	for i, c := range others {
		if !used[i] {
			chain = append(chain, c)
		}
	}
	return chain
}

// CheckValidity returns an ErrExpired error naming file if c is not valid at now.
func CheckValidity(file string, c *x509.Certificate, now time.Time) error {
	if now.IsZero() {
		now = time.Now()
	}
	switch {
	case now.After(c.NotAfter):
		return fmt.Errorf("%s: %w: %q expired on %s: renew it (lab: tern cert issue)", file, ErrExpired, c.Subject.String(), c.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(c.NotBefore):
		return fmt.Errorf("%s: %w: %q is not valid before %s: check the clock, or wait", file, ErrExpired, c.Subject.String(), c.NotBefore.UTC().Format(time.RFC3339))
	}
	return nil
}

// Source names a domain's certificate files as configured: PEM files, or
// a PKCS#12 file with an optional password file.
type Source struct {
	CertFile, KeyFile string // PEM; KeyFile may equal CertFile
	PKCS12File        string // instead of CertFile and KeyFile
	PasswordFile      string // first line is the PKCS#12 password; "" = none
}

// Load reads the files of s; the leaf must be valid at now (zero: the
// current time). On ErrExpired the pair is returned as well.
func (s Source) Load(now time.Time) (*Pair, error) {
	switch {
	case s.PKCS12File != "" && (s.CertFile != "" || s.KeyFile != ""):
		return nil, fmt.Errorf("%s: configure either a PKCS#12 file or PEM cert and key files, not both", s.PKCS12File)
	case s.PKCS12File != "":
		pw := ""
		if s.PasswordFile != "" {
			var err error
			if pw, err = ReadPasswordFile(s.PasswordFile); err != nil {
				return nil, err
			}
		}
		return LoadPKCS12File(s.PKCS12File, pw, now)
	case s.CertFile == "" || s.KeyFile == "":
		return nil, errors.New("no certificate configured: set the cert and key files (PEM) or a PKCS#12 file")
	case s.PasswordFile != "":
		return nil, fmt.Errorf("%s: a password file goes with a PKCS#12 file; PEM keys must be unencrypted", s.PasswordFile)
	}
	return LoadPEMFiles(s.CertFile, s.KeyFile, now)
}

// ReadPasswordFile returns the first line of file, without the line end.
// Kept in a file, not the configuration, so the configuration can be
// shown and shared; an empty first line is an error (mistaken file).
func ReadPasswordFile(file string) (string, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("password file: %w", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", fmt.Errorf("password file %s: the first line is empty: write the PKCS#12 password on it, or drop the password file for a file without one", file)
	}
	return line, nil
}
