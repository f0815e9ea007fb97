package schema

import "strings"

// The direct_certs table holds the certificates of local Direct addresses
// and domains: owner is the address (or the domain), domain its domain
// (for the DNS responder's zone), sha256 the hex digest of der.

// DirectCertStatements are the statements on direct_certs, bound for a
// dialect.
type DirectCertStatements struct {
	// Put adds or replaces: owner, domain, sha256, der, sealed key, added.
	Put string
	// ByOwner lists an owner's rows, oldest first: owner.
	ByOwner string
	// ByDomain lists a domain's rows: domain.
	ByDomain string
	// Remove deletes an owner's rows by digest prefix: owner, prefix (LIKE).
	Remove string
}

// DirectCerts returns the statements of d.
func (d Dialect) DirectCerts() *DirectCertStatements {
	cols := `owner, sha256, der, sealed, added`
	return &DirectCertStatements{
		Put: d.Bind(`INSERT INTO direct_certs (owner, domain, sha256, der, sealed, added) VALUES (?, ?, ?, ?, ?, ?)
	ON CONFLICT (owner, sha256) DO UPDATE SET der = excluded.der, sealed = excluded.sealed`),
		ByOwner:  d.Bind(`SELECT ` + cols + ` FROM direct_certs WHERE owner = ? ORDER BY added, sha256`),
		ByDomain: d.Bind(`SELECT ` + cols + ` FROM direct_certs WHERE domain = ? ORDER BY owner, added, sha256`),
		Remove:   d.Bind(`DELETE FROM direct_certs WHERE owner = ? AND sha256 LIKE ?`),
	}
}

// CertDomain is the domain column of an owner: an address's domain, or
// the owner itself (a domain).
func CertDomain(owner string) string {
	if _, d, ok := strings.Cut(owner, "@"); ok {
		return d
	}
	return owner
}

// LikePrefix is Remove's LIKE pattern for a hex digest prefix; false for
// anything but lower-case hex, which matches no digest (and so never
// carries a wildcard).
func LikePrefix(p string) (string, bool) {
	for _, r := range p {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return "", false
		}
	}
	return p + "%", true
}
