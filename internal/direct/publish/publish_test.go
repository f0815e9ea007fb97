package publish

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// cert issues a certificate (any issuer will do: only its bytes are published).
func cert(t testing.TB, ca *trusttest.CA, cn string, rsaBits int, dnsNames, emails []string) *x509.Certificate {
	t.Helper()
	return ca.Leaf(t, cn, trusttest.Opts{RSA: rsaBits > 0, Bits: rsaBits, DNSNames: dnsNames, Emails: emails}).Cert
}

type fixture struct {
	addr          string
	dom, nurse    *x509.Certificate
	big           *x509.Certificate
	srv           *Server
	udpQ, answers int
}

func serve(t testing.TB, opts ...func(*Server)) *fixture {
	t.Helper()
	ca := trusttest.NewRoot(t, "Publish CA", trusttest.Opts{})
	f := &fixture{dom: cert(t, ca, "b.test", 0, []string{"b.test"}, nil), nurse: cert(t, ca, "nurse", 0, []string{}, []string{"nurse@b.test"}),
		big: cert(t, ca, "big", 4096, []string{}, []string{"big@b.test"})}
	z, err := Build([]Domain{{Name: "B.test", Certs: []*x509.Certificate{f.dom},
		Addresses: map[string][]*x509.Certificate{"nurse@b.test": {f.nurse}, "big@b.test": {f.big}, "deep@sub.b.test": {f.nurse}},
		Host:      "xmpp.b.test", HostIPs: []net.IP{net.ParseIP("127.0.0.5"), net.ParseIP("::1")}, C2SPort: 5222, S2SPort: 5269}}, 300*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	f.srv = NewServer(z, nil)
	for _, o := range opts {
		o(f.srv) // before Listen: the server's goroutines read its fields
	}
	a, err := f.srv.Listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.srv.Close(context.Background()) })
	f.addr = a.String()
	return f
}

func ask(t *testing.T, addr, name string, qtype uint16, network string, edns uint16) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	if edns > 0 {
		m.SetEdns0(edns, false)
	}
	r, _, err := (&dns.Client{Net: network, Timeout: 2 * time.Second}).Exchange(m, addr)
	if err != nil {
		t.Fatalf("%s %s over %s: %v", name, dns.TypeToString[qtype], network, err)
	}
	return r
}

// TestResponder: what the zone answers, as RFC 1035, 2308, 4398, 6120
// §3.2.1, 8020 and 8482 say, over UDP and TCP.
func TestResponder(t *testing.T) {
	f := serve(t)
	for _, c := range []struct {
		name   string
		q      string
		qtype  uint16
		rcode  int
		answer int  // records in the answer
		soa    bool // the SOA in the authority section
	}{
		{"domain CERT", "b.test", dns.TypeCERT, dns.RcodeSuccess, 1, false},
		{"address CERT", "nurse.b.test", dns.TypeCERT, dns.RcodeSuccess, 1, false},
		{"case-insensitive", "NURSE.B.Test", dns.TypeCERT, dns.RcodeSuccess, 1, false},
		{"no such address", "nobody.b.test", dns.TypeCERT, dns.RcodeNameError, 0, true},
		{"NODATA", "nurse.b.test", dns.TypeA, dns.RcodeSuccess, 0, true},
		{"empty non-terminal", "sub.b.test", dns.TypeCERT, dns.RcodeSuccess, 0, true},
		{"SRV s2s", "_xmpp-server._tcp.b.test", dns.TypeSRV, dns.RcodeSuccess, 1, false},
		{"SRV c2s", "_xmpp-client._tcp.b.test", dns.TypeSRV, dns.RcodeSuccess, 1, false},
		{"host A", "xmpp.b.test", dns.TypeA, dns.RcodeSuccess, 1, false},
		{"SOA", "b.test", dns.TypeSOA, dns.RcodeSuccess, 1, false},
		{"NS", "b.test", dns.TypeNS, dns.RcodeSuccess, 1, false},
		{"ANY", "b.test", dns.TypeANY, dns.RcodeSuccess, 1, false},
		{"outside the zone", "example.com", dns.TypeA, dns.RcodeRefused, 0, false},
		{"a suffix that is not a sub-domain", "xb.test", dns.TypeCERT, dns.RcodeRefused, 0, false},
	} {
		for _, network := range []string{"udp", "tcp"} {
			r := ask(t, f.addr, c.q, c.qtype, network, 1232)
			soa := len(r.Ns) == 1 && r.Ns[0].Header().Rrtype == dns.TypeSOA
			if r.Rcode != c.rcode || len(r.Answer) != c.answer || soa != c.soa {
				t.Errorf("%s over %s: rcode %s, %d answers, SOA %v; want %s, %d, %v\n%s", c.name, network,
					dns.RcodeToString[r.Rcode], len(r.Answer), soa, dns.RcodeToString[c.rcode], c.answer, c.soa, r)
			}
			if c.rcode != dns.RcodeRefused && !r.Authoritative {
				t.Errorf("%s over %s: not authoritative", c.name, network)
			}
		}
	}
	r := ask(t, f.addr, "b.test", dns.TypeCERT, "tcp", 0)
	c := r.Answer[0].(*dns.CERT)
	if der, _ := base64.StdEncoding.DecodeString(c.Certificate); c.Type != 1 || !bytes.Equal(der, f.dom.Raw) {
		t.Errorf("domain CERT: type %d, not the domain's certificate", c.Type)
	}
	srv := ask(t, f.addr, "_xmpp-server._tcp.b.test", dns.TypeSRV, "udp", 0)
	if s := srv.Answer[0].(*dns.SRV); s.Port != 5269 || s.Target != "xmpp.b.test." || len(srv.Extra) != 2 {
		t.Errorf("SRV %v, extra %v; want port 5269 at xmpp.b.test. with its A and AAAA", s, srv.Extra)
	}
	// A 4096-bit certificate does not fit 512 bytes: truncated over UDP, whole over TCP.
	if r := ask(t, f.addr, "big.b.test", dns.TypeCERT, "udp", 0); !r.Truncated {
		t.Error("big.b.test CERT over UDP without EDNS0: not truncated")
	}
	if r := ask(t, f.addr, "big.b.test", dns.TypeCERT, "tcp", 0); r.Truncated || len(r.Answer) != 1 {
		t.Errorf("big.b.test CERT over TCP: %v", r)
	}
}

// TestResponderBadQueries: two questions are FORMERR, an update NOTIMP,
// and the server goes on.
func TestResponderBadQueries(t *testing.T) {
	f := serve(t)
	m := new(dns.Msg)
	m.SetQuestion("b.test.", dns.TypeCERT)
	m.Question = append(m.Question, dns.Question{Name: "nurse.b.test.", Qtype: dns.TypeCERT, Qclass: dns.ClassINET})
	if r, _, err := new(dns.Client).Exchange(m, f.addr); err != nil || r.Rcode != dns.RcodeFormatError {
		t.Errorf("two questions: %v %v; want FORMERR", r, err)
	}
	u := new(dns.Msg)
	u.SetUpdate("b.test.")
	if r, _, err := new(dns.Client).Exchange(u, f.addr); err != nil || r.Rcode != dns.RcodeNotImplemented {
		t.Errorf("update: %v %v; want NOTIMP", r, err)
	}
	if r := ask(t, f.addr, "b.test", dns.TypeCERT, "tcp", 0); len(r.Answer) != 1 {
		t.Error("the server stopped answering after bad queries")
	}
}

// TestHostedFoundByDiscovery: DCDT hosting cases H1 (address-bound in DNS)
// and H2 (domain-bound in DNS): another resolver, tern's own discovery
// client, finds what the responder publishes.
func TestHostedFoundByDiscovery(t *testing.T) {
	f := serve(t)
	d := &discovery.DNS{Server: f.addr}
	for _, c := range []struct {
		name string
		want *x509.Certificate
	}{{"nurse.b.test", f.nurse}, {"b.test", f.dom}, {"big.b.test", f.big}} {
		got, err := d.Lookup(context.Background(), c.name)
		if err != nil || len(got) != 1 || got[0].Cert == nil || !got[0].Cert.Equal(c.want) {
			t.Errorf("%s: %v, %v; want the published certificate", c.name, got, err)
		}
	}
}

// TestDig: Debian's dig (bind9-dnsutils) reads the records.
func TestDig(t *testing.T) {
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dig not installed (bind9-dnsutils); .ci/run installs it")
		}
		t.Skip("dig not installed (apt-get install bind9-dnsutils)")
	}
	f := serve(t)
	host, port, _ := net.SplitHostPort(f.addr)
	run := func(args ...string) string {
		out, err := exec.Command(dig, append([]string{"@" + host, "-p", port, "+time=2", "+tries=1"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	out := run("nurse.b.test", "CERT", "+short")
	fields := strings.Fields(out)
	if len(fields) < 4 || fields[0] != "PKIX" {
		t.Fatalf("dig nurse.b.test CERT: %q; want PKIX 0 0 <base64>", out)
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(fields[3:], ""))
	if err != nil || !bytes.Equal(der, f.nurse.Raw) {
		t.Errorf("dig's CERT is not the published certificate (%v)", err)
	}
	if out := run("_xmpp-server._tcp.b.test", "SRV", "+short"); strings.TrimSpace(out) != "0 0 5269 xmpp.b.test." {
		t.Errorf("dig SRV: %q", out)
	}
	if out := run("big.b.test", "CERT", "+noedns", "+ignore"); !strings.Contains(out, "flags: qr aa tc") {
		t.Errorf("dig big.b.test CERT over UDP without EDNS0: not truncated\n%s", out)
	}
	if out := run("big.b.test", "CERT", "+short"); !strings.HasPrefix(out, "PKIX") {
		t.Errorf("dig big.b.test CERT (retries over TCP): %q", out)
	}
	if out := run("example.com", "A"); !strings.Contains(out, "status: REFUSED") {
		t.Errorf("dig example.com: not REFUSED\n%s", out)
	}
}

// TestResponderRateLimit: past the per-address bound, UDP queries get an
// empty truncated answer every other time (a resolver retries over TCP,
// which is not limited) and otherwise none.
func TestResponderRateLimit(t *testing.T) {
	f := serve(t, func(s *Server) { s.PerIP = ratelimit.NewWindow(5, time.Hour) })
	answered, truncated, silent := 0, 0, 0
	for range 20 {
		m := new(dns.Msg)
		m.SetQuestion("b.test.", dns.TypeSOA)
		r, _, err := (&dns.Client{Net: "udp", Timeout: 200 * time.Millisecond}).Exchange(m, f.addr)
		switch {
		case err != nil:
			silent++
		case r.Truncated && len(r.Answer) == 0:
			truncated++
		case len(r.Answer) == 1:
			answered++
		}
	}
	if answered != 5 || truncated != 7 || silent != 8 {
		t.Errorf("answered %d, truncated %d, silent %d; want 5, 7, 8", answered, truncated, silent)
	}
	if r := ask(t, f.addr, "b.test", dns.TypeSOA, "tcp", 0); len(r.Answer) != 1 {
		t.Error("TCP was limited too")
	}
}
