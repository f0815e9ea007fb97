package discovery

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/miekg/dns"
	"github.com/smallstep/pkcs7"
)

// LDAP finds certificates in a Direct domain's LDAP directory, as the
// Direct discovery guidance and its RI do: the servers from the
// _ldap._tcp.<domain> SRV records (priority ascending, then a weighted
// choice, RFC 2782), tried in that order until one connects; an anonymous
// bind; the base DNs from the RootDSE namingContexts; a subtree search for
// entries whose mail is the address (or the domain) that carry a
// certificate (userCertificate, ;binary or not, and userSMIMECertificate,
// a PKCS#7 of certificates, RFC 2798 §9.1.2).
type LDAP struct {
	DNS *DNS // for the SRV records
	// Timeout bounds each network step (default 5 s).
	Timeout time.Duration
	// MaxEntries bounds one search's answer (default 50).
	MaxEntries int
	// TTL: how long an answer is kept (LDAP has no TTL of its own);
	// default 10 min, a failure at most a minute.
	TTL time.Duration

	cache Cache
}

// ErrNoLDAP: the domain publishes no _ldap._tcp SRV record.
var ErrNoLDAP = errors.New("no _ldap._tcp SRV record")

func (l *LDAP) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return 5 * time.Second
}

// Lookup searches domain's directory for entries with mail = who (an
// address, or the domain itself for domain-bound certificates).
func (l *LDAP) Lookup(ctx context.Context, domain, who string) ([]Candidate, error) {
	key, now := strings.ToLower(domain+" "+who), time.Now()
	if a, ok := l.cache.Get(key, now); ok {
		return a.Cands, a.Err
	}
	cands, err := l.lookup(ctx, domain, who)
	if ctx.Err() == nil { // a caller that gave up learned nothing about the directory
		ttl := l.TTL
		if ttl <= 0 {
			ttl = 10 * time.Minute
		}
		if err != nil && !errors.Is(err, ErrNoLDAP) {
			ttl = min(ttl, negativeTTL)
		}
		l.cache.Put(key, Answer{cands, err}, now.Add(ttl))
	}
	return cands, err
}

func (l *LDAP) lookup(ctx context.Context, domain, who string) ([]Candidate, error) {
	targets, err := l.servers(ctx, domain)
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, t := range targets {
		cands, err := l.search(ctx, t, who)
		if err == nil {
			return cands, nil
		}
		if !errors.Is(err, errConnect) {
			return nil, err // it answered: another server would say the same
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("ldap: no server of %s could be reached: %w", domain, errors.Join(errs...))
}

// servers orders the SRV targets of _ldap._tcp.domain.
func (l *LDAP) servers(ctx context.Context, domain string) ([]string, error) {
	if l.DNS == nil {
		return nil, errors.New("ldap: no DNS to find the directory with")
	}
	srvs, err := l.DNS.SRV(ctx, "_ldap._tcp."+domain)
	if err != nil {
		if errors.Is(err, ErrNoRecords) {
			return nil, ErrNoLDAP
		}
		return nil, err
	}
	var out []string
	for _, s := range orderSRV(srvs) {
		if s.Target == "." {
			continue // RFC 2782: "decidedly not available"
		}
		out = append(out, net.JoinHostPort(strings.TrimSuffix(s.Target, "."), strconv.Itoa(int(s.Port))))
	}
	if len(out) == 0 {
		return nil, ErrNoLDAP
	}
	return out, nil
}

// orderSRV sorts by priority, and within one priority draws by weight
// (RFC 2782): a weight-0 record comes after every weighted one.
func orderSRV(in []*dns.SRV) []*dns.SRV {
	rs := slices.Clone(in)
	slices.SortStableFunc(rs, func(a, b *dns.SRV) int { return int(a.Priority) - int(b.Priority) })
	var out []*dns.SRV
	for len(rs) > 0 {
		n := 1
		for n < len(rs) && rs[n].Priority == rs[0].Priority {
			n++
		}
		group := rs[:n]
		for len(group) > 0 {
			sum := 0
			for _, s := range group {
				sum += int(s.Weight)
			}
			i := 0
			if sum > 0 {
				r, _ := rand.Int(rand.Reader, big.NewInt(int64(sum)))
				pick := int(r.Int64()) + 1 // 1..sum: weight 0 is never drawn while weight remains
				for acc := 0; i < len(group); i++ {
					if acc += int(group[i].Weight); acc >= pick {
						break
					}
				}
			}
			out = append(out, group[i])
			group = slices.Delete(group, i, i+1)
		}
		rs = rs[n:]
	}
	return out
}

var errConnect = errors.New("cannot connect")

// Attributes that hold certificates.
var certAttrs = []string{"userCertificate;binary", "userCertificate", "userSMIMECertificate;binary", "userSMIMECertificate"}

func (l *LDAP) search(ctx context.Context, server, who string) ([]Candidate, error) {
	d := &net.Dialer{Timeout: l.timeout()}
	conn, err := ldap.DialURL("ldap://"+server, ldap.DialWithDialer(d))
	if err != nil {
		return nil, fmt.Errorf("ldap %s: %w: %v", server, errConnect, err)
	}
	defer conn.Close()
	conn.SetTimeout(l.timeout())
	if dl, ok := ctx.Deadline(); ok {
		conn.SetTimeout(min(l.timeout(), time.Until(dl)))
	}
	if err := conn.UnauthenticatedBind(""); err != nil {
		return nil, fmt.Errorf("ldap %s: anonymous bind refused: %v", server, err)
	}
	root, err := conn.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 1, int(l.timeout()/time.Second), false,
		"(objectClass=*)", []string{"namingContexts"}, nil))
	if err != nil || len(root.Entries) == 0 {
		return nil, fmt.Errorf("ldap %s: no RootDSE: %v", server, err)
	}
	bases := root.Entries[0].GetAttributeValues("namingContexts")
	if len(bases) == 0 {
		return nil, fmt.Errorf("ldap %s: the RootDSE names no namingContexts", server)
	}
	maxEntries := l.MaxEntries
	if maxEntries <= 0 {
		maxEntries = 50
	}
	filter := fmt.Sprintf("(&(mail=%s)(|(userCertificate;binary=*)(userCertificate=*)(userSMIMECertificate=*)))", ldap.EscapeFilter(who))
	var out []Candidate
	for _, base := range bases {
		res, err := conn.Search(ldap.NewSearchRequest(base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, maxEntries, int(l.timeout()/time.Second), false,
			filter, certAttrs, nil))
		if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
			return nil, fmt.Errorf("ldap %s: search under %q: %v", server, base, err)
		}
		if res == nil {
			continue
		}
		for _, e := range res.Entries {
			out = append(out, entryCerts(server, e)...)
		}
	}
	return out, nil
}

// entryCerts reads an entry's certificates; a value that is not one is a
// candidate with the reason.
func entryCerts(server string, e *ldap.Entry) []Candidate {
	where := "ldap://" + server + "/" + e.DN
	var out []Candidate
	for _, a := range e.Attributes {
		name := strings.TrimSuffix(strings.ToLower(a.Name), ";binary")
		for _, v := range a.ByteValues {
			switch name {
			case "usercertificate":
				c, err := x509.ParseCertificate(v)
				if err != nil {
					out = append(out, Candidate{Source: SourceLDAP, Where: where, Err: fmt.Errorf("%s: not an X.509 certificate: %v", a.Name, err)})
					continue
				}
				out = append(out, Candidate{Source: SourceLDAP, Where: where, Cert: c})
			case "usersmimecertificate":
				p, err := pkcs7.Parse(v)
				if err != nil || len(p.Certificates) == 0 {
					out = append(out, Candidate{Source: SourceLDAP, Where: where, Err: fmt.Errorf("%s: not a PKCS#7 with certificates: %v", a.Name, err)})
					continue
				}
				// The first is the entry's; the rest are its chain.
				out = append(out, Candidate{Source: SourceLDAP, Where: where, Cert: p.Certificates[0], Chain: p.Certificates[1:]})
			}
		}
	}
	return out
}
