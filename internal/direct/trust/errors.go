package trust

import (
	"errors"
	"fmt"
)

// Kind classifies a failed bundle refresh the way the Direct reference
// implementation names it (DefaultBundleRefreshProcessor: NOT_FOUND,
// DOWNLOAD_TIMEOUT, INVALID_BUNDLE_FORMAT, UNMATCHED_SIGNATURE,
// INVALID_SIGNING_CERT). String gives the short code used in metrics.
type Kind int

const (
	KindNone Kind = iota
	// KindNotFound: the file or URL could not be read (missing, HTTP
	// status other than 200, connection refused, TLS failure).
	KindNotFound
	// KindDownloadTimeout: the fetch did not finish within its time-out.
	KindDownloadTimeout
	// KindInvalidBundleFormat: not a PKCS#7 certs-only bundle or PEM
	// certificates, no certificate in it, or larger than the size limit.
	KindInvalidBundleFormat
	// KindUnmatchedSignature: a signing certificate is configured and the
	// bundle is unsigned, signed by another key, or its signature is bad.
	KindUnmatchedSignature
	// KindInvalidSigningCert: the configured signing certificate cannot be
	// used (unreadable, expired, not yet valid).
	KindInvalidSigningCert
)

func (k Kind) String() string {
	switch k {
	case KindNone:
		return ""
	case KindNotFound:
		return "not-found"
	case KindDownloadTimeout:
		return "download-timeout"
	case KindInvalidBundleFormat:
		return "invalid-bundle-format"
	case KindUnmatchedSignature:
		return "unmatched-signature"
	case KindInvalidSigningCert:
		return "invalid-signing-cert"
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// hint tells the operator what to do about an error of this kind.
func (k Kind) hint() string {
	switch k {
	case KindNotFound:
		return "check the bundle's url/path and that the server answers"
	case KindDownloadTimeout:
		return "check the network or the bundle server, or raise the fetch time-out"
	case KindInvalidBundleFormat:
		return "the source must serve a PKCS#7 (.p7b) certs-only bundle, CMS-signed if signing_cert is set, or PEM certificates, within the size limit"
	case KindUnmatchedSignature:
		return "the bundle must be CMS-signed by the configured signing_cert; check signing_cert against the publisher's current signing certificate"
	case KindInvalidSigningCert:
		return "replace signing_cert with the publisher's current signing certificate"
	}
	return ""
}

// Sentinel errors matched by errors.Is on a *BundleError of that kind.
var (
	ErrNotFound            = errors.New("trust bundle not found")
	ErrDownloadTimeout     = errors.New("trust bundle download timed out")
	ErrInvalidBundleFormat = errors.New("invalid trust bundle format")
	ErrUnmatchedSignature  = errors.New("trust bundle signature does not match the signing certificate")
	ErrInvalidSigningCert  = errors.New("invalid trust bundle signing certificate")
)

func (k Kind) sentinel() error {
	switch k {
	case KindNotFound:
		return ErrNotFound
	case KindDownloadTimeout:
		return ErrDownloadTimeout
	case KindInvalidBundleFormat:
		return ErrInvalidBundleFormat
	case KindUnmatchedSignature:
		return ErrUnmatchedSignature
	case KindInvalidSigningCert:
		return ErrInvalidSigningCert
	}
	return nil
}

// BundleError is a failed fetch or parse of one trust bundle. Its message
// names the bundle, its source, what went wrong and what to do.
type BundleError struct {
	Bundle string // bundle name
	Source string // URL or path
	Kind   Kind
	Err    error // the underlying cause, may be nil
}

func (e *BundleError) Error() string {
	msg := fmt.Sprintf("trust bundle %q (%s): %s", e.Bundle, e.Source, e.Kind.sentinel())
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if h := e.Kind.hint(); h != "" {
		msg += " (" + h + ")"
	}
	return msg
}

func (e *BundleError) Unwrap() []error {
	errs := []error{}
	if s := e.Kind.sentinel(); s != nil {
		errs = append(errs, s)
	}
	if e.Err != nil {
		errs = append(errs, e.Err)
	}
	return errs
}

// ConfigError is a trust configuration that cannot be applied: an unknown
// circle, a duplicate name, an unreadable anchor file... A configuration
// error is never ignored: NewRegistry and Registry.Apply refuse the whole
// configuration and keep the one they had.
type ConfigError struct {
	Where string // e.g. `circle "dt"`, `domain "example.org"`
	Msg   string
	Err   error
}

func (e *ConfigError) Error() string {
	s := "trust config: " + e.Where + ": " + e.Msg
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *ConfigError) Unwrap() error { return e.Err }
