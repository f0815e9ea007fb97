package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
)

// anyUser: every account exists.
type anyUser struct{ storage.Users }

func (anyUser) GetUser(_ context.Context, domain, name string) (storage.User, error) {
	return storage.User{Domain: domain, Username: name}, nil
}

// keys is one address's signing certificate and key, its only recipient certificate too.
type keys struct{ leaf *trusttest.Leaf }

func (k keys) Signer(context.Context, string) (smime.Signer, error) {
	return smime.Signer{Cert: k.leaf.Cert, Key: k.leaf.Key}, nil
}

func (k keys) Recipients(context.Context, string) ([]smime.Recipient, error) {
	return []smime.Recipient{{Cert: k.leaf.Cert, Key: k.leaf.Key}}, nil
}

// pairs is how many sender/recipient pairs BenchmarkDirectMessages uses.
const pairs = 16

// BenchmarkDirectMessages: Direct messages end to end between two servers
// in this process over one s2s stream (TLS 1.3): 16 doctors at a.test send
// 16 nurses at b.test a 10 KB C-CDA each (domain-bound certificates); a.test seals it (sign, encrypt), tracks it
// (SQLite) and audits it; b.test opens it (decrypt, verify the signature,
// validate the signer's chain and CRL status against its circle), keeps it
// in the inbox, audits it and answers with a signed, encrypted processed
// MDN, which a.test opens, audits and completes. A document counts when
// its MDN is back. 64 in flight. Discovery is a fixed, already validated
// answer (its cost is BenchmarkDiscover's).
func BenchmarkDirectMessages(b *testing.B) {
	root := trusttest.NewRoot(b, "Root", trusttest.Opts{})
	pool := x509.NewCertPool()
	pool.AddCert(root.Cert)
	rev := &trusttest.Revocations{}
	tlsCert := func(domain string) *tls.Certificate {
		l := root.Leaf(b, domain, trusttest.Opts{DNSNames: []string{domain}})
		return &tls.Certificate{Certificate: [][]byte{l.Cert.Raw}, PrivateKey: l.Key, Leaf: l.Cert}
	}
	// Domain-bound S/MIME certificates: one per domain signs and decrypts for all its addresses.
	email := func(domain string) *trusttest.Leaf {
		return root.Leaf(b, domain, trusttest.Opts{RSA: true, DNSNames: []string{domain},
			EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	}
	drjones, nurse := email("a.test"), email("b.test")
	anchor := filepath.Join(b.TempDir(), "root.pem")
	writePEM(b, anchor, trusttest.PEM(root.Cert))
	var done, refused atomic.Int64
	start := func(domain string, me *trusttest.Leaf, peer *trusttest.Leaf, peerDomain string) (*router.Router, *messages.Module, string) {
		var w io.Writer = io.Discard
		if os.Getenv("TERN_BENCH_LOG") != "" {
			w = os.Stderr
		}
		log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})).With("node", domain)
		r := router.New(log, []string{domain}, anyUser{})
		_, s, addr := nodeWith(b, r, tlsCert(domain), pool)
		_ = s
		st, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), domain+".db"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { st.Close() })
		reg, err := trust.NewRegistry(trust.Config{Circles: []trust.Circle{{Name: "c", Anchors: []string{anchor}}},
			Domains: []trust.Domain{{Name: domain, Circles: []string{"c"}}}}, trust.Options{})
		if err != nil {
			b.Fatal(err)
		}
		v, err := trust.NewValidator(reg, trust.ValidatorOptions{Revocation: trust.RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (trust.RevocationStatus, error) {
			s, err := rev.Check(ctx, c, i)
			return trust.RevocationStatus(s), err
		})})
		if err != nil {
			b.Fatal(err)
		}
		m := messages.New()
		m.Direct = func(d string) bool { return d == domain }
		m.Keys = keys{me}
		m.Discover = func(context.Context, string, string, trust.Purpose) (*discovery.Report, error) {
			return &discovery.Report{Usable: []discovery.Candidate{{Source: "peer", Where: peerDomain, Cert: peer.Cert}}}, nil
		}
		m.Verify = func(ctx context.Context, local, sender string, chain []*x509.Certificate) (*trust.Result, error) {
			return v.ValidateFor(ctx, local, sender, trust.PurposeVerify, chain, time.Now())
		}
		m.Audit, m.Pending = &audit.Log{Store: st.Archive()}, st.Archive()
		h := module.NewHost(r, st, log, nil, time.Now)
		if err := h.Load([]module.Module{m}, nil); err != nil {
			b.Fatal(err)
		}
		// The processed notice for the sender's clients: the end of a document's trip.
		r.Hook(router.EvStanzaIn, 100, func(ev *router.Event) bool {
			if n := ev.Stanza.El.Child(messages.NS, "notification"); n != nil && n.Attr("disposition") == "processed" {
				done.Add(1)
			}
			if ev.Stanza.El.Child(messages.NS, "refused") != nil || ev.Stanza.Type == "error" {
				refused.Add(1)
			}
			return false
		})
		return r, m, addr
	}
	ra, ma, addrA := start("a.test", drjones, nurse, "b.test")
	rb, _, addrB := start("b.test", nurse, drjones, "a.test")
	remoteOf(ra).SetRoute("b.test", addrB)
	remoteOf(rb).SetRoute("a.test", addrA)
	doc := []byte("<ClinicalDocument xmlns='urn:hl7-org:v3'>" + strings.Repeat("<entry>Observation 42 mg/dL</entry>", 290) + "</ClinicalDocument>\n")
	send := func(i int) bool {
		// pairs sender/recipient pairs: each pair's messages are handled in
		// order (RFC 6120 §10.1, one hold lane), the pairs side by side.
		out := ma.Send(context.Background(), smime.Message{From: fmt.Sprintf("doctor%d@a.test", i%pairs), To: []string{fmt.Sprintf("nurse%d@b.test", i%pairs)}, Subject: "Discharge summary",
			Parts: []smime.Part{{Filename: "summary.xml", ContentType: "application/xml", Data: doc}}})
		return len(out) == 1 && out[0].Sent
	}
	if !send(0) { // the s2s stream comes up
		b.Fatal("first send failed")
	}
	for deadline := time.Now().Add(30 * time.Second); done.Load() < 1; {
		if time.Now().After(deadline) {
			b.Fatal("no processed notification for the first message")
		}
		time.Sleep(10 * time.Millisecond)
	}
	base := done.Load()
	b.ResetTimer()
	t0 := time.Now()
	work := make(chan int, b.N)
	for i := range b.N {
		work <- i
	}
	close(work)
	var wg sync.WaitGroup
	var failed atomic.Int64
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				if !send(i) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	for deadline := time.Now().Add(5 * time.Minute); done.Load()-base < int64(b.N)-failed.Load(); {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d processed notifications back, %d refusals or errors (TERN_BENCH_LOG=1 shows why)", done.Load()-base, b.N, refused.Load())
		}
		time.Sleep(time.Millisecond)
	}
	b.ReportMetric(float64(b.N)/time.Since(t0).Seconds(), "docs/s")
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d not sent", n, b.N)
	}
}
