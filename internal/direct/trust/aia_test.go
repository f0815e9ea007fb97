package trust

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// aiaServer serves caIssuers: path -> body; "/hang" never answers.
func aiaServer(t *testing.T, files map[string][]byte) (*httptest.Server, *atomic.Int64) {
	var hits atomic.Int64
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/hang" {
			select {
			case <-r.Context().Done():
			case <-release:
			}
			return
		}
		body, ok := files[r.URL.Path]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	t.Cleanup(func() { close(release); srv.Close() })
	return srv, &hits
}

// TestAIA: a missing intermediate is fetched from the leaf's caIssuers
// (DER or .p7c, two levels deep), cached, and never becomes an anchor
// (DCDT D18, issue 13).
func TestAIA(t *testing.T) {
	w := newWorld(t)
	files := map[string][]byte{}
	srv, hits := aiaServer(t, files)
	files["/ia.der"] = w.ia.Cert.Raw
	files["/ia.p7c"] = trusttest.P7B(t, w.ia.Cert)
	i2 := w.ia.Intermediate(t, "Lab Intermediate A2", trusttest.Opts{AIA: []string{srv.URL + "/ia.der"}})
	files["/i2.der"] = i2.Cert.Raw
	stranger := trusttest.NewRoot(t, "Stranger Root", trusttest.Opts{})
	files["/stranger.der"] = stranger.Cert.Raw

	v := w.validator(ValidatorOptions{Revocation: adapt(w.rev), AIA: &AIAFetcher{Timeout: 500 * time.Millisecond, AllowPrivate: true}})
	for _, tc := range []struct {
		name    string
		leaf    *trusttest.Leaf
		want    Reason
		fetched int
	}{
		{"DER", w.ia.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/ia.der"}}), ReasonTrusted, 1},
		{"p7c", w.ia.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/ia.p7c"}}), ReasonTrusted, 1},
		{"two levels", i2.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/i2.der"}}), ReasonTrusted, 2},
		{"404", w.ia.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/none.der"}}), ReasonUntrustedAnchor, 0},
		{"fetched root is no anchor", stranger.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/stranger.der"}}), ReasonUntrustedAnchor, 1},
		{"ldap url ignored", w.ia.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{"ldap://x.test/cn=ia"}}), ReasonUntrustedAnchor, 0},
		{"no AIA", w.ia.Leaf(t, "peer.test", trusttest.Opts{}), ReasonUntrustedAnchor, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := v.Validate(context.Background(), "d1.test", "peer.test", chainOf(tc.leaf), time.Now())
			if r.Reason != tc.want || len(r.Fetched) != tc.fetched {
				t.Fatalf("got %q with %d fetched, want %q with %d\n%s", r.Reason, len(r.Fetched), tc.want, tc.fetched, Explain(r))
			}
			if tc.want == ReasonTrusted && !strings.Contains(Explain(r), "fetched via AIA") {
				t.Fatalf("explanation does not mention AIA:\n%s", Explain(r))
			}
		})
	}
	before := hits.Load()
	leaf := w.ia.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/ia.der"}})
	for range 3 {
		if _, err := v.Validate(context.Background(), "d1.test", "peer.test", chainOf(leaf), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if hits.Load() != before {
		t.Fatalf("AIA not cached: %d more fetches", hits.Load()-before)
	}
	// The DCDT/TIM+ reading of "no AIA": a validator without a fetcher.
	if r, _ := w.v.Validate(context.Background(), "d1.test", "peer.test", chainOf(leaf), time.Now()); r.Reason != ReasonUntrustedAnchor {
		t.Fatalf("without AIA fetcher: %q", r.Reason)
	}
}

// TestHostileAIA: a caIssuers server that never answers costs only the peer
// that points at it, and that peer only its own time-out.
func TestHostileAIA(t *testing.T) {
	w := newWorld(t)
	srv, _ := aiaServer(t, map[string][]byte{})
	const timeout = time.Second
	v := w.validator(ValidatorOptions{Revocation: adapt(w.rev), AIA: &AIAFetcher{Timeout: timeout, AllowPrivate: true}})
	hostile := w.ia.Leaf(t, "hostile.test", trusttest.Opts{AIA: []string{srv.URL + "/hang"}})
	good := w.ia.Leaf(t, "peer.test", trusttest.Opts{})

	type out struct {
		r   *Result
		d   time.Duration
		err error
	}
	done := make(chan out, 2)
	for range 2 { // two handshakes of the hostile peer share one fetch
		go func() {
			start := time.Now()
			r, err := v.Validate(context.Background(), "d1.test", "hostile.test", chainOf(hostile), time.Now())
			done <- out{r, time.Since(start), err}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	for range 20 {
		if _, err := v.Validate(context.Background(), "d1.test", "peer.test", chainOf(good, w.ia), time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d > timeout/2 {
		t.Fatalf("other peers' validations took %v while an AIA server hangs", d)
	}
	for range 2 {
		o := <-done
		if o.err == nil || o.r.Reason != ReasonUntrustedAnchor {
			t.Fatalf("hostile peer: %v\n%s", o.err, Explain(o.r))
		}
		if o.d > timeout+time.Second {
			t.Fatalf("hostile peer took %v, beyond its time-out %v", o.d, timeout)
		}
		if !strings.Contains(Explain(o.r), "no answer within") {
			t.Fatalf("explanation does not say the AIA fetch timed out:\n%s", Explain(o.r))
		}
	}
	// The caller's context bounds its own wait, too.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	other := w.ia.Leaf(t, "hostile.test", trusttest.Opts{AIA: []string{srv.URL + "/hang?2"}})
	start = time.Now()
	v.Validate(ctx, "d1.test", "hostile.test", chainOf(other), time.Now())
	if d := time.Since(start); d > timeout {
		t.Fatalf("a cancelled validation waited %v", d)
	}
	// Downloads in flight are bounded: beyond the cap, an error at once.
	capped := w.validator(ValidatorOptions{Revocation: adapt(w.rev), AIA: &AIAFetcher{Timeout: timeout, InFlight: 1, AllowPrivate: true}})
	go capped.Validate(context.Background(), "d1.test", "hostile.test", chainOf(w.ia.Leaf(t, "hostile.test", trusttest.Opts{AIA: []string{srv.URL + "/hang?3"}})), time.Now())
	time.Sleep(20 * time.Millisecond)
	start = time.Now()
	r, _ := capped.Validate(context.Background(), "d1.test", "hostile.test", chainOf(w.ia.Leaf(t, "hostile.test", trusttest.Opts{AIA: []string{srv.URL + "/hang?4"}})), time.Now())
	if d := time.Since(start); d > timeout/2 || !strings.Contains(Explain(r), "in flight") {
		t.Fatalf("over the in-flight cap: waited %v\n%s", d, Explain(r))
	}
	time.Sleep(timeout + 100*time.Millisecond) // let the detached fetches end (goleak)
}

// TestAIANoPrivateAddresses: by default a peer's caIssuers URL cannot make
// tern connect into its own network.
func TestAIANoPrivateAddresses(t *testing.T) {
	w := newWorld(t)
	srv, hits := aiaServer(t, map[string][]byte{"/ia.der": w.ia.Cert.Raw})
	f := &AIAFetcher{Timeout: time.Second}
	defer f.CloseIdleConnections()
	v := w.validator(ValidatorOptions{Revocation: adapt(w.rev), AIA: f})
	leaf := w.ia.Leaf(t, "peer.test", trusttest.Opts{AIA: []string{srv.URL + "/ia.der", "http://[::1]:1/x", "http://10.0.0.1:1/x"}})
	r, _ := v.Validate(context.Background(), "d1.test", "peer.test", chainOf(leaf), time.Now())
	if r.Reason != ReasonUntrustedAnchor || hits.Load() != 0 || !strings.Contains(Explain(r), "not public") {
		t.Fatalf("private caIssuers fetched (%d hits):\n%s", hits.Load(), Explain(r))
	}
	for _, a := range []string{"127.0.0.1:80", "10.1.2.3:80", "192.168.0.1:80", "169.254.169.254:80", "[::1]:80", "[fe80::1]:80", "0.0.0.0:80", "[::ffff:127.0.0.1]:80",
		"100.100.100.200:80", "198.18.0.1:80", "192.0.0.8:80", "240.0.0.1:80", "[64:ff9b::a9fe:a9fe]:80"} {
		if RefuseNonPublic("tcp", a, nil) == nil {
			t.Errorf("%s allowed", a)
		}
	}
	if err := RefuseNonPublic("tcp", "192.0.2.10:80", nil); err != nil {
		t.Errorf("public address refused: %v", err)
	}
}
