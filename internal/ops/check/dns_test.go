package check

import (
	"context"
	"net"
	"strings"
	"testing"

	"github.com/miekg/dns"
	"github.com/tern-xmpp/tern/internal/ops/config"
)

// zone is served by a miekg/dns server on 127.0.0.1 for the resolver tests.
const zone = `
$ORIGIN example.org.
@                     3600 IN A     192.0.2.10
xmpp                  3600 IN A     192.0.2.11
_xmpp-client._tcp     3600 IN SRV   0 5 5222 xmpp.example.org.
_xmpps-client._tcp    3600 IN SRV   0 5 5223 xmpp.example.org.
_xmpp-server._tcp     3600 IN SRV   0 5 5269 xmpp.example.org.
$ORIGIN bad.example.
_xmpp-client._tcp     3600 IN SRV   0 5 5999 gone.bad.example.
$ORIGIN nosrv.example.
@                     3600 IN AAAA  2001:db8::1
$ORIGIN off.example.
_xmpp-client._tcp     3600 IN SRV   0 0 0 .
`

// startDNS serves zone over UDP and returns a resolver using only it.
func startDNS(t *testing.T) *net.Resolver {
	t.Helper()
	records := map[string][]dns.RR{} // "name/type" -> RRs
	names := map[string]bool{}
	zp := dns.NewZoneParser(strings.NewReader(zone), "", "")
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		k := strings.ToLower(h.Name) + "/" + dns.TypeToString[h.Rrtype]
		records[k] = append(records[k], rr)
		names[strings.ToLower(h.Name)] = true
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		m.Authoritative = true
		q := req.Question[0]
		name := strings.ToLower(q.Name)
		m.Answer = records[name+"/"+dns.TypeToString[q.Qtype]]
		if len(m.Answer) == 0 && !names[name] {
			m.Rcode = dns.RcodeNameError
		}
		w.WriteMsg(m)
	})}
	started := make(chan struct{})
	srv.NotifyStartedFunc = func() { close(started) }
	go srv.ActivateAndServe()
	<-started
	t.Cleanup(func() { srv.Shutdown() })
	addr := pc.LocalAddr().String()
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "udp", addr)
	}}
}

func TestDNS(t *testing.T) {
	c := &Checker{Resolver: startDNS(t)}
	cfg := config.Default()
	cfg.C2S.Listen = []string{"0.0.0.0:5222"}
	cfg.C2S.ListenTLS = []string{"0.0.0.0:5223"}
	cfg.S2S.Listen = []string{"0.0.0.0:5269"}
	tests := []struct {
		domain string
		sev    Severity
		want   string
	}{
		{"example.org", OK, "_xmpp-client._tcp.example.org -> xmpp.example.org:5222"},
		{"example.org", OK, "_xmpps-client._tcp.example.org -> xmpp.example.org:5223"},
		{"example.org", OK, "_xmpp-server._tcp.example.org -> xmpp.example.org:5269"},
		{"example.org", Info, "_xmpps-server._tcp.example.org: none"},
		{"example.org", OK, "example.org has address 192.0.2.10"},
		{"bad.example", Error, "gone.bad.example., which has no A/AAAA"},
		{"bad.example", Warning, "port 5999 but tern listens on [5222]"},
		{"bad.example", Info, "no A/AAAA record (fine"},
		{"nosrv.example", Warning, "_xmpp-client._tcp.nosrv.example: none: clients will try nosrv.example:5222"},
		{"nosrv.example", Warning, "_xmpp-server._tcp.nosrv.example: none"},
		{"nosrv.example", OK, "has address 2001:db8::1"},
		{"off.example", Info, "declared unavailable"},
		{"missing.example", Error, "neither SRV nor A/AAAA"},
		{"localhost", Info, "no DNS needed"},
	}
	got := map[string][]Result{}
	for _, tt := range tests {
		rs, ok := got[tt.domain]
		if !ok {
			rs = c.dnsDomain(context.Background(), cfg, tt.domain)
			got[tt.domain] = rs
		}
		if !has(rs, tt.sev, tt.want) {
			t.Errorf("%s: no %v result containing %q:%s", tt.domain, tt.sev, tt.want, dump(rs))
		}
	}
	// Without s2s listeners, missing server records are fine.
	cfg.S2S.Listen = nil
	if rs := c.dnsDomain(context.Background(), cfg, "nosrv.example"); !has(rs, Info, "federation is off") {
		t.Errorf("federation off:%s", dump(rs))
	}
}
