// Package dnstest runs an authoritative DNS server (miekg/dns, UDP and
// TCP on one port) for tests of certificate discovery.
package dnstest

import (
	"encoding/base64"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/miekg/dns"
)

// Zone answers from its records: the records of the asked type, NXDOMAIN
// (with an SOA) for a name it has none for. UDP answers over the client's
// EDNS0 size (512 without, or with NoEDNS) are truncated, as a real
// server's are.
type Zone struct {
	Addr     string       // host:port, UDP and TCP
	UDP, TCP atomic.Int32 // queries seen
	NoEDNS   bool         // answer over UDP in 512 bytes whatever the client offers

	mu      sync.Mutex
	records map[string][]dns.RR // by lower-case FQDN
}

// New serves a zone on ip (127.0.0.1 if empty) until the test ends.
func New(t testing.TB, ip string) *Zone {
	t.Helper()
	if ip == "" {
		ip = "127.0.0.1"
	}
	z := &Zone{records: map[string][]dns.RR{}}
	pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	z.Addr = pc.LocalAddr().String()
	for _, s := range []*dns.Server{{PacketConn: pc, Handler: z}, {Listener: ln, Handler: z}} {
		go s.ActivateAndServe()
		t.Cleanup(func() { s.Shutdown() })
	}
	return z
}

// ServeDNS implements dns.Handler.
func (z *Zone) ServeDNS(w dns.ResponseWriter, req *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if udp {
		z.UDP.Add(1)
	} else {
		z.TCP.Add(1)
	}
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	q := req.Question[0]
	z.mu.Lock()
	rrs, ok := z.records[strings.ToLower(q.Name)]
	z.mu.Unlock()
	if !ok {
		m.Rcode = dns.RcodeNameError
		m.Ns = []dns.RR{&dns.SOA{Hdr: dns.RR_Header{Name: "test.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 300}, Ns: "ns.test.", Mbox: "admin.test.", Minttl: 30}}
	}
	for _, rr := range rrs {
		if rr.Header().Rrtype == q.Qtype {
			m.Answer = append(m.Answer, rr)
		}
	}
	if udp {
		size := 512
		if o := req.IsEdns0(); o != nil && !z.NoEDNS {
			size = int(o.UDPSize())
		}
		m.Truncate(size)
	}
	w.WriteMsg(m)
}

// Add publishes a CERT record of type typ (1: PKIX) at name.
func (z *Zone) Add(name string, ttl uint32, typ uint16, der []byte) {
	name = dns.Fqdn(strings.ToLower(name))
	z.add(&dns.CERT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeCERT, Class: dns.ClassINET, Ttl: ttl},
		Type: typ, Certificate: base64.StdEncoding.EncodeToString(der)})
}

// AddSRV publishes an SRV record at name for addr (host:port).
func (z *Zone) AddSRV(name string, prio, weight uint16, addr string) {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	name = dns.Fqdn(strings.ToLower(name))
	z.add(&dns.SRV{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60},
		Priority: prio, Weight: weight, Port: uint16(p), Target: dns.Fqdn(host)})
}

func (z *Zone) add(rr dns.RR) {
	z.mu.Lock()
	defer z.mu.Unlock()
	n := rr.Header().Name
	z.records[n] = append(z.records[n], rr)
}
