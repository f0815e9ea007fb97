package publish

import (
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Domain is what one Direct domain publishes.
type Domain struct {
	Name string // the zone apex, e.g. b.example
	// Certs are published as CERT PKIX at the apex (domain-bound).
	Certs []*x509.Certificate
	// Addresses maps a Direct address to its certificates, published at
	// its name (nurse@b.example at nurse.b.example).
	Addresses map[string][]*x509.Certificate
	// Host is the target of the SRV records (default: the apex); HostIPs,
	// if the host is in the zone, its A/AAAA records.
	Host    string
	HostIPs []net.IP
	// C2SPort and S2SPort are the SRV ports (0: no such record).
	C2SPort, S2SPort uint16
}

// Zone is the records tern answers for, built once (Build) and swapped
// whole on a change.
type Zone struct {
	apexes map[string]*apex // by FQDN, lower case
}

type apex struct {
	name  string
	soa   *dns.SOA
	ns    []dns.RR
	names map[string]map[uint16][]dns.RR // owner FQDN -> type -> records
	ents  map[string]bool                // empty non-terminals: names with none of their own but some below
}

// Build makes the zone of domains, every record with ttl.
func Build(domains []Domain, ttl time.Duration) (*Zone, error) {
	z := &Zone{apexes: map[string]*apex{}}
	t := uint32(ttl / time.Second)
	for _, d := range domains {
		name := dns.Fqdn(strings.ToLower(d.Name))
		if _, ok := dns.IsDomainName(name); !ok {
			return nil, fmt.Errorf("publish: %q is not a domain name", d.Name)
		}
		if _, dup := z.apexes[name]; dup {
			return nil, fmt.Errorf("publish: domain %s twice", d.Name)
		}
		host := dns.Fqdn(strings.ToLower(d.Host))
		if d.Host == "" {
			host = name
		}
		a := &apex{name: name, names: map[string]map[uint16][]dns.RR{}, ents: map[string]bool{}}
		hdr := func(owner string, typ uint16) dns.RR_Header {
			return dns.RR_Header{Name: owner, Rrtype: typ, Class: dns.ClassINET, Ttl: t}
		}
		a.soa = &dns.SOA{Hdr: hdr(name, dns.TypeSOA), Ns: host, Mbox: "hostmaster." + name,
			Serial: uint32(time.Now().Unix()), Refresh: 3600, Retry: 600, Expire: 604800, Minttl: min(t, 300)}
		a.ns = []dns.RR{&dns.NS{Hdr: hdr(name, dns.TypeNS), Ns: host}}
		a.add(a.soa)
		a.add(a.ns[0])
		for _, c := range d.Certs {
			a.add(certRR(hdr(name, dns.TypeCERT), c))
		}
		for addr, certs := range d.Addresses {
			owner := dns.Fqdn(strings.ToLower(strings.Replace(addr, "@", ".", 1)))
			if !dns.IsSubDomain(name, owner) {
				return nil, fmt.Errorf("publish: address %s is not in domain %s", addr, d.Name)
			}
			for _, c := range certs {
				a.add(certRR(hdr(owner, dns.TypeCERT), c))
			}
		}
		// RFC 6120 §3.2.1, XEP-0368 would add _xmpps-*: the SRV records a
		// TIM+ domain needs (timplus.md §5 item 1).
		if d.S2SPort != 0 {
			a.add(&dns.SRV{Hdr: hdr("_xmpp-server._tcp."+name, dns.TypeSRV), Priority: 0, Weight: 0, Port: d.S2SPort, Target: host})
		}
		if d.C2SPort != 0 {
			a.add(&dns.SRV{Hdr: hdr("_xmpp-client._tcp."+name, dns.TypeSRV), Priority: 0, Weight: 0, Port: d.C2SPort, Target: host})
		}
		if dns.IsSubDomain(name, host) {
			for _, ip := range d.HostIPs {
				if v4 := ip.To4(); v4 != nil {
					a.add(&dns.A{Hdr: hdr(host, dns.TypeA), A: v4})
				} else {
					a.add(&dns.AAAA{Hdr: hdr(host, dns.TypeAAAA), AAAA: ip})
				}
			}
		}
		for owner := range a.names {
			for n := owner; n != name; {
				i, end := dns.NextLabel(n, 0)
				if end {
					break
				}
				if n = n[i:]; a.names[n] == nil {
					a.ents[n] = true
				}
			}
		}
		z.apexes[name] = a
	}
	return z, nil
}

func certRR(h dns.RR_Header, c *x509.Certificate) *dns.CERT {
	// RFC 4398 §2.1: type PKIX; key tag and algorithm 0 for X.509.
	return &dns.CERT{Hdr: h, Type: 1, Certificate: base64.StdEncoding.EncodeToString(c.Raw)}
}

func (a *apex) add(rr dns.RR) {
	h := rr.Header()
	types := a.names[h.Name]
	if types == nil {
		types = map[uint16][]dns.RR{}
		a.names[h.Name] = types
	}
	types[h.Rrtype] = append(types[h.Rrtype], rr)
}

// find is the apex a name belongs to (the longest match), or nil.
func (z *Zone) find(name string) *apex {
	for n := name; ; {
		if a := z.apexes[n]; a != nil {
			return a
		}
		i, end := dns.NextLabel(n, 0)
		if end || i >= len(n) {
			return nil
		}
		n = n[i:]
	}
}

// Answer fills m, a reply to q, as the authoritative server of the zone:
// the records; NODATA or NXDOMAIN with the SOA (RFC 2308); REFUSED for a
// name outside it (not an open resolver). It reports whether the name
// is in the zone.
func (z *Zone) Answer(q dns.Question, m *dns.Msg) bool {
	name := strings.ToLower(q.Name)
	a := z.find(name)
	if a == nil || q.Qclass != dns.ClassINET && q.Qclass != dns.ClassANY {
		m.Rcode = dns.RcodeRefused
		return false
	}
	m.Authoritative = true
	types, ok := a.names[name]
	if !ok {
		if !a.ents[name] { // RFC 8020: an empty non-terminal is NODATA
			m.Rcode = dns.RcodeNameError
		}
		m.Ns = []dns.RR{a.soa}
		return true
	}
	if q.Qtype == dns.TypeANY {
		// RFC 8482: a minimal answer to ANY.
		m.Answer = append(m.Answer, &dns.HINFO{Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeHINFO, Class: dns.ClassINET, Ttl: a.soa.Hdr.Ttl}, Cpu: "RFC8482"})
		return true
	}
	rrs := types[q.Qtype]
	if len(rrs) == 0 {
		m.Ns = []dns.RR{a.soa}
		return true
	}
	m.Answer = append(m.Answer, rrs...)
	if q.Qtype == dns.TypeNS {
		return true
	}
	if q.Qtype == dns.TypeSRV { // the target's addresses, as a courtesy
		for _, rr := range rrs {
			if t := a.names[rr.(*dns.SRV).Target]; t != nil {
				m.Extra = append(m.Extra, t[dns.TypeA]...)
				m.Extra = append(m.Extra, t[dns.TypeAAAA]...)
			}
		}
	}
	return true
}
