package bytestreams_test

import (
	"fmt"
	"io"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
)

// BenchmarkProxy sends a 100 MB file through the proxy over loopback:
// requester -> proxy -> target, with TLS on both legs (TIM+) and without.
// The figure is MB/s of file (each byte is read and written twice by the
// proxy, and encrypted and decrypted twice with TLS, on the same machine
// as both clients).
//
//	go test -run '^$' -bench Proxy ./internal/feature/bytestreams/
func BenchmarkProxy(b *testing.B) {
	const size = 100 << 20
	chunk := random(1 << 20)
	for _, tlsOn := range []bool{true, false} {
		b.Run(fmt.Sprintf("tls=%t", tlsOn), func(b *testing.B) {
			f := newFixture(b, func(c *bytestreams.Config) { c.TLS, c.Rate, c.MaxBytes = tlsOn, 0, 0 })
			alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
			b.SetBytes(size)
			b.ResetTimer()
			for i := range b.N {
				b.StopTimer()
				req, tgt := f.pair(b, alice, bob, fmt.Sprint("bench", i))
				b.StartTimer()
				done := make(chan int64)
				go func() {
					n, _ := io.Copy(io.Discard, tgt)
					done <- n
				}()
				for sent := 0; sent < size; sent += len(chunk) {
					if _, err := req.Write(chunk); err != nil {
						b.Fatal(err)
					}
				}
				req.(interface{ CloseWrite() error }).CloseWrite()
				if n := <-done; n != size {
					b.Fatalf("received %d bytes, want %d", n, size)
				}
				b.StopTimer()
				req.Close()
				tgt.Close()
				b.StartTimer()
			}
		})
	}
}
