package config

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"golang.org/x/net/idna"
)

// idnaProfile applies IDNA2008 lookup mapping (case folding, NFC) and
// rejects invalid labels, as RFC 7622 §3.2 asks of a domainpart.
var idnaProfile = idna.New(
	idna.MapForLookup(),
	idna.BidiRule(),
	idna.ValidateLabels(true),
	idna.StrictDomainName(true),
	idna.Transitional(false),
	idna.VerifyDNSLength(true),
)

// PrepareDomain returns the canonical form of a JID domainpart (RFC 7622
// §3.2): U-labels, lowercased, no trailing dot; IP literals as written.
func PrepareDomain(s string) (string, error) {
	s = strings.TrimSuffix(s, ".")
	if s == "" {
		return "", errors.New("empty domain")
	}
	if strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return "", fmt.Errorf("invalid domain %q: empty label", s)
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		a, err := netip.ParseAddr(s[1 : len(s)-1])
		if err != nil || !a.Is6() {
			return "", fmt.Errorf("invalid IPv6 literal %q", s)
		}
		return "[" + a.String() + "]", nil
	}
	if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
		return a.String(), nil
	}
	u, err := idnaProfile.ToUnicode(s)
	if err != nil {
		return "", fmt.Errorf("invalid domain %q: %v", s, err)
	}
	// A vhost is looked up in DNS: its A-label form must fit DNS lengths.
	if _, err := idnaProfile.ToASCII(u); err != nil {
		return "", fmt.Errorf("invalid domain %q: %v", s, err)
	}
	if len(u) > 1023 {
		return "", fmt.Errorf("domain %q longer than 1023 bytes", s)
	}
	if strings.ContainsAny(u, "@/") {
		return "", fmt.Errorf("invalid domain %q: a domain has no @ or /", s)
	}
	return u, nil
}
