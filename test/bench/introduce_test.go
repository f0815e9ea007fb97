package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/introduce"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/transport/s2s"
)

type noUsers struct{ storage.Users }

func (noUsers) GetUser(context.Context, string, string) (storage.User, error) {
	return storage.User{}, storage.ErrNotFound
}

type noDNS struct{}

func (noDNS) LookupSRV(context.Context, string, string, string) (string, []*net.SRV, error) {
	return "", nil, &net.DNSError{Err: "no such host", IsNotFound: true}
}

// node is a router and its s2s service on a loopback port.
func node(b *testing.B, domain string, cert *tls.Certificate, roots *x509.CertPool) (*router.Router, *s2s.Service, string) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	return nodeWith(b, router.New(log, []string{domain}, noUsers{}), cert, roots)
}

// nodeWith starts r's s2s service on a loopback port.
func nodeWith(b *testing.B, r *router.Router, cert *tls.Certificate, roots *x509.CertPool) (*router.Router, *s2s.Service, string) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := s2s.New(ctx, s2s.Config{
		ServerTLS: &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert},
			ClientAuth: tls.RequestClientCert, NextProtos: []string{"xmpp-server"}},
		Certificate: func(string) (*tls.Certificate, bool) { return cert, true },
		Roots:       roots, Secret: []byte("0123456789abcdef0123456789abcdef"),
		Routes: map[string]string{}, Resolver: noDNS{}, ConnectTimeout: 5 * time.Second,
	}, r, log)
	r.SetRemote(s)
	remotes.Store(r, s)
	go func() { _ = s.Serve(l, false) }()
	b.Cleanup(func() {
		sctx, c := context.WithTimeout(context.Background(), 5*time.Second)
		defer c()
		s.Shutdown(sctx)
		cancel()
	})
	return r, s, l.Addr().String()
}

// BenchmarkIntroduceS2S: peer introductions per second over one s2s
// stream (TLS 1.3, SASL EXTERNAL): a.test's asker asks b.test about a new
// address each time (no cache hit), 256 questions in flight; b.test's
// module answers from its directory with its domain's certificate and
// intermediate (an unknown address gets the domain's), a.test parses the
// answer. Both servers and the askers share this process.
func BenchmarkIntroduceS2S(b *testing.B) {
	asker := introducePair(b)
	var seq atomic.Int64
	var failed atomic.Int64
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan struct{}, b.N)
	for range b.N {
		work <- struct{}{}
	}
	close(work)
	for range 256 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range work {
				addr := fmt.Sprintf("u%d@b.test", seq.Add(1))
				if c, err := asker.Introduce(context.Background(), "a.test", addr); err != nil || len(c) != 1 {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "introductions/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d introductions failed", n, b.N)
	}
}

// BenchmarkIntroduceLatency: one introduction at a time over the
// established stream, cold (a new address: a round trip to b.test) and
// warm (the asker's cache). Validation is not included (see
// BenchmarkDiscover's warm figures for its cost).
func BenchmarkIntroduceLatency(b *testing.B) {
	asker := introducePair(b)
	for _, warm := range []bool{false, true} {
		name := "cold"
		if warm {
			name = "warm"
		}
		b.Run(name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				i++
				addr := fmt.Sprintf("%s%d@b.test", name, i)
				if warm {
					addr = "warm@b.test"
				}
				if c, err := asker.Introduce(context.Background(), "a.test", addr); err != nil || len(c) != 1 {
					b.Fatalf("%v, %d certificates", err, len(c))
				}
			}
		})
	}
}

// introducePair starts a.test and b.test linked by s2s, b.test answering
// introductions, and returns a.test's asker once the stream is up.
func introducePair(b *testing.B) *introduce.Asker {
	root := trusttest.NewRoot(b, "Root", trusttest.Opts{})
	inter := root.Intermediate(b, "Issuing", trusttest.Opts{})
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	tlsCert := func(domain string) *tls.Certificate {
		l := inter.Leaf(b, domain, trusttest.Opts{DNSNames: []string{domain}})
		return &tls.Certificate{Certificate: [][]byte{l.Cert.Raw, inter.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
	}
	ra, sa, addrA := node(b, "a.test", tlsCert("a.test"), pool)
	rb, sb, addrB := node(b, "b.test", tlsCert("b.test"), pool)
	sa.SetRoute("b.test", addrB)
	sb.SetRoute("a.test", addrA)

	smime := inter.Leaf(b, "b.test", trusttest.Opts{DNSNames: []string{"b.test"}, EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	dir := introduce.NewDirectory()
	dir.AddDomain("b.test", []*x509.Certificate{smime.Cert, inter.Cert})
	m := introduce.New()
	m.Direct = func(d string) bool { return d == "b.test" }
	m.Directory = func() *introduce.Directory { return dir }
	m.Config().(*introduce.Config).RatePerPeer = 0
	h := module.NewHost(rb, nil, slog.New(slog.NewTextHandler(io.Discard, nil)), nil, time.Now)
	if err := h.Load([]module.Module{m}, nil); err != nil {
		b.Fatal(err)
	}
	asker := &introduce.Asker{Router: ra, Timeout: 30 * time.Second}
	if c, err := asker.Introduce(context.Background(), "a.test", "warmup@b.test"); err != nil || len(c) != 1 {
		b.Fatalf("first introduction: %v, %d certificates", err, len(c))
	}
	return asker
}

var remotes sync.Map // *router.Router -> *s2s.Service

// remoteOf is the s2s service nodeWith started for r.
func remoteOf(r *router.Router) *s2s.Service {
	s, _ := remotes.Load(r)
	return s.(*s2s.Service)
}

func writePEM(b *testing.B, path string, pem []byte) {
	if err := os.WriteFile(path, pem, 0o600); err != nil {
		b.Fatal(err)
	}
}
