package trust

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/smallstep/pkcs7"
)

// fetcher reads bundle sources with a time-out and a size limit.
type fetcher struct {
	client    *http.Client
	timeout   time.Duration
	maxSize   int64
	allowHTTP bool
}

// fetch returns the bytes of a bundle source or a *BundleError.
func (f *fetcher) fetch(ctx context.Context, b *bundleSpec) ([]byte, error) {
	fail := func(k Kind, err error) ([]byte, error) {
		return nil, &BundleError{Bundle: b.Name, Source: b.source(), Kind: k, Err: err}
	}
	if b.Path != "" {
		fh, err := os.Open(b.Path)
		if err != nil {
			return fail(KindNotFound, err)
		}
		defer fh.Close()
		data, err := readLimited(fh, f.maxSize)
		if err != nil {
			if errors.Is(err, errTooLarge) {
				return fail(KindInvalidBundleFormat, err)
			}
			return fail(KindNotFound, err)
		}
		return data, nil
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	data, err := httpGet(ctx, f.client, b.URL, f.maxSize, f.allowHTTP)
	switch {
	case err == nil:
		return data, nil
	case errors.Is(err, errTooLarge):
		return fail(KindInvalidBundleFormat, err)
	case isTimeout(ctx, err):
		return fail(KindDownloadTimeout, fmt.Errorf("no complete answer within %s: %w", f.timeout, err))
	default:
		return fail(KindNotFound, err)
	}
}

var errTooLarge = errors.New("larger than the size limit")

func readLimited(r io.Reader, max int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w of %d bytes", errTooLarge, max)
	}
	return data, nil
}

func isTimeout(ctx context.Context, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() == context.DeadlineExceeded {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// httpGet fetches url with ctx's deadline, refusing redirects to plain http
// unless allowed, and reading at most max bytes.
func httpGet(ctx context.Context, client *http.Client, url string, max int64, allowHTTP bool) ([]byte, error) {
	if client == nil {
		client = http.DefaultClient
	}
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= 3 {
			return errors.New("more than 3 redirects")
		}
		if req.URL.Scheme != "https" && !(allowHTTP && req.URL.Scheme == "http") {
			return fmt.Errorf("redirect to %s refused", req.URL.Redacted())
		}
		return nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP status %s", resp.Status)
	}
	if resp.ContentLength > max {
		return nil, fmt.Errorf("%w of %d bytes (Content-Length %d)", errTooLarge, max, resp.ContentLength)
	}
	return readLimited(resp.Body, max)
}

// ParseBundle decodes a trust bundle: a PKCS#7 / CMS SignedData (DER, BER
// or PEM "PKCS7") or a concatenation of PEM certificates. With a signing
// certificate, the bundle must be a SignedData signed by that
// certificate's key whose content is itself a certs-only bundle (or PEM);
// without one, a signed bundle is refused (configure its signing
// certificate) so a signer's own certificates never become anchors. now
// is when the signing certificate must be valid. Errors are *BundleError
// with an empty Bundle and Source (the caller fills them in).
func ParseBundle(data []byte, signer *x509.Certificate, now time.Time) ([]*x509.Certificate, error) {
	certs, k, err := parseBundle(data, signer, now, 0)
	if err != nil {
		return nil, &BundleError{Kind: k, Err: err}
	}
	return certs, nil
}

func parseBundle(data []byte, signer *x509.Certificate, now time.Time, depth int) (certs []*x509.Certificate, k Kind, err error) {
	der := data
	if isPEM(data) {
		var pemCerts []*x509.Certificate
		var p7 []byte
		rest := data
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			switch blk.Type {
			case "CERTIFICATE":
				c, err := x509.ParseCertificate(blk.Bytes)
				if err != nil {
					return nil, KindInvalidBundleFormat, fmt.Errorf("PEM certificate %d: %w", len(pemCerts)+1, err)
				}
				pemCerts = append(pemCerts, c)
			case "PKCS7", "CMS":
				if p7 != nil {
					return nil, KindInvalidBundleFormat, errors.New("more than one PKCS7 block")
				}
				p7 = blk.Bytes
			default:
				return nil, KindInvalidBundleFormat, fmt.Errorf("unexpected PEM block %q", blk.Type)
			}
		}
		switch {
		case p7 != nil && len(pemCerts) > 0:
			return nil, KindInvalidBundleFormat, errors.New("PEM mixes a PKCS7 block and certificates")
		case p7 != nil:
			der = p7
		case len(pemCerts) == 0:
			return nil, KindInvalidBundleFormat, errors.New("no certificate in the PEM data")
		case signer != nil:
			return nil, KindUnmatchedSignature, errors.New("the bundle is plain PEM, not CMS-signed")
		default:
			return pemCerts, KindNone, nil
		}
	}
	p7, err := safeParse(der)
	if err != nil {
		return nil, KindInvalidBundleFormat, fmt.Errorf("not a PKCS#7 bundle: %w", err)
	}
	if len(p7.Signers) > 0 {
		if signer == nil {
			return nil, KindInvalidBundleFormat, errors.New("the bundle is CMS-signed but no signing_cert is configured; configure the publisher's signing certificate")
		}
		if depth > 0 {
			return nil, KindInvalidBundleFormat, errors.New("the signed content is signed again")
		}
		if k, err := verifySigned(p7, signer, now); err != nil {
			return nil, k, err
		}
		if len(p7.Content) == 0 {
			return nil, KindInvalidBundleFormat, errors.New("the signed bundle has no content")
		}
		return parseBundle(p7.Content, nil, now, depth+1)
	}
	if signer != nil {
		return nil, KindUnmatchedSignature, errors.New("the bundle is not signed")
	}
	if len(p7.Certificates) == 0 {
		return nil, KindInvalidBundleFormat, errors.New("no certificate in the bundle")
	}
	return p7.Certificates, KindNone, nil
}

func isPEM(data []byte) bool {
	return bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("-----BEGIN"))
}

// safeParse is pkcs7.Parse, with a panic in the parser turned into an error
// (the bundle comes from the network).
func safeParse(der []byte) (p7 *pkcs7.PKCS7, err error) {
	defer func() {
		if r := recover(); r != nil {
			p7, err = nil, fmt.Errorf("parser panic: %v", r)
		}
	}()
	p7, err = pkcs7.Parse(der)
	if err == nil && p7 == nil {
		err = errors.New("empty")
	}
	return p7, err
}

var weakDigests = []asn1.ObjectIdentifier{
	{1, 2, 840, 113549, 2, 5}, // MD5
	pkcs7.OIDDigestAlgorithmSHA1,
}

// verifySigned checks every signer of p7 against the configured signing
// certificate only: the certificates the bundle carries are set aside, so
// Verify finds no other key, and no chain is built (pkcs7's
// VerifyWithChain would accept any EKU and trust the signer's own
// signingTime). The signing certificate must be valid now.
func checkSignerWindow(signer *x509.Certificate, now time.Time) (Kind, error) {
	if now.Before(signer.NotBefore) {
		return KindInvalidSigningCert, fmt.Errorf("the signing certificate %q is not valid before %s", signer.Subject, signer.NotBefore.UTC().Format(time.RFC3339))
	}
	if now.After(signer.NotAfter) {
		return KindInvalidSigningCert, fmt.Errorf("the signing certificate %q expired %s", signer.Subject, signer.NotAfter.UTC().Format(time.RFC3339))
	}
	return KindNone, nil
}

func verifySigned(p7 *pkcs7.PKCS7, signer *x509.Certificate, now time.Time) (k Kind, err error) {
	if k, err := checkSignerWindow(signer, now); err != nil {
		return k, err
	}
	for _, s := range p7.Signers {
		for _, w := range weakDigests {
			if s.DigestAlgorithm.Algorithm.Equal(w) {
				return KindUnmatchedSignature, fmt.Errorf("the signature uses the weak digest %s", w)
			}
		}
	}
	carried := p7.Certificates
	p7.Certificates = []*x509.Certificate{signer}
	defer func() {
		p7.Certificates = carried
		if r := recover(); r != nil {
			k, err = KindUnmatchedSignature, fmt.Errorf("verifier panic: %v", r)
		}
	}()
	if err := p7.Verify(); err != nil {
		return KindUnmatchedSignature, fmt.Errorf("signature check with %q: %w", signer.Subject, err)
	}
	return KindNone, nil
}

// ParseCertificates reads certificates from PEM, DER (one or several) or a
// certs-only PKCS#7, e.g. a chain file for `tern direct trust check
// --chain`.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) { return parseCerts(data) }

// parseCerts reads PEM certificates, or DER: one certificate, several
// concatenated, or a PKCS#7 certs-only structure (.p7c, as AIA serves).
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	if isPEM(data) {
		var out []*x509.Certificate
		rest := data
		for {
			var blk *pem.Block
			blk, rest = pem.Decode(rest)
			if blk == nil {
				break
			}
			if blk.Type != "CERTIFICATE" {
				continue
			}
			c, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, err
			}
			out = append(out, c)
		}
		return out, nil
	}
	certs, err := x509.ParseCertificates(data)
	if err == nil {
		return certs, nil
	}
	p7, perr := safeParse(data)
	if perr != nil || len(p7.Signers) > 0 {
		return nil, fmt.Errorf("neither DER certificates (%v) nor a certs-only PKCS#7", err)
	}
	return p7.Certificates, nil
}
