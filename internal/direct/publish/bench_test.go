package publish

import (
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// BenchmarkResponderUDP: answers per second over UDP on loopback for the
// dnsbench.sh mix (SRV x2, A, SOA, NS, a missing name), with EDNS0, 32
// queries in flight from one socket. The server's whole path: miekg/dns's
// read loop, the rate limiter off, the zone's answer, packing, the write.
func BenchmarkResponderUDP(b *testing.B) {
	f := serve(b)
	var qs [][]byte
	for _, q := range []struct {
		name  string
		qtype uint16
	}{{"_xmpp-server._tcp.b.test", dns.TypeSRV}, {"_xmpp-client._tcp.b.test", dns.TypeSRV}, {"xmpp.b.test", dns.TypeA},
		{"b.test", dns.TypeSOA}, {"b.test", dns.TypeNS}, {"nobody.b.test", dns.TypeCERT}} {
		m := new(dns.Msg)
		m.SetQuestion(q.name+".", q.qtype)
		m.SetEdns0(1232, false)
		p, err := m.Pack()
		if err != nil {
			b.Fatal(err)
		}
		qs = append(qs, p)
	}
	conn, err := net.Dial("udp", f.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	window := make(chan struct{}, 32)
	var got, lost atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for got.Load()+lost.Load() < int64(b.N) {
			conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
			if _, err := conn.Read(buf); err != nil {
				// Lost on the way (a full socket buffer): free the window.
				for len(window) > 0 && got.Load()+lost.Load() < int64(b.N) {
					<-window
					lost.Add(1)
				}
				continue
			}
			got.Add(1)
			<-window
		}
	}()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		window <- struct{}{}
		q := qs[i%len(qs)]
		q[0], q[1] = byte(i>>8), byte(i)
		if _, err := conn.Write(q); err != nil {
			b.Fatal(err)
		}
	}
	<-done
	b.ReportMetric(float64(got.Load())/time.Since(start).Seconds(), "answers/s")
	b.ReportMetric(float64(lost.Load()), "lost")
}
