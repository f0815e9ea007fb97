package discovery

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// CERT record certificate types (RFC 4398 §2.1).
const (
	certPKIX  = 1 // an X.509 certificate, DER
	certIPKIX = 4 // the URL of one (not fetched: DCDT and the AS use PKIX)
)

// DNS finds certificates in DNS CERT records (RFC 4398; Direct
// Applicability Statement §5.3): for nurse@b.example at nurse.b.example
// ('@' becomes '.', as the Direct RI does), then at b.example. It asks
// over UDP with EDNS0 and again over TCP when the answer is truncated (a
// 4096-bit certificate does not fit: DCDT D14). Answers are cached within
// their TTL, failures briefly.
type DNS struct {
	// Server is the resolver, host:port ("": the first nameserver of
	// /etc/resolv.conf).
	Server string
	// Timeout bounds one exchange (default 5 s).
	Timeout time.Duration

	cache Cache
	now   func() time.Time

	sys     sync.Once // the system resolver, read once
	sysAddr string
	sysErr  error
}

// Cache bounds: a TTL is honoured up to a day; a failure or an empty
// answer is kept a minute (no record is an answer too, but a new record
// should not wait long); at most this many names are kept.
const (
	maxTTL       = 24 * time.Hour
	negativeTTL  = time.Minute
	udpSize      = 1232 // the DNS flag day's EDNS0 size
	maxCERTBytes = 64 << 10
)

// ErrNoRecords: the name has no CERT record of a usable type.
var ErrNoRecords = errors.New("no CERT record")

// Name is the owner name of an address's CERT records.
func Name(address string) string {
	return dns.Fqdn(strings.ToLower(strings.Replace(address, "@", ".", 1)))
}

// Lookup returns the PKIX certificates published at name (an address's
// Name, or a domain), with the records it could not use as candidates
// carrying an error.
func (d *DNS) Lookup(ctx context.Context, name string) ([]Candidate, error) {
	name = dns.Fqdn(strings.ToLower(name))
	now := d.clock()
	if a, ok := d.cache.Get(name, now); ok {
		return a.Cands, a.Err
	}
	certs, ttl, err := d.query(ctx, name)
	if err != nil && ttl <= 0 {
		ttl = negativeTTL // a failure to ask: try again soon
	}
	d.cache.Put(name, Answer{certs, err}, now.Add(min(ttl, maxTTL)))
	return certs, err
}

func (d *DNS) clock() time.Time {
	if d.now != nil {
		return d.now()
	}
	return time.Now()
}

func (d *DNS) server() (string, error) {
	if d.Server != "" {
		return d.Server, nil
	}
	d.sys.Do(func() {
		cc, err := dns.ClientConfigFromFile("/etc/resolv.conf")
		if err != nil || len(cc.Servers) == 0 {
			d.sysErr = fmt.Errorf("dns: no resolver configured and none in /etc/resolv.conf: %v", err)
			return
		}
		d.sysAddr = net.JoinHostPort(cc.Servers[0], cc.Port)
	})
	return d.sysAddr, d.sysErr
}

// SRV returns the SRV records of name (not cached: a directory is looked
// for once per discovery that reaches it).
func (d *DNS) SRV(ctx context.Context, name string) ([]*dns.SRV, error) {
	name = dns.Fqdn(strings.ToLower(name))
	r, srv, err := d.exchange(ctx, name, dns.TypeSRV)
	if err != nil {
		return nil, err
	}
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, ErrNoRecords
	default:
		return nil, fmt.Errorf("dns: SRV %s at %s: %s", name, srv, dns.RcodeToString[r.Rcode])
	}
	var out []*dns.SRV
	for _, rr := range r.Answer {
		if s, ok := rr.(*dns.SRV); ok && strings.EqualFold(s.Hdr.Name, name) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, ErrNoRecords
	}
	return out, nil
}

// query asks for name's CERT records.
func (d *DNS) query(ctx context.Context, name string) ([]Candidate, time.Duration, error) {
	r, srv, err := d.exchange(ctx, name, dns.TypeCERT)
	if err != nil {
		return nil, 0, err
	}
	return certsFrom(r, name, srv)
}

// exchange asks the resolver: UDP first, TCP if truncated.
func (d *DNS) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	srv, err := d.server()
	if err != nil {
		return nil, "", err
	}
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(udpSize, false)
	timeout := d.Timeout
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	var r *dns.Msg
	for _, network := range []string{"udp", "tcp"} {
		c := &dns.Client{Net: network, Timeout: timeout, UDPSize: udpSize}
		qctx, cancel := context.WithTimeout(ctx, timeout)
		r, _, err = c.ExchangeContext(qctx, m, srv)
		cancel()
		if err != nil {
			return nil, srv, fmt.Errorf("dns: %s %s at %s over %s: %w", dns.TypeToString[qtype], name, srv, network, err)
		}
		if !r.Truncated {
			break
		}
	}
	if r.Truncated {
		return nil, srv, fmt.Errorf("dns: %s %s at %s: truncated even over TCP", dns.TypeToString[qtype], name, srv)
	}
	return r, srv, nil
}

// certsFrom reads the CERT records of name from an answer.
func certsFrom(r *dns.Msg, name, srv string) ([]Candidate, time.Duration, error) {
	switch r.Rcode {
	case dns.RcodeSuccess:
	case dns.RcodeNameError:
		return nil, negTTL(r), ErrNoRecords
	default:
		return nil, 0, fmt.Errorf("dns: CERT %s at %s: %s", name, srv, dns.RcodeToString[r.Rcode])
	}
	var out []Candidate
	ttl := time.Duration(-1)
	for _, rr := range r.Answer {
		c, ok := rr.(*dns.CERT)
		if !ok || !strings.EqualFold(c.Hdr.Name, name) {
			continue // a CNAME on the way, or something else
		}
		if t := time.Duration(c.Hdr.Ttl) * time.Second; ttl < 0 || t < ttl {
			ttl = t
		}
		out = append(out, parseCERT(name, c))
	}
	if len(out) == 0 {
		return nil, negTTL(r), ErrNoRecords
	}
	return out, ttl, nil
}

// negTTL is the negative-caching time of an answer (RFC 2308 §5: the
// SOA's minimum, bounded by its TTL), at most negativeTTL.
func negTTL(r *dns.Msg) time.Duration {
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			return min(time.Duration(min(soa.Minttl, soa.Hdr.Ttl))*time.Second, negativeTTL)
		}
	}
	return negativeTTL
}

// parseCERT turns one record into a candidate; a record it cannot use
// carries the reason.
func parseCERT(name string, c *dns.CERT) Candidate {
	cand := Candidate{Source: SourceDNS, Where: strings.TrimSuffix(name, ".")}
	switch c.Type {
	case certPKIX:
	case certIPKIX:
		cand.Err = fmt.Errorf("CERT type IPKIX (a URL) is not fetched; publish the certificate itself (type PKIX)")
		return cand
	default:
		cand.Err = fmt.Errorf("CERT type %d is not PKIX (1)", c.Type)
		return cand
	}
	if base64.StdEncoding.DecodedLen(len(c.Certificate)) > maxCERTBytes {
		cand.Err = fmt.Errorf("CERT record over %d bytes", maxCERTBytes)
		return cand
	}
	der, err := base64.StdEncoding.DecodeString(c.Certificate)
	if err != nil {
		cand.Err = fmt.Errorf("CERT record: bad base64: %v", err)
		return cand
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		cand.Err = fmt.Errorf("CERT record: not an X.509 certificate: %v", err)
		return cand
	}
	cand.Cert = cert
	return cand
}
