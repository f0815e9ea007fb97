package s2s

import (
	"context"
	"testing"
	"time"
)

// BenchmarkMessages measures messages/s from a local user of one instance
// to a local user of another over one s2s stream (SASL EXTERNAL, TLS 1.3).
func BenchmarkMessages(b *testing.B) {
	ca := newCA(b)
	x := newNode(b, "a.test", issue(b, ca, "a.test"), ca.pool)
	y := newNode(b, "b.test", issue(b, ca, "b.test"), ca.pool)
	link(x, y)
	bob := y.user(b, "bob@b.test/r")
	st := message("alice@a.test/r", "bob@b.test/r", "hello, this is a short chat message")
	x.r.Route(context.Background(), st)
	bob.next(b) // stream up
	b.ResetTimer()
	start := time.Now()
	// A window of messages in flight, as a client's stream would give: with
	// no bound the stream's output passes its limit and later messages are
	// bounced (resource-constraint), which a benchmark counting deliveries
	// would wait for forever.
	window := make(chan struct{}, 512)
	done := make(chan struct{})
	go func() {
		for i := 0; i < b.N; i++ {
			<-bob.ch
			<-window
		}
		close(done)
	}()
	for i := 0; i < b.N; i++ {
		window <- struct{}{}
		x.r.Route(context.Background(), st)
	}
	<-done
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}

// BenchmarkRoundTrip measures the latency s2s adds: one message there and
// one back, sequentially, over established streams.
func BenchmarkRoundTrip(b *testing.B) {
	ca := newCA(b)
	x := newNode(b, "a.test", issue(b, ca, "a.test"), ca.pool)
	y := newNode(b, "b.test", issue(b, ca, "b.test"), ca.pool)
	link(x, y)
	alice := x.user(b, "alice@a.test/r")
	bob := y.user(b, "bob@b.test/r")
	there := message("alice@a.test/r", "bob@b.test/r", "ping")
	back := message("bob@b.test/r", "alice@a.test/r", "pong")
	x.r.Route(context.Background(), there)
	bob.next(b)
	y.r.Route(context.Background(), back)
	alice.next(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		x.r.Route(context.Background(), there)
		<-bob.ch
		y.r.Route(context.Background(), back)
		<-alice.ch
	}
}
