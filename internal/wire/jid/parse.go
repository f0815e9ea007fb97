package jid

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/secure/precis"
)

// MaxPartLen is the RFC 7622 §3 limit of every part, in octets after
// preparation.
const MaxPartLen = 1023

// maxRawPartLen bounds the input handed to PRECIS/IDNA (a DoS guard): no
// prepared part of MaxPartLen octets needs more than 4 input octets per
// output octet.
const maxRawPartLen = 4 * MaxPartLen

var (
	errZeroJID       = errors.New("jid: the JID is empty; parse or build a JID first")
	errEmptyLocal    = errors.New("jid: empty localpart before '@'; drop the '@' or give a localpart")
	errEmptyDomain   = errors.New("jid: empty domainpart; a JID needs a domain")
	errEmptyResource = errors.New("jid: empty resourcepart after '/'; drop the '/' or give a resource")
	errInvalidUTF8   = errors.New("jid: not valid UTF-8")
)

// Parse splits s per RFC 7622 §3.1, prepares each part and validates it.
func Parse(s string) (JID, error) {
	local, domain, resource, err := split(s)
	if err != nil {
		return JID{}, err
	}
	if isCanonicalLocal(local) && isCanonicalDomain(domain) && isCanonicalResource(resource) {
		// Already canonical ASCII: s is its own canonical form.
		return assemble(s, local, domain), nil
	}
	if !utf8.ValidString(s) {
		return JID{}, errInvalidUTF8
	}
	return build(local, domain, resource, true)
}

// MustParse is Parse that panics on error, for constants in tests and
// configuration defaults.
func MustParse(s string) JID {
	j, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return j
}

// New prepares and joins the three parts. local and resource may be empty
// (absent); domain may not.
func New(local, domain, resource string) (JID, error) {
	if !utf8.ValidString(local) || !utf8.ValidString(domain) || !utf8.ValidString(resource) {
		return JID{}, errInvalidUTF8
	}
	return build(local, domain, resource, local != "")
}

// split applies RFC 7622 §3.1: separators are matched before any
// preparation (a part may map to '@' or '/' later; that is then an error of
// that part, not a new separator).
func split(s string) (local, domain, resource string, err error) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		resource = s[i+1:]
		if resource == "" {
			return "", "", "", errEmptyResource
		}
		s = s[:i]
	}
	if i := strings.IndexByte(s, '@'); i >= 0 {
		local = s[:i]
		if local == "" {
			return "", "", "", errEmptyLocal
		}
		s = s[i+1:]
	}
	if s == "" {
		return "", "", "", errEmptyDomain
	}
	return local, s, resource, nil
}

// build prepares the parts; hasLocal says a localpart was given (only
// relevant to report an empty one).
func build(local, domain, resource string, hasLocal bool) (JID, error) {
	var err error
	if hasLocal {
		if local, err = prepareLocal(local); err != nil {
			return JID{}, err
		}
	}
	if domain, err = prepareDomain(domain); err != nil {
		return JID{}, err
	}
	if resource != "" {
		if resource, err = prepareResource(resource); err != nil {
			return JID{}, err
		}
	}
	var b strings.Builder
	b.Grow(len(local) + len(domain) + len(resource) + 2)
	if local != "" {
		b.WriteString(local)
		b.WriteByte('@')
	}
	b.WriteString(domain)
	if resource != "" {
		b.WriteByte('/')
		b.WriteString(resource)
	}
	return assemble(b.String(), local, domain), nil
}

// assemble records the offsets of canonical form s whose parts are local
// and domain (both already checked to be at most MaxPartLen octets).
func assemble(s, local, domain string) JID {
	var ds uint16
	if local != "" {
		ds = uint16(len(local) + 1)
	}
	return JID{s: s, dstart: ds, dend: ds + uint16(len(domain))}
}

func prepareLocal(l string) (string, error) {
	if len(l) > maxRawPartLen {
		return "", fmt.Errorf("jid: localpart is %d octets; the limit is %d", len(l), MaxPartLen)
	}
	p, err := precis.UsernameCaseMapped.String(l)
	if err != nil {
		return "", fmt.Errorf("jid: localpart %.64q is not a valid username (RFC 8265 UsernameCaseMapped): %v", l, err)
	}
	// §3.3.1: characters PRECIS allows but XMPP forbids; checked after
	// preparation because mapping could produce them.
	if i := strings.IndexAny(p, "\"&'/:<>@"); i >= 0 {
		return "", fmt.Errorf("jid: localpart %.64q contains %q, which RFC 7622 §3.3.1 forbids", l, p[i])
	}
	if len(p) > MaxPartLen {
		return "", fmt.Errorf("jid: localpart is %d octets after preparation; the limit is %d", len(p), MaxPartLen)
	}
	return p, nil
}

func prepareResource(r string) (string, error) {
	if len(r) > maxRawPartLen {
		return "", fmt.Errorf("jid: resourcepart is %d octets; the limit is %d", len(r), MaxPartLen)
	}
	p, err := precis.OpaqueString.String(r)
	if err != nil {
		return "", fmt.Errorf("jid: resourcepart %.64q is invalid (RFC 8265 OpaqueString): %v", r, err)
	}
	if len(p) > MaxPartLen {
		return "", fmt.Errorf("jid: resourcepart is %d octets after preparation; the limit is %d", len(p), MaxPartLen)
	}
	return p, nil
}

func prepareDomain(d string) (string, error) {
	if d == "" {
		return "", errEmptyDomain
	}
	if len(d) > maxRawPartLen {
		return "", fmt.Errorf("jid: domainpart is %d octets; the limit is %d", len(d), MaxPartLen)
	}
	if d[0] == '[' {
		return prepareIPv6(d)
	}
	// §3.2: strip one final dot before any other canonicalization.
	d = strings.TrimSuffix(d, ".")
	if err := checkLabels(d); err != nil {
		return "", err
	}
	if a, err := netip.ParseAddr(d); err == nil && a.Is4() {
		return a.String(), nil
	}
	u, err := idna.Lookup.ToUnicode(d)
	if err != nil {
		return "", fmt.Errorf("jid: domainpart %.64q is not a valid domain name (IDNA2008/UTS #46): %v", d, err)
	}
	// The mapping may have turned a full-width or ideographic dot into a
	// final '.', which §3.2 strips as well.
	u = strings.TrimSuffix(u, ".")
	if err := checkLabels(u); err != nil {
		return "", err
	}
	if len(u) > MaxPartLen {
		return "", fmt.Errorf("jid: domainpart is %d octets after preparation; the limit is %d", len(u), MaxPartLen)
	}
	return u, nil
}

// checkLabels rejects empty labels, which the IDNA lookup profile lets
// through (it does not verify DNS lengths).
func checkLabels(d string) error {
	if d == "" || d[0] == '.' || d[len(d)-1] == '.' || strings.Contains(d, "..") {
		return fmt.Errorf("jid: domainpart %.64q has an empty label", d)
	}
	return nil
}

func prepareIPv6(d string) (string, error) {
	if len(d) < 3 || d[len(d)-1] != ']' {
		return "", fmt.Errorf("jid: domainpart %.64q starts an IP literal but does not end with ']'", d)
	}
	a, err := netip.ParseAddr(d[1 : len(d)-1])
	if err != nil || !a.Is6() || a.Zone() != "" {
		return "", fmt.Errorf("jid: domainpart %.64q is not an IPv6 literal (RFC 3986 IP-literal without zone)", d)
	}
	return "[" + a.String() + "]", nil
}
