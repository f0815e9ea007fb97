package trust

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// benchPKI is an RSA-2048 lab PKI like a DirectTrust chain: root (anchor of
// circle "a" for d1.test), intermediate, leaves.
type benchPKI struct {
	w      *world
	leaf   *trusttest.Leaf
	leaves []*trusttest.Leaf // 10k, sharing one key
}

var (
	benchOnce sync.Once
	bench     *benchPKI
)

const revalidateSessions = 10000

func getBench(b *testing.B) *benchPKI {
	benchOnce.Do(func() {
		t := &testing.T{}
		w := &world{t: t, rev: &trusttest.Revocations{}}
		w.dir = b.TempDir()
		rsa := trusttest.Opts{RSA: true}
		w.rootA = trusttest.NewRoot(b, "Bench Root", rsa)
		w.ia = w.rootA.Intermediate(b, "Bench Intermediate", trusttest.Opts{RSA: true, CRLDP: []string{"http://crl.invalid/root.crl"}})
		w.cfg = Config{
			Circles: []Circle{{Name: "a", Anchors: []string{writeFile(b, w.dir, "root.pem", trusttest.PEM(w.rootA.Cert))}}},
			Domains: []Domain{{Name: "d1.test", Circles: []string{"a"}}},
		}
		reg, err := NewRegistry(w.cfg, Options{})
		if err != nil {
			b.Fatal(err)
		}
		w.reg = reg
		v, err := NewValidator(reg, ValidatorOptions{Revocation: adapt(w.rev)})
		if err != nil {
			b.Fatal(err)
		}
		w.v = v
		bp := &benchPKI{w: w, leaf: w.ia.Leaf(b, "peer.test", rsa)}
		shared := trusttest.Opts{Key: bp.leaf.Key}
		for range revalidateSessions {
			bp.leaves = append(bp.leaves, w.ia.Leaf(b, "peer.test", shared))
		}
		bench = bp
	})
	if bench == nil {
		b.Fatal("bench setup failed")
	}
	return bench
}

// BenchmarkValidate: one handshake's validation with a warm CRL cache and
// the path already built once for this generation (a repeated peer).
func BenchmarkValidate(b *testing.B) {
	bp := getBench(b)
	chain := chainOf(bp.leaf, bp.w.ia)
	ctx, now := context.Background(), time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := bp.w.v.Validate(ctx, "d1.test", "peer.test", chain, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkValidateColdPath: as above, but the chain is verified from
// scratch every time (a new peer, or the first handshake after a change).
func BenchmarkValidateColdPath(b *testing.B) {
	bp := getBench(b)
	chain := chainOf(bp.leaf, bp.w.ia)
	ctx, now := context.Background(), time.Now()
	dt, _ := bp.w.reg.state.Load().lookup("d1.test")
	b.ReportAllocs()
	for b.Loop() {
		dt.paths.mu.Lock()
		clear(dt.paths.m)
		dt.paths.mu.Unlock()
		if _, err := bp.w.v.Validate(ctx, "d1.test", "peer.test", chain, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRevalidate10k: one re-validation round over 10k live sessions,
// each with its own leaf and the intermediate (warm: the paths were built
// at the handshakes, same generation).
func BenchmarkRevalidate10k(b *testing.B) {
	benchRevalidate(b, false)
}

// BenchmarkRevalidate10kAfterChange: the same round right after the
// domain's anchor set changed (every path verified again).
func BenchmarkRevalidate10kAfterChange(b *testing.B) {
	benchRevalidate(b, true)
}

func benchRevalidate(b *testing.B, change bool) {
	bp := getBench(b)
	var ss Sessions
	for _, l := range bp.leaves {
		ss.Track(Session{Local: "d1.test", Peer: "peer.test", Chain: chainOf(l, bp.w.ia), Close: func(r *Result) { b.Errorf("closed: %s", Explain(r)) }})
	}
	rv := &Revalidator{Validator: bp.w.v, List: ss.List, Workers: 2}
	rv.RunOnce(context.Background()) // the handshakes
	b.ReportAllocs()
	var cpu time.Duration
	for b.Loop() {
		if change { // a new anchor set: every path is verified again
			bp.w.reg.mu.Lock()
			bp.w.reg.rebuildLocked()
			dt, _ := bp.w.reg.state.Load().lookup("d1.test")
			dt.paths = newPathCache()
			bp.w.reg.mu.Unlock()
		}
		before := cpuTime()
		if rep := rv.RunOnce(context.Background()); rep.Closed != 0 || rep.Checked != revalidateSessions {
			b.Fatalf("%+v", rep)
		}
		cpu += cpuTime() - before
	}
	b.ReportMetric(float64(cpu.Milliseconds())/float64(b.N), "cpu-ms/round")
}

// cpuTime is the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkHandshakePlainTLS and BenchmarkHandshakeDirect: a full mutual
// TLS handshake (no resumption) over net.Pipe, RSA-2048; plain = Go's own
// client-certificate verification against the same root, Direct = any
// client certificate plus Validate in VerifyConnection (warm CRL cache).
func BenchmarkHandshakePlainTLS(b *testing.B) { benchHandshake(b, false) }
func BenchmarkHandshakeDirect(b *testing.B)   { benchHandshake(b, true) }

func benchHandshake(b *testing.B, direct bool) {
	bp := getBench(b)
	w := bp.w
	serverLeaf := w.ia.Leaf(b, "d1.test", trusttest.Opts{Key: bp.leaf.Key})
	roots := x509.NewCertPool()
	roots.AddCert(w.rootA.Cert)
	srvCfg := &tls.Config{
		Certificates:           []tls.Certificate{{Certificate: [][]byte{serverLeaf.Cert.Raw, w.ia.Cert.Raw}, PrivateKey: serverLeaf.Key, Leaf: serverLeaf.Cert}},
		ClientAuth:             tls.RequireAndVerifyClientCert,
		ClientCAs:              roots,
		SessionTicketsDisabled: true,
		MinVersion:             tls.VersionTLS12,
	}
	if direct {
		srvCfg.ClientAuth = tls.RequireAnyClientCert
		srvCfg.ClientCAs = nil
		srvCfg.VerifyConnection = func(cs tls.ConnectionState) error {
			_, err := w.v.Validate(context.Background(), "d1.test", "peer.test", cs.PeerCertificates, time.Now())
			return err
		}
	}
	cliCfg := &tls.Config{
		Certificates:           []tls.Certificate{{Certificate: [][]byte{bp.leaf.Cert.Raw, w.ia.Cert.Raw}, PrivateKey: bp.leaf.Key, Leaf: bp.leaf.Cert}},
		RootCAs:                roots,
		ServerName:             "d1.test",
		SessionTicketsDisabled: true,
		MinVersion:             tls.VersionTLS12,
	}
	b.ReportAllocs()
	for b.Loop() {
		c1, c2 := net.Pipe()
		srv, cli := tls.Server(c1, srvCfg), tls.Client(c2, cliCfg)
		errc := make(chan error, 1)
		go func() { errc <- srv.Handshake() }()
		if err := cli.Handshake(); err != nil {
			b.Fatal(err)
		}
		if err := <-errc; err != nil {
			b.Fatal(err)
		}
		c1.Close()
		c2.Close()
	}
}
