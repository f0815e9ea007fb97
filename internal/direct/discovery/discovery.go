package discovery

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust"
)

// Where a certificate was found.
const (
	SourceDNS  = "dns"
	SourcePeer = "peer"
	SourceLDAP = "ldap"
)

// Candidate is one certificate a source offered, and what came of it.
type Candidate struct {
	Source string              // SourceDNS ...
	Where  string              // the name or entry it was found at
	Cert   *x509.Certificate   // nil when the record itself was unusable (Err says why)
	Chain  []*x509.Certificate // intermediates that came with it
	Err    error               // why it is not usable: a bad record, or the validation's refusal
	Result *trust.Result       // the validation, when it ran
}

// Usable: validated and trusted.
func (c Candidate) Usable() bool { return c.Err == nil && c.Result != nil && c.Result.Trusted }

// Lookup is one way of finding an address's certificates at one name.
type Lookup func(ctx context.Context, name string) ([]Candidate, error)

// Report is what Discover found for an address: every candidate in the
// order asked, and the usable ones.
type Report struct {
	Address string
	Purpose trust.Purpose
	Tried   []string    // "dns nurse.b.example: 1 record", "dns b.example: no CERT record" ...
	All     []Candidate // every candidate, usable or not
	Usable  []Candidate // address-bound first, then domain-bound
}

// Validator checks a candidate for the sender's domain.
type Validator interface {
	ValidateFor(ctx context.Context, local, address string, purpose trust.Purpose, chain []*x509.Certificate, now time.Time) (*trust.Result, error)
}

// Peer asks the address's own server for its certificates (peer
// introduction over s2s, docs/direct-introduction.md) as local.
type Peer interface {
	Introduce(ctx context.Context, local, address string) ([]Candidate, error)
}

// DefaultOrder is the sources' order unless configured: the address's own
// server first (it knows best, over a stream both sides authenticated),
// then DNS CERT, then LDAP.
var DefaultOrder = []string{SourcePeer, SourceDNS, SourceLDAP}

// Discoverer runs the sources in order until one gives a usable
// certificate, as the DCDT steps do: DNS at the address's name, DNS at
// the domain, then the next source. Invalid certificates are skipped and
// reported, not fatal. A nil source is skipped.
type Discoverer struct {
	DNS       *DNS
	LDAP      *LDAP
	Peer      Peer
	Order     []string // of SourcePeer, SourceDNS, SourceLDAP; nil: DefaultOrder
	Validator Validator
	Now       func() time.Time
}

// CheckOrder validates a configured source order.
func CheckOrder(order []string) error {
	seen := map[string]bool{}
	for _, s := range order {
		switch s {
		case SourcePeer, SourceDNS, SourceLDAP:
		default:
			return fmt.Errorf("unknown discovery source %q: use %q, %q or %q", s, SourcePeer, SourceDNS, SourceLDAP)
		}
		if seen[s] {
			return fmt.Errorf("discovery source %q named twice", s)
		}
		seen[s] = true
	}
	return nil
}

// New is the usual Discoverer: DNS CERT at resolver ("" = the system's),
// then LDAP found through the same resolver.
func New(resolver string, v Validator) *Discoverer {
	res := &DNS{Server: resolver}
	return &Discoverer{DNS: res, LDAP: &LDAP{DNS: res}, Validator: v}
}

// Discover finds the certificates of address usable for purpose by local
// (the sender's domain, whose circles decide trust).
func (d *Discoverer) Discover(ctx context.Context, local, address string, purpose trust.Purpose) (*Report, error) {
	address = strings.ToLower(address)
	_, domain, ok := strings.Cut(address, "@")
	if !ok || domain == "" || strings.HasPrefix(address, "@") {
		return nil, fmt.Errorf("discovery: %q is not a Direct address (user@domain)", address)
	}
	rep := &Report{Address: address, Purpose: purpose}
	now := time.Now
	if d.Now != nil {
		now = d.Now
	}
	order := d.Order
	if order == nil {
		order = DefaultOrder
	}
	for _, src := range order {
		if d.source(ctx, src, rep, local, domain, now) {
			break
		}
	}
	return rep, nil
}

// source asks one source; true when it gave a usable certificate.
func (d *Discoverer) source(ctx context.Context, src string, rep *Report, local, domain string, now func() time.Time) bool {
	address := rep.Address
	switch {
	case src == SourcePeer && d.Peer != nil:
		cands, err := d.Peer.Introduce(ctx, local, address)
		rep.Tried = append(rep.Tried, tried(SourcePeer, domain, cands, err))
		d.check(ctx, rep, local, cands, now())
	case src == SourceDNS && d.DNS != nil:
		for _, name := range []string{Name(address), domain} {
			cands, err := d.DNS.Lookup(ctx, name)
			rep.Tried = append(rep.Tried, tried(SourceDNS, name, cands, err))
			d.check(ctx, rep, local, cands, now())
			if len(rep.Usable) > 0 {
				return true
			}
		}
	case src == SourceLDAP && d.LDAP != nil:
		for _, who := range []string{address, domain} {
			cands, err := d.LDAP.Lookup(ctx, domain, who)
			rep.Tried = append(rep.Tried, tried(SourceLDAP, "mail="+who, cands, err))
			d.check(ctx, rep, local, cands, now())
			if len(rep.Usable) > 0 || errors.Is(err, ErrNoLDAP) {
				return len(rep.Usable) > 0
			}
		}
	}
	return len(rep.Usable) > 0
}

func tried(source, name string, cands []Candidate, err error) string {
	name = strings.TrimSuffix(name, ".")
	if err != nil {
		return fmt.Sprintf("%s %s: %v", source, name, err)
	}
	return fmt.Sprintf("%s %s: %d certificate(s)", source, name, len(cands))
}

// check validates each candidate and keeps the usable ones, address-bound
// before domain-bound.
func (d *Discoverer) check(ctx context.Context, rep *Report, local string, cands []Candidate, now time.Time) {
	for _, c := range cands {
		if c.Err == nil {
			chain := append([]*x509.Certificate{c.Cert}, c.Chain...)
			c.Result, c.Err = d.Validator.ValidateFor(ctx, local, rep.Address, rep.Purpose, chain, now)
		}
		rep.All = append(rep.All, c)
		if c.Usable() {
			rep.Usable = append(rep.Usable, c)
		}
	}
	// Stable: address-bound first.
	var addr, dom []Candidate
	for _, c := range rep.Usable {
		if c.Result.Bound == trust.BoundAddress {
			addr = append(addr, c)
		} else {
			dom = append(dom, c)
		}
	}
	rep.Usable = append(addr, dom...)
}
