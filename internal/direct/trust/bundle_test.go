package trust

import (
	"bytes"
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// bundleWorld: domain d1.test uses circle "dt" made of one bundle; peers
// chain to root R through intermediate I.
type bundleWorld struct {
	*world
	root, signer *trusttest.CA
	inter        *trusttest.CA
	peer         *trusttest.Leaf
	other        *trusttest.CA // a second root, for content changes
	otherPeer    *trusttest.Leaf
}

func newBundleWorld(t *testing.T) *bundleWorld {
	w := newWorld(t)
	b := &bundleWorld{world: w}
	b.root = trusttest.NewRoot(t, "Bundle Root", trusttest.Opts{})
	b.inter = b.root.Intermediate(t, "Bundle Intermediate", trusttest.Opts{CRLDP: []string{"http://crl.invalid/br.crl"}})
	b.peer = b.inter.Leaf(t, "peer.test", trusttest.Opts{})
	b.other = trusttest.NewRoot(t, "Other Root", trusttest.Opts{})
	b.otherPeer = b.other.Leaf(t, "peer2.test", trusttest.Opts{})
	b.signer = trusttest.NewRoot(t, "Bundle Signer", trusttest.Opts{})
	return b
}

// apply configures d1.test with circle dt = the given bundle.
func (b *bundleWorld) apply(bu Bundle, mod ...func(*Config)) {
	b.t.Helper()
	cfg := Config{
		Circles: []Circle{{Name: "dt", Bundles: []Bundle{bu}}},
		Domains: []Domain{{Name: "d1.test", Circles: []string{"dt"}}},
	}
	for _, m := range mod {
		m(&cfg)
	}
	if err := b.reg.Apply(cfg); err != nil {
		b.t.Fatal(err)
	}
}

func (b *bundleWorld) trusts(leaf *trusttest.Leaf, peer string, cas ...*trusttest.CA) bool {
	b.t.Helper()
	r, err := b.v.Validate(context.Background(), "d1.test", peer, chainOf(leaf, cas...), time.Now())
	if (err == nil) != r.Trusted {
		b.t.Fatalf("err %v but trusted %v", err, r.Trusted)
	}
	return r.Trusted
}

func (b *bundleWorld) status(name string) BundleStatus {
	b.t.Helper()
	for _, s := range b.reg.Status().Bundles {
		if s.Name == name {
			return s
		}
	}
	b.t.Fatalf("no status for bundle %q", name)
	return BundleStatus{}
}

// TestBundleFormats: checklist item 7, .p7b and CMS-signed bundles load;
// PEM too (and a PEM-armoured PKCS7).
func TestBundleFormats(t *testing.T) {
	b := newBundleWorld(t)
	signerPath := writeFile(t, b.dir, "signer.pem", trusttest.PEM(b.signer.Cert))
	p7b := trusttest.P7B(t, b.root.Cert)
	for _, tc := range []struct {
		name   string
		data   []byte
		signed bool
	}{
		{"p7b", p7b, false},
		{"pem", trusttest.PEM(b.root.Cert), false},
		{"pem pkcs7", pemBlock("PKCS7", p7b), false},
		{"cms signed", trusttest.SignedBundle(t, p7b, b.signer.Cert, b.signer.Key), true},
		{"cms signed pem content", trusttest.SignedBundle(t, trusttest.PEM(b.root.Cert), b.signer.Cert, b.signer.Key), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bu := Bundle{Name: "dt-" + strings.ReplaceAll(tc.name, " ", "-"), Path: writeFile(t, b.dir, "b.p7b", tc.data)}
			if tc.signed {
				bu.SigningCert = signerPath
			}
			b.apply(bu)
			if b.trusts(b.peer, "peer.test", b.inter) {
				t.Fatal("trusted before the bundle was loaded")
			}
			if err := b.reg.RefreshNow(context.Background(), bu.Name); err != nil {
				t.Fatal(err)
			}
			if !b.trusts(b.peer, "peer.test", b.inter) {
				t.Fatal("not trusted after loading the bundle")
			}
			if s := b.status(bu.Name); !s.Loaded || s.Anchors != 1 || s.LastError != nil || s.Signed != tc.signed {
				t.Fatalf("status %+v", s)
			}
		})
	}
}

func pemBlock(typ string, der []byte) []byte {
	var buf bytes.Buffer
	buf.WriteString("-----BEGIN " + typ + "-----\n")
	enc := []byte(strings.TrimSpace(string(trusttest.PEM(&x509.Certificate{Raw: der}))))
	// reuse the base64 body of a CERTIFICATE block
	lines := strings.Split(string(enc), "\n")
	buf.WriteString(strings.Join(lines[1:len(lines)-1], "\n"))
	buf.WriteString("\n-----END " + typ + "-----\n")
	return buf.Bytes()
}

// TestBundleFailuresKeepAnchors: checklist item 7, a bad signature is
// UNMATCHED_SIGNATURE and the old anchors stay; every failure kind is
// recorded with its time and counted.
func TestBundleFailuresKeepAnchors(t *testing.T) {
	b := newBundleWorld(t)
	signerPath := writeFile(t, b.dir, "signer.pem", trusttest.PEM(b.signer.Cert))
	p7b := trusttest.P7B(t, b.root.Cert)
	good := trusttest.SignedBundle(t, p7b, b.signer.Cert, b.signer.Key)
	path := writeFile(t, b.dir, "dt.p7b", good)
	b.apply(Bundle{Name: "dt", Path: path, SigningCert: signerPath})
	if err := b.reg.RefreshNow(context.Background(), "dt"); err != nil {
		t.Fatal(err)
	}
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("not trusted after the good bundle")
	}

	impostor := trusttest.NewRoot(t, "Bundle Signer", trusttest.Opts{}) // same name, other key
	// Flip one byte of the anchor's signature inside the signed content:
	// the content still parses, the message digest no longer matches.
	tampered := append([]byte(nil), good...)
	i := bytes.Index(tampered, b.root.Cert.Signature)
	if i < 0 {
		t.Fatal("anchor signature not found in the signed bundle")
	}
	tampered[i+5] ^= 0xff
	for _, tc := range []struct {
		name   string
		data   []byte
		remove bool // remove the file
		want   error
	}{
		{"signed by another key", trusttest.SignedBundle(t, trusttest.P7B(t, b.other.Cert), impostor.Cert, impostor.Key), false, ErrUnmatchedSignature},
		{"content changed after signing", tampered, false, ErrUnmatchedSignature},
		{"not signed", trusttest.P7B(t, b.other.Cert), false, ErrUnmatchedSignature},
		{"plain PEM", trusttest.PEM(b.other.Cert), false, ErrUnmatchedSignature},
		{"garbage", []byte("<html>not a bundle</html>"), false, ErrInvalidBundleFormat},
		{"empty", nil, false, ErrInvalidBundleFormat},
		{"missing file", nil, true, ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.remove {
				os.Remove(path)
			} else {
				writeFile(t, b.dir, "dt.p7b", tc.data)
			}
			defer writeFile(t, b.dir, "dt.p7b", good) // back to the good bundle
			before := b.status("dt")
			err := b.reg.RefreshNow(context.Background(), "dt")
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			var be *BundleError
			if !errors.As(err, &be) || be.Bundle != "dt" || !strings.Contains(err.Error(), `"dt"`) || !strings.Contains(err.Error(), "(") {
				t.Fatalf("error does not name the bundle and the remedy: %v", err)
			}
			s := b.status("dt")
			if s.LastError == nil || s.ErrorKind == KindNone || s.LastAttempt.IsZero() || s.Failures != before.Failures+1 {
				t.Fatalf("failure not recorded: %+v", s)
			}
			if len(b.reg.Status().Problems()) == 0 {
				t.Fatal("Problems() is empty after a failure")
			}
			if !b.trusts(b.peer, "peer.test", b.inter) {
				t.Fatal("the last good anchors were dropped")
			}
			if b.trusts(b.otherPeer, "peer2.test") {
				t.Fatal("an anchor of the refused bundle is trusted")
			}
		})
	}
	if err := b.reg.RefreshNow(context.Background(), "dt"); err != nil {
		t.Fatal(err)
	}
	if s := b.status("dt"); s.LastError != nil || len(b.reg.Status().Problems()) != 0 {
		t.Fatalf("error not cleared by a good refresh: %+v %q", s, b.reg.Status().Problems())
	}
}

// TestSignedBundleWithoutSigningCert: a signed bundle is refused when no
// signing certificate is configured (its signer must not become an anchor).
func TestSignedBundleWithoutSigningCert(t *testing.T) {
	b := newBundleWorld(t)
	data := trusttest.SignedBundle(t, trusttest.P7B(t, b.root.Cert), b.signer.Cert, b.signer.Key)
	b.apply(Bundle{Name: "dt", Path: writeFile(t, b.dir, "s.p7b", data)})
	if err := b.reg.RefreshNow(context.Background(), "dt"); !errors.Is(err, ErrInvalidBundleFormat) {
		t.Fatalf("got %v, want invalid bundle format", err)
	}
}

// TestBundleUnchangedAndInterval: checklist item 7, an unchanged checksum
// does not reload; the refresh interval is honoured and a failure retries
// sooner.
func TestBundleUnchangedAndInterval(t *testing.T) {
	b := newBundleWorld(t)
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	advance := func(d time.Duration) time.Time { mu.Lock(); defer mu.Unlock(); clock = clock.Add(d); return clock }
	reg, err := NewRegistry(Config{}, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	b.reg = reg
	b.v = b.validator(ValidatorOptions{Revocation: adapt(b.rev)})
	path := writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.root.Cert))
	b.apply(Bundle{Name: "dt", Path: path, Refresh: 2 * time.Hour})

	ctx := context.Background()
	next := reg.runDue(ctx, now())
	s := b.status("dt")
	if s.Fetches != 1 || !s.Loaded || !next.Equal(now().Add(2*time.Hour)) {
		t.Fatalf("first round: %+v, next %v", s, next)
	}
	gen := reg.Generation()
	reg.runDue(ctx, advance(time.Hour))
	if s := b.status("dt"); s.Fetches != 1 {
		t.Fatalf("fetched before the interval: %+v", s)
	}
	reg.runDue(ctx, advance(time.Hour))
	s = b.status("dt")
	if s.Fetches != 2 || s.Unchanged != 1 || reg.Generation() != gen {
		t.Fatalf("unchanged content reloaded: %+v gen %d->%d", s, gen, reg.Generation())
	}
	// A new content is loaded and swapped.
	writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.root.Cert, b.other.Cert))
	if err := reg.RefreshNow(ctx, "dt"); err != nil {
		t.Fatal(err)
	}
	if reg.Generation() == gen || b.status("dt").Anchors != 2 || !b.trusts(b.otherPeer, "peer2.test") {
		t.Fatalf("changed content not applied: %+v", b.status("dt"))
	}
	// A failure is retried after at most 15 minutes, not the full interval.
	os.Remove(path)
	next = reg.runDue(ctx, advance(2*time.Hour))
	if s := b.status("dt"); s.LastError == nil || next.Sub(now()) != DefaultRetryAfterFail {
		t.Fatalf("failure: %+v, next in %v", s, next.Sub(now()))
	}
}

// TestBundleHTTPS: a bundle served over TLS (httptest), with the fetch
// errors mapped to the RI's kinds, a size limit and a time-out.
func TestBundleHTTPS(t *testing.T) {
	b := newBundleWorld(t)
	p7b := trusttest.P7B(t, b.root.Cert)
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/dt.p7b":
			w.Header().Set("Content-Type", "application/pkcs7-mime")
			w.Write(p7b)
		case "/big.p7b":
			w.Write(make([]byte, 4096))
		case "/hang.p7b":
			// Until the test ends, whatever the client does: returning when
			// its request is cancelled would send an empty 200 that a client
			// on a loaded box could still read before its own deadline.
			<-release
		case "/redirect":
			http.Redirect(w, r, "http://127.0.0.1:1/dt.p7b", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release)
	reg, err := NewRegistry(Config{}, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	b.reg = reg
	b.v = b.validator(ValidatorOptions{Revocation: adapt(b.rev)})
	limits := func(c *Config) { c.MaxBundleSize = 2048; c.FetchTimeout = 300 * time.Millisecond }

	b.apply(Bundle{Name: "dt", URL: srv.URL + "/dt.p7b"}, limits)
	if err := reg.RefreshNow(context.Background(), "dt"); err != nil {
		t.Fatal(err)
	}
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("not trusted after the https bundle")
	}
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/missing.p7b", ErrNotFound},
		{"/big.p7b", ErrInvalidBundleFormat},
		{"/hang.p7b", ErrDownloadTimeout},
		{"/redirect", ErrNotFound},
	} {
		b.apply(Bundle{Name: "dt", URL: srv.URL + tc.path}, limits)
		start := time.Now()
		err := reg.RefreshNow(context.Background(), "dt")
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.path, err, tc.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %v", tc.path, d)
		}
	}
	// A plain http URL is a configuration error unless allowed.
	err = reg.Apply(Config{Circles: []Circle{{Name: "dt", Bundles: []Bundle{{Name: "x", URL: "http://bundles.test/x.p7b"}}}}})
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("plain http accepted: %v", err)
	}
	if err := reg.Apply(Config{AllowHTTP: true, Circles: []Circle{{Name: "dt", Bundles: []Bundle{{Name: "x", URL: "http://bundles.test/x.p7b"}}}}}); err != nil {
		t.Fatalf("AllowHTTP: %v", err)
	}
}

// TestHostileBundleServer: a bundle server that never answers stalls
// neither validations nor the other bundles' refresh.
func TestHostileBundleServer(t *testing.T) {
	b := newBundleWorld(t)
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Hang until the test ends, even after the client gave up: had the
		// handler returned on the client's cancellation, a client could read
		// its empty 200 before its own deadline fired (seen under -race).
		<-release
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for handlers
	reg, err := NewRegistry(Config{}, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	b.reg = reg
	b.v = b.validator(ValidatorOptions{Revocation: adapt(b.rev)})
	good := Bundle{Name: "good", Path: writeFile(t, b.dir, "g.p7b", trusttest.P7B(t, b.root.Cert))}
	cfg := Config{FetchTimeout: time.Second,
		Circles: []Circle{{Name: "dt", Bundles: []Bundle{good, {Name: "hostile", URL: srv.URL + "/x.p7b"}}}},
		Domains: []Domain{{Name: "d1.test", Circles: []string{"dt"}}}}
	if err := reg.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if err := reg.RefreshNow(context.Background(), "good"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() { done <- reg.RefreshAll(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	for range 20 {
		if !b.trusts(b.peer, "peer.test", b.inter) {
			t.Fatal("not trusted while a bundle server hangs")
		}
	}
	if d := time.Since(start); d > 500*time.Millisecond {
		t.Fatalf("validations took %v while a bundle server hangs", d)
	}
	err = <-done
	if !errors.Is(err, ErrDownloadTimeout) {
		t.Fatalf("RefreshAll: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("refresh took %v, beyond its time-out", d)
	}
	if s := b.status("good"); s.LastError != nil || s.Fetches != 2 {
		t.Fatalf("the good bundle was not refreshed alongside: %+v", s)
	}
}

// TestAnchorRemoved: removing an anchor (config reload, or a bundle that no
// longer holds it) refuses the next validation at once.
func TestAnchorRemoved(t *testing.T) {
	b := newBundleWorld(t)
	anchor := writeFile(t, b.dir, "r.pem", trusttest.PEM(b.root.Cert))
	cfg := Config{Circles: []Circle{{Name: "dt", Anchors: []string{anchor}}}, Domains: []Domain{{Name: "d1.test", Circles: []string{"dt"}}}}
	if err := b.reg.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("not trusted with the anchor")
	}
	cfg.Circles[0].Anchors = []string{writeFile(t, b.dir, "o.pem", trusttest.PEM(b.other.Cert))}
	if err := b.reg.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("still trusted after the anchor was removed")
	}
	// Same through a bundle's new content.
	path := writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.root.Cert))
	b.apply(Bundle{Name: "dt", Path: path})
	b.reg.RefreshNow(context.Background(), "dt")
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("not trusted with the bundle")
	}
	writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.other.Cert))
	b.reg.RefreshNow(context.Background(), "dt")
	if b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("still trusted after the bundle dropped the anchor")
	}
}

// TestIntermediateInBundle: checklist item 9, a leaf-only peer whose
// issuing intermediate is in a bundle is accepted.
func TestIntermediateInBundle(t *testing.T) {
	b := newBundleWorld(t)
	b.apply(Bundle{Name: "dt", Path: writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.root.Cert, b.inter.Cert))})
	b.reg.RefreshNow(context.Background(), "dt")
	r, err := b.v.Validate(context.Background(), "d1.test", "peer.test", chainOf(b.peer), time.Now())
	if err != nil {
		t.Fatalf("%v\n%s", err, Explain(r))
	}
}

// TestConfigErrors: no configuration typo is silently ignored.
func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	root := trusttest.NewRoot(t, "R", trusttest.Opts{})
	anchor := writeFile(t, dir, "r.pem", trusttest.PEM(root.Cert))
	two := writeFile(t, dir, "two.pem", trusttest.PEM(root.Cert, root.Cert))
	ok := Circle{Name: "c", Anchors: []string{anchor}}
	for name, cfg := range map[string]Config{
		"unknown circle":        {Circles: []Circle{ok}, Domains: []Domain{{Name: "d", Circles: []string{"cc"}}}},
		"duplicate circle":      {Circles: []Circle{ok, ok}},
		"duplicate domain":      {Circles: []Circle{ok}, Domains: []Domain{{Name: "d", Circles: []string{"c"}}, {Name: "D.", Circles: []string{"c"}}}},
		"circle without name":   {Circles: []Circle{{Anchors: []string{anchor}}}},
		"domain without name":   {Domains: []Domain{{Circles: []string{"c"}}}},
		"missing anchor file":   {Circles: []Circle{{Name: "c", Anchors: []string{anchor + ".x"}}}},
		"not a certificate":     {Circles: []Circle{{Name: "c", Anchors: []string{writeFile(t, dir, "junk", []byte("junk"))}}}},
		"url and path":          {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", URL: "https://x.test/b", Path: "/b"}}}}},
		"neither url nor path":  {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b"}}}}},
		"bundle without name":   {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Path: "/b"}}}}},
		"ftp url":               {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", URL: "ftp://x.test/b"}}}}},
		"http url":              {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", URL: "http://x.test/b"}}}}},
		"refresh too short":     {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", Path: "/b", Refresh: time.Second}}}}},
		"missing signing cert":  {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", Path: "/b", SigningCert: anchor + ".x"}}}}},
		"two signing certs":     {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", Path: "/b", SigningCert: two}}}}},
		"bundle name reused":    {Circles: []Circle{{Name: "c", Bundles: []Bundle{{Name: "b", Path: "/b"}}}, {Name: "c2", Bundles: []Bundle{{Name: "b", Path: "/other"}}}}},
		"negative fetch limits": {FetchTimeout: -1},
	} {
		if _, err := NewRegistry(cfg, Options{}); err == nil {
			t.Errorf("%s: accepted", name)
		} else if ce := (*ConfigError)(nil); !errors.As(err, &ce) {
			t.Errorf("%s: %v is not a ConfigError", name, err)
		}
	}
	// A failed Apply keeps the configuration in force.
	reg, err := NewRegistry(Config{Circles: []Circle{ok}, Domains: []Domain{{Name: "d", Circles: []string{"c"}}}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	gen := reg.Generation()
	if err := reg.Apply(Config{Domains: []Domain{{Name: "d", Circles: []string{"typo"}}}}); err == nil {
		t.Fatal("typo accepted")
	}
	if reg.Generation() != gen {
		t.Fatal("a refused configuration changed the state")
	}
	if c, d, ok := reg.DomainCircles("ftproxystream.d"); !ok || d != "d" || len(c) != 1 {
		t.Fatalf("DomainCircles(ftproxystream.d) = %v %q %v", c, d, ok)
	}
	// The same bundle in two circles is shared.
	shared := Bundle{Name: "b", Path: "/b"}
	if _, err := NewRegistry(Config{Circles: []Circle{{Name: "c", Bundles: []Bundle{shared}}, {Name: "c2", Bundles: []Bundle{shared}}}}, Options{}); err != nil {
		t.Fatalf("shared bundle: %v", err)
	}
}

// TestRunStops: the refresher goroutine loads bundles and ends with ctx.
func TestRunStops(t *testing.T) {
	b := newBundleWorld(t)
	b.apply(Bundle{Name: "dt", Path: writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.root.Cert))})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { b.reg.Run(ctx); close(done) }()
	deadline := time.Now().Add(5 * time.Second)
	for !b.status("dt").Loaded {
		if time.Now().After(deadline) {
			t.Fatal("Run did not load the bundle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
}

// TestSigningCertExpires: a signing certificate that expires while the
// configuration stays is reported (INVALID_SIGNING_CERT), changed content
// is refused, and the anchors loaded while it was valid stay.
func TestSigningCertExpires(t *testing.T) {
	b := newBundleWorld(t)
	var mu sync.Mutex
	clock := time.Now()
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }
	reg, err := NewRegistry(Config{}, Options{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	b.reg = reg
	b.v = b.validator(ValidatorOptions{Revocation: adapt(b.rev)})
	signer := trusttest.NewRoot(t, "Short Signer", trusttest.Opts{NotAfter: time.Now().Add(time.Hour)})
	path := writeFile(t, b.dir, "dt.p7b", trusttest.SignedBundle(t, trusttest.P7B(t, b.root.Cert), signer.Cert, signer.Key))
	b.apply(Bundle{Name: "dt", Path: path, SigningCert: writeFile(t, b.dir, "s.pem", trusttest.PEM(signer.Cert))})
	if err := reg.RefreshNow(context.Background(), "dt"); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = clock.Add(2 * time.Hour)
	mu.Unlock()
	if err := reg.RefreshNow(context.Background(), "dt"); !errors.Is(err, ErrInvalidSigningCert) {
		t.Fatalf("unchanged content, expired signer: got %v", err)
	}
	writeFile(t, b.dir, "dt.p7b", trusttest.SignedBundle(t, trusttest.P7B(t, b.other.Cert), signer.Cert, signer.Key))
	if err := reg.RefreshNow(context.Background(), "dt"); !errors.Is(err, ErrInvalidSigningCert) {
		t.Fatalf("new content, expired signer: got %v", err)
	}
	if s := b.status("dt"); s.Anchors != 1 || s.ErrorKind != KindInvalidSigningCert {
		t.Fatalf("status %+v", s)
	}
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("the anchors loaded while the signer was valid were dropped")
	}
}

func TestStatusFormat(t *testing.T) {
	b := newBundleWorld(t)
	b.apply(Bundle{Name: "dt", Path: writeFile(t, b.dir, "dt.p7b", trusttest.P7B(t, b.root.Cert))}, func(c *Config) {
		c.Domains = append(c.Domains, Domain{Name: "lonely.test"})
	})
	b.reg.RefreshNow(context.Background(), "dt")
	os.Remove(b.dir + "/dt.p7b")
	b.reg.RefreshNow(context.Background(), "dt")
	out := b.reg.Status().Format()
	for _, want := range []string{"dt  ", "1 anchors", "LAST REFRESH FAILED", "not-found", "d1.test: circles dt", "lonely.test: circles none, 0 anchors  (trusts nobody)"} {
		if !strings.Contains(out, want) {
			t.Errorf("Format lacks %q:\n%s", want, out)
		}
	}
	anchors, ok := b.reg.CircleAnchors("dt")
	if out := FormatAnchors("dt", anchors); !ok || !strings.Contains(out, "Bundle Root") || !strings.Contains(out, `bundle "dt"`) {
		t.Errorf("FormatAnchors:\n%s", out)
	}
	if _, ok := b.reg.CircleAnchors("nope"); ok {
		t.Error("unknown circle found")
	}
}

// TestBundleCacheDir: the last good bundle survives a restart while its
// source is down; a cache file that no longer verifies is ignored.
func TestBundleCacheDir(t *testing.T) {
	b := newBundleWorld(t)
	cache := t.TempDir()
	signerPath := writeFile(t, b.dir, "signer.pem", trusttest.PEM(b.signer.Cert))
	path := writeFile(t, b.dir, "dt.p7b", trusttest.SignedBundle(t, trusttest.P7B(t, b.root.Cert), b.signer.Cert, b.signer.Key))
	cfg := Config{
		Circles: []Circle{{Name: "dt", Bundles: []Bundle{{Name: "dt", Path: path, SigningCert: signerPath}}}},
		Domains: []Domain{{Name: "d1.test", Circles: []string{"dt"}}},
	}
	start := func() {
		t.Helper()
		reg, err := NewRegistry(cfg, Options{CacheDir: cache})
		if err != nil {
			t.Fatal(err)
		}
		b.reg = reg
		b.v = b.validator(ValidatorOptions{Revocation: adapt(b.rev)})
	}
	start()
	if err := b.reg.RefreshNow(context.Background(), "dt"); err != nil {
		t.Fatal(err)
	}
	os.Remove(path)
	start() // restart with the source gone
	if s := b.status("dt"); !s.Loaded || !s.FromCache || s.Anchors != 1 {
		t.Fatalf("not seeded from the cache: %+v", s)
	}
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("not trusted from the cached bundle")
	}
	if err := b.reg.RefreshNow(context.Background(), "dt"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("refresh: %v", err)
	}
	if !b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatal("cached anchors dropped after a failed refresh")
	}
	// Corrupt the cache: the next start ignores it.
	files, _ := os.ReadDir(cache)
	if len(files) != 1 {
		t.Fatalf("cache holds %d files", len(files))
	}
	cf := cache + "/" + files[0].Name()
	data, _ := os.ReadFile(cf)
	data[len(data)-3] ^= 0xff
	os.WriteFile(cf, data, 0o600)
	start()
	if s := b.status("dt"); s.Loaded || b.trusts(b.peer, "peer.test", b.inter) {
		t.Fatalf("a corrupted cache was used: %+v", s)
	}
}
