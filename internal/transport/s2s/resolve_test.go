package s2s

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// dnsServer serves SRV records from a real UDP DNS server on loopback, so
// targets() runs through net.Resolver's wire path, not a fake.
func dnsServer(t *testing.T, records map[string][]*dns.SRV) string {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := dns.HandlerFunc(func(w dns.ResponseWriter, q *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(q)
		name := q.Question[0].Name
		if q.Question[0].Qtype == dns.TypeSRV {
			for _, r := range records[name] {
				rr := *r
				rr.Hdr = dns.RR_Header{Name: name, Rrtype: dns.TypeSRV, Class: dns.ClassINET, Ttl: 60}
				m.Answer = append(m.Answer, &rr)
			}
		}
		if len(m.Answer) == 0 {
			m.Rcode = dns.RcodeNameError
		}
		_ = w.WriteMsg(m)
	})
	srv := &dns.Server{PacketConn: pc, Handler: h}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return pc.LocalAddr().String()
}

func TestTargetsFromSRV(t *testing.T) {
	addr := dnsServer(t, map[string][]*dns.SRV{
		// RFC 6120 §3.2.1 + XEP-0368: both services merged, lower priority first.
		"_xmpps-server._tcp.both.example.": {{Priority: 5, Weight: 0, Port: 5270, Target: "tls.both.example."}},
		"_xmpp-server._tcp.both.example.":  {{Priority: 10, Weight: 0, Port: 5269, Target: "plain.both.example."}},
		// Same priority: every record is tried once, whatever the weights.
		"_xmpp-server._tcp.weights.example.": {
			{Priority: 1, Weight: 60, Port: 1, Target: "a.weights.example."},
			{Priority: 1, Weight: 40, Port: 2, Target: "b.weights.example."},
			{Priority: 2, Weight: 0, Port: 3, Target: "c.weights.example."},
		},
		// RFC 2782: a lone "." target says the service is not offered.
		"_xmpps-server._tcp.none.example.": {{Target: "."}},
		"_xmpp-server._tcp.none.example.":  {{Target: "."}},
	})
	r := NewResolver(addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	got, err := targets(ctx, r, "", "both.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []target{{addr: "tls.both.example:5270", direct: true}, {addr: "plain.both.example:5269"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("both services: got %v, want %v (direct TLS first by priority)", got, want)
	}

	for i := 0; i < 20; i++ {
		got, err = targets(ctx, r, "", "weights.example")
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 3 || got[2].addr != "c.weights.example:3" {
			t.Fatalf("weights: got %v, want a and b in some order, then c (priority 2)", got)
		}
		if got[0].addr == got[1].addr {
			t.Fatalf("weights: a target listed twice: %v", got)
		}
	}

	got, err = targets(ctx, r, "", "nosrv.example")
	if err != nil || len(got) != 1 || got[0].addr != "nosrv.example:5269" || got[0].direct {
		t.Fatalf("no SRV: got %v, %v; want the domain on 5269 (RFC 6120 §3.2.2)", got, err)
	}

	if got, err = targets(ctx, r, "", "none.example"); err == nil {
		t.Fatalf("\".\" targets: got %v, want an error", got)
	}

	got, err = targets(ctx, r, "127.0.0.9:15269", "both.example")
	if err != nil || len(got) != 1 || got[0].addr != "127.0.0.9:15269" {
		t.Fatalf("static route: got %v, %v; want the route only", got, err)
	}
}
