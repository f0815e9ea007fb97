package upload

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"
)

// benchServer is the module's HTTPS listener on loopback with a fresh
// self-signed certificate, and a client trusting it.
func benchServer(b *testing.B) (*Module, *http.Client, string, func()) {
	b.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	cert, _ := x509.ParseCertificate(der)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	m := New()
	m.Cfg.Listen, m.Cfg.MaxFileSize = addr, 1<<30
	m.log = slog.New(slog.DiscardHandler)
	m.m = newMetrics(nil)
	m.expire, m.slotTTL, m.idle = time.Hour, time.Hour, 30*time.Second
	st, err := openStore(b.TempDir(), time.Now)
	if err != nil {
		b.Fatal(err)
	}
	m.st = st
	stop, err := m.Listen(&tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}}})
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: "localhost"}}}
	return m, hc, "https://" + addr, stop
}

// zeros is an endless reader of zeros: the body of a large PUT without
// holding it in memory on the client side either.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// BenchmarkUploadPut: one PUT of size bytes over TLS on loopback, streamed
// to disk (fsync included). MB/s is the upload throughput; heap-MB the
// server's heap growth while a 50 MB body streams through.
func BenchmarkUploadPut(b *testing.B) {
	for _, size := range []int64{1 << 20, 50 << 20} {
		b.Run(byteSize(size), func(b *testing.B) {
			m, hc, base, stop := benchServer(b)
			defer stop()
			b.SetBytes(size)
			var before, peak runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			done := make(chan struct{})
			go func() { // the heap while uploads run
				for {
					var ms runtime.MemStats
					runtime.ReadMemStats(&ms)
					if ms.HeapInuse > peak.HeapInuse {
						peak = ms
					}
					select {
					case <-done:
						return
					case <-time.After(20 * time.Millisecond):
					}
				}
			}()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				f, token, err := m.st.reserve("alice@example.org", "scan.pdf", "application/pdf", size, 0, time.Hour, false)
				if err != nil {
					b.Fatal(err)
				}
				req, _ := http.NewRequest("PUT", base+"/upload/"+f.ID+"/scan.pdf", io.LimitReader(zeros{}, size))
				req.ContentLength = size
				req.Header.Set("Authorization", "Bearer "+token)
				req.Header.Set("Content-Type", "application/pdf")
				resp, err := hc.Do(req)
				if err != nil || resp.StatusCode != 201 {
					b.Fatalf("PUT: %v %v", err, resp)
				}
				resp.Body.Close()
				m.st.drop(f)
			}
			b.StopTimer()
			close(done)
			b.ReportMetric(float64(peak.HeapInuse-min(peak.HeapInuse, before.HeapInuse))/(1<<20), "heap-MB")
		})
	}
}

func byteSize(n int64) string {
	if n >= 1<<20 {
		return itoa(n>>20) + "MiB"
	}
	return itoa(n>>10) + "KiB"
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
