package crl

import (
	"context"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/pki/ca"
)

// env is a lab CA whose files are served by an httptest server, with a
// counter of requests per path and switchable misbehaviour.
type env struct {
	t      *testing.T
	ca     *ca.CA
	srv    *httptest.Server
	hits   sync.Map // path -> *atomic.Int64
	mode   atomic.Value
	gate   chan struct{}
	closed chan struct{}
}

func newEnv(t *testing.T, intermediate bool) *env {
	e := &env{t: t, closed: make(chan struct{})}
	e.mode.Store("")
	var h http.Handler
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := e.hits.LoadOrStore(r.URL.Path, new(atomic.Int64))
		n.(*atomic.Int64).Add(1)
		switch {
		case strings.HasPrefix(r.URL.Path, "/hang"): // never answers
			select {
			case <-r.Context().Done():
			case <-e.closed:
			}
			return
		case r.URL.Path == "/big":
			w.Write(make([]byte, 4096))
			return
		case r.URL.Path == "/junk":
			w.Write([]byte("not a CRL"))
			return
		}
		switch e.mode.Load().(string) {
		case "down":
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case "gate":
			<-e.gate
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(func() { close(e.closed); e.srv.Close() })
	dir := t.TempDir()
	var err error
	e.ca, err = ca.Init(dir, ca.Options{Name: "lab", Key: ca.ECDSAP256, BaseURL: e.srv.URL, Intermediate: intermediate})
	if err != nil {
		t.Fatal(err)
	}
	if h, err = ca.Handler(dir); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) hitCount(path string) int64 {
	n, ok := e.hits.Load(path)
	if !ok {
		return 0
	}
	return n.(*atomic.Int64).Load()
}

func (e *env) issue(domain string) *x509.Certificate {
	e.t.Helper()
	is, err := e.ca.IssueDomain(domain, nil, ca.ECDSAP256, 0)
	if err != nil {
		e.t.Fatal(err)
	}
	return is.Cert
}

func TestCheckRevocation(t *testing.T) {
	e := newEnv(t, true)
	good, bad := e.issue("good.example"), e.issue("bad.example")
	c := &Checker{CacheDir: t.TempDir()}
	ctx := context.Background()
	for _, cert := range []*x509.Certificate{good, bad} {
		st, err := c.Check(ctx, cert, e.ca.Certificate())
		if err != nil || st.Revoked || st.URL != e.ca.CRLURL() {
			t.Fatalf("before revocation: %+v %v", st, err)
		}
	}
	if n := e.hitCount("/pki/lab/crl.der"); n != 1 {
		t.Errorf("%d fetches, want 1 (cached)", n)
	}
	if _, err := e.ca.Revoke(bad.SerialNumber.Text(16), ca.Reasons["keyCompromise"]); err != nil {
		t.Fatal(err)
	}
	if _, err := e.ca.PublishCRL(0); err != nil {
		t.Fatal(err)
	}
	// Cached until refreshed.
	if st, _ := c.Check(ctx, bad, e.ca.Certificate()); st.Revoked {
		t.Error("revocation seen before the cache was refreshed")
	}
	if err := c.Refresh(ctx, e.ca.CRLURL()); err != nil {
		t.Fatal(err)
	}
	st, err := c.Check(ctx, bad, e.ca.Certificate())
	if err != nil || !st.Revoked || st.Reason != 1 || st.RevokedAt.IsZero() {
		t.Errorf("after refresh: %+v %v", st, err)
	}
	if st, err := c.Check(ctx, good, e.ca.Certificate()); err != nil || st.Revoked {
		t.Errorf("good after refresh: %+v %v", st, err)
	}
	// Disk cache: a new checker (restart) with the server down still knows.
	e.mode.Store("down")
	c2 := &Checker{CacheDir: c.CacheDir}
	if st, err := c2.Check(ctx, bad, e.ca.Certificate()); err != nil || !st.Revoked {
		t.Errorf("from disk: %+v %v", st, err)
	}
	// Invalidate drops memory and disk: now nothing is obtainable.
	c2.Invalidate("")
	if _, err := c2.Check(ctx, bad, e.ca.Certificate()); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "503") {
		t.Errorf("after invalidate with the server down: %v", err)
	}
	// The intermediate against the root's CRL.
	e.mode.Store("")
	if st, err := c.Check(ctx, e.ca.Certificate(), e.ca.Root()); err != nil || st.Revoked {
		t.Errorf("intermediate: %+v %v", st, err)
	}
}

func TestCheckErrors(t *testing.T) {
	e := newEnv(t, false)
	leaf := e.issue("a.example")
	ctx := context.Background()
	withDP := func(urls ...string) *x509.Certificate {
		c := *leaf
		c.CRLDistributionPoints = urls
		return &c
	}
	other, _ := ca.Init(t.TempDir(), ca.Options{Name: "other", Key: ca.ECDSAP256})
	c := &Checker{MaxBytes: 1024}
	for _, tt := range []struct {
		name   string
		cert   *x509.Certificate
		issuer *x509.Certificate
		err    error
		want   string
	}{
		{"no dp", withDP(), e.ca.Certificate(), ErrNoDistributionPoint, ""},
		{"ldap only", withDP("ldap://x/cn=crl"), e.ca.Certificate(), ErrNoDistributionPoint, "only ldap://"},
		{"too big", withDP(e.srv.URL + "/big"), e.ca.Certificate(), ErrUnavailable, "limit of 1024"},
		{"junk", withDP(e.srv.URL + "/junk"), e.ca.Certificate(), ErrUnavailable, "malformed CRL"},
		{"404", withDP(e.srv.URL + "/pki/lab/none.der"), e.ca.Certificate(), ErrUnavailable, "404"},
		{"wrong issuer", leaf, other.Certificate(), ErrUnavailable, "does not verify"},
	} {
		_, err := c.Check(ctx, tt.cert, tt.issuer)
		if !errors.Is(err, tt.err) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want %v with %q", tt.name, err, tt.err, tt.want)
		}
	}
	// The second distribution point is used when the first fails.
	if st, err := c.Check(ctx, withDP(e.srv.URL+"/junk", e.ca.CRLURL()), e.ca.Certificate()); err != nil || st.URL != e.ca.CRLURL() {
		t.Errorf("fallback DP: %+v %v", st, err)
	}
}

func TestStaleCRL(t *testing.T) {
	e := newEnv(t, false)
	leaf := e.issue("a.example")
	if _, err := e.ca.PublishCRL(time.Hour); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	c := &Checker{Now: func() time.Time { return now }, RetryAfter: time.Millisecond}
	ctx := context.Background()
	if _, err := c.Check(ctx, leaf, e.ca.Certificate()); err != nil {
		t.Fatal(err)
	}
	// Two hours on, the server down: the cached list is past nextUpdate.
	now = now.Add(2 * time.Hour)
	e.mode.Store("down")
	_, err := c.Check(ctx, leaf, e.ca.Certificate())
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "stale") || !strings.Contains(err.Error(), "503") {
		t.Errorf("stale: %v", err)
	}
	// Within nextUpdate but past MaxAge, a failed re-fetch keeps the list.
	e.mode.Store("")
	now2 := time.Now()
	c2 := &Checker{MaxAge: time.Minute, RetryAfter: time.Millisecond, Now: func() time.Time { return now2 }}
	if _, err := c2.Check(ctx, leaf, e.ca.Certificate()); err != nil {
		t.Fatal(err)
	}
	before := e.hitCount("/pki/lab/crl.der")
	now2 = now2.Add(10 * time.Minute)
	e.mode.Store("down")
	if st, err := c2.Check(ctx, leaf, e.ca.Certificate()); err != nil || st.Revoked {
		t.Errorf("within nextUpdate, server down: %+v %v", st, err)
	}
	if e.hitCount("/pki/lab/crl.der") != before+1 {
		t.Error("no re-fetch after MaxAge")
	}
	if err := c2.Refresh(ctx, e.ca.CRLURL()); err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("Refresh with the server down: %v", err)
	}
}

// TestHostileServer: a CRL server that never answers must time out, and
// must not delay checks of certificates pointing elsewhere.
func TestHostileServer(t *testing.T) {
	e := newEnv(t, false)
	leaf := e.issue("a.example")
	hung := *leaf
	hung.CRLDistributionPoints = []string{e.srv.URL + "/hang/crl.der"}
	// The time-out is well above the bound on the healthy check, so a
	// healthy check stalled behind the hung fetch cannot pass by luck.
	c := &Checker{Timeout: 3 * time.Second, RetryAfter: time.Hour}
	ctx := context.Background()

	slowDone := make(chan error, 4)
	for range 4 {
		go func() { _, err := c.Check(ctx, &hung, e.ca.Certificate()); slowDone <- err }()
	}
	time.Sleep(50 * time.Millisecond) // the hung fetch is under way
	start := time.Now()
	if _, err := c.Check(ctx, leaf, e.ca.Certificate()); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("a check against a healthy server took %v while another server hung", d)
	}
	for range 4 {
		select {
		case err := <-slowDone:
			if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "within") {
				t.Errorf("hung server: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("the time-out did not end the hung fetch")
		}
	}
	if n := e.hitCount("/hang/crl.der"); n != 1 {
		t.Errorf("%d fetches of the hung URL, want 1 (collapsed)", n)
	}
	// Within RetryAfter it fails fast, without another fetch.
	start = time.Now()
	if _, err := c.Check(ctx, &hung, e.ca.Certificate()); !errors.Is(err, ErrUnavailable) || time.Since(start) > 500*time.Millisecond {
		t.Errorf("retry: %v after %v", err, time.Since(start))
	}
	// A caller whose own context ends leaves at once.
	c2 := &Checker{Timeout: time.Minute}
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if _, err := c2.Check(cctx, &hung, e.ca.Certificate()); !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("caller context: %v after %v", err, time.Since(start))
	}
}

func TestCollapsedFetch(t *testing.T) {
	e := newEnv(t, false)
	leaf := e.issue("a.example")
	e.gate = make(chan struct{})
	e.mode.Store("gate")
	c := &Checker{}
	var wg sync.WaitGroup
	errs := make(chan error, 20)
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.Check(context.Background(), leaf, e.ca.Certificate())
			errs <- err
		}()
	}
	time.Sleep(100 * time.Millisecond)
	close(e.gate)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if n := e.hitCount("/pki/lab/crl.der"); n != 1 {
		t.Errorf("%d fetches for 20 concurrent checks, want 1", n)
	}
}

func TestParse(t *testing.T) {
	e := newEnv(t, false)
	dir := e.ca.Dir
	for _, f := range []string{"crl.der", "crl.pem"} {
		b, _ := os.ReadFile(filepath.Join(dir, f))
		if _, err := Parse(b); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, b := range [][]byte{nil, []byte("-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"), {0x30, 0x00}} {
		if _, err := Parse(b); err == nil || !strings.Contains(err.Error(), "malformed CRL") {
			t.Errorf("Parse(%q) = %v", b, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("-----BEGIN X509 CRL-----\nMAA=\n-----END X509 CRL-----\n"))
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := Parse(b)
		if (l == nil) == (err == nil) {
			t.Fatalf("Parse = %v, %v", l, err)
		}
	})
}

// TestGivenLists: a CRL given by hand answers for its issuer's
// certificates without a fetch, with the same checks; a list of another
// issuer is not used.
func TestGivenLists(t *testing.T) {
	e := newEnv(t, false)
	good, bad := e.issue("good.example"), e.issue("bad.example")
	if _, err := e.ca.Revoke(bad.SerialNumber.Text(16), ca.Reasons["keyCompromise"]); err != nil {
		t.Fatal(err)
	}
	l, err := e.ca.PublishCRL(0)
	if err != nil {
		t.Fatal(err)
	}
	e.mode.Store("down") // nothing can be fetched
	c := &Checker{Lists: []*x509.RevocationList{l}}
	ctx := context.Background()
	if st, err := c.Check(ctx, bad, e.ca.Certificate()); err != nil || !st.Revoked || st.URL != "(given)" {
		t.Errorf("revoked: %+v %v", st, err)
	}
	if st, err := c.Check(ctx, good, e.ca.Certificate()); err != nil || st.Revoked {
		t.Errorf("good: %+v %v", st, err)
	}
	other := newEnv(t, false)
	c = &Checker{Lists: []*x509.RevocationList{l}}
	other.mode.Store("down")
	if _, err := c.Check(ctx, other.issue("x.example"), other.ca.Certificate()); !errors.Is(err, ErrUnavailable) {
		t.Errorf("another issuer's certificate: %v; want the fetch tried and failed", err)
	}
	if n := e.hitCount("/pki/lab/crl.der"); n != 0 {
		t.Errorf("%d fetches of the given list's URL; want none", n)
	}
}
