package trust

import (
	"context"
	"crypto/x509"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

type closed struct {
	mu      sync.Mutex
	reasons map[string]Reason
}

func (c *closed) closer(name string) func(*Result) {
	return func(r *Result) {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.reasons == nil {
			c.reasons = map[string]Reason{}
		}
		c.reasons[name] = r.Reason
		if n := len(r.Steps); n == 0 || r.Steps[n-1].OK || r.Steps[n-1].Detail == "" {
			c.reasons[name] = "no failing step with a detail"
		}
	}
}

func (c *closed) get() map[string]Reason {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]Reason{}
	for k, v := range c.reasons {
		out[k] = v
	}
	return out
}

// TestRevalidate: checklist item 8, a peer revoked or whose anchor was
// removed during an open s2s stream is closed at the next round; a chain
// with an intermediate still passes (the RI re-checked the leaf alone);
// an expired one is closed.
func TestRevalidate(t *testing.T) {
	w := newWorld(t)
	withInter := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	toRevoke := w.ia.Leaf(t, "rev.test", trusttest.Opts{})
	fromB := w.rootB.Leaf(t, "b.test", trusttest.Opts{})
	short := w.ia.Leaf(t, "short.test", trusttest.Opts{NotAfter: time.Now().Add(2 * time.Hour)})

	var ss Sessions
	var c closed
	add := func(name, local, peer string, chain []*x509.Certificate) {
		if _, err := w.v.Validate(context.Background(), local, peer, chain, time.Now()); err != nil {
			t.Fatalf("%s not trusted at the handshake: %v", name, err)
		}
		ss.Track(Session{Local: local, Peer: peer, Chain: chain, Close: c.closer(name)})
	}
	add("inter", "d1.test", "peer.test", chainOf(withInter, w.ia))
	add("revoked", "d1.test", "rev.test", chainOf(toRevoke, w.ia))
	add("anchor-removed", "d2.test", "b.test", chainOf(fromB))
	add("expires", "d1.test", "short.test", chainOf(short, w.ia))
	untrack := ss.Track(Session{Local: "d1.test", Peer: "gone.test", Chain: nil, Close: c.closer("gone")})
	untrack()

	var clock time.Time
	var mu sync.Mutex
	clock = time.Now()
	rv := &Revalidator{Validator: w.v, List: ss.List, Now: func() time.Time { mu.Lock(); defer mu.Unlock(); return clock }}
	if rep := rv.RunOnce(context.Background()); rep.Closed != 0 || rep.Checked != 4 {
		t.Fatalf("first round closed %v (%+v)", c.get(), rep)
	}

	w.rev.Revoke(toRevoke.Cert)
	cfg := w.cfg
	cfg.Circles = append([]Circle(nil), cfg.Circles...)
	cfg.Circles[1].Anchors = nil // circle b loses root B
	if err := w.reg.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	clock = clock.Add(3 * time.Hour)
	mu.Unlock()
	rep := rv.RunOnce(context.Background())
	want := map[string]Reason{"revoked": ReasonRevoked, "anchor-removed": ReasonUntrustedAnchor, "expires": ReasonExpired}
	got := c.get()
	if len(got) != len(want) || rep.Closed != 3 {
		t.Fatalf("closed %v (%+v), want %v", got, rep, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s closed with %q, want %q", k, got[k], v)
		}
	}
	if _, ok := got["inter"]; ok {
		t.Error("the session with an intermediate was closed")
	}
}

// TestRevalidatorRun: the loop runs on its interval and stops with ctx; a
// round cut short by shutdown closes nobody.
func TestRevalidatorRun(t *testing.T) {
	w := newWorld(t)
	leaf := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	var ss Sessions
	var c closed
	ss.Track(Session{Local: "d1.test", Peer: "peer.test", Chain: chainOf(leaf, w.ia), Close: c.closer("s")})
	w.rev.Revoke(leaf.Cert)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		(&Revalidator{Validator: w.v, List: ss.List, Interval: 20 * time.Millisecond}).Run(ctx)
		close(done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for len(c.get()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Run never re-validated")
		}
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	<-done

	var c2 closed
	ss2 := Sessions{}
	ss2.Track(Session{Local: "d1.test", Peer: "peer.test", Chain: chainOf(leaf, w.ia), Close: c2.closer("s")})
	cancelled, cancel2 := context.WithCancel(context.Background())
	cancel2()
	(&Revalidator{Validator: w.v, List: ss2.List}).RunOnce(cancelled)
	if len(c2.get()) != 0 {
		t.Fatal("a cancelled round closed a session")
	}
}

// TestPathCache: built paths are reused only while the domain's anchor set
// is the same, for the same key usages, and validity is checked on every
// hit.
func TestPathCache(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	shortIA := w.rootA.Intermediate(t, "Short Intermediate", trusttest.Opts{NotAfter: now.Add(time.Hour), CRLDP: []string{"http://crl.invalid/a.crl"}})
	leaf := shortIA.Leaf(t, "peer.test", trusttest.Opts{})
	chain := chainOf(leaf, shortIA)
	ctx := context.Background()
	if _, err := w.v.Validate(ctx, "d1.test", "peer.test", chain, now); err != nil {
		t.Fatal(err)
	}
	dt, _ := w.reg.state.Load().lookup("d1.test")
	if len(dt.paths.m) != 1 {
		t.Fatalf("path not cached: %d", len(dt.paths.m))
	}
	// A cached path whose intermediate expired is not used.
	if r, _ := w.v.Validate(ctx, "d1.test", "peer.test", chain, now.Add(2*time.Hour)); r.Reason != ReasonChainExpired {
		t.Fatalf("expired intermediate through the cache: %q\n%s", r.Reason, Explain(r))
	}
	// Other key usages do not see the cached path.
	email := w.validator(ValidatorOptions{Revocation: adapt(w.rev), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	if r, _ := email.Validate(ctx, "d1.test", "peer.test", chain, now); r.Reason != ReasonBadUsage {
		t.Fatalf("emailProtection validator: %q", r.Reason)
	}
	// Same anchors after a reload: the cache is kept; other anchors: not.
	if err := w.reg.Apply(w.cfg); err != nil {
		t.Fatal(err)
	}
	if dt2, _ := w.reg.state.Load().lookup("d1.test"); dt2.paths != dt.paths {
		t.Fatal("reload with the same anchors dropped the path cache")
	}
	cfg := w.cfg
	cfg.Circles = append([]Circle(nil), cfg.Circles...)
	cfg.Circles[0].Anchors = append(append([]string(nil), cfg.Circles[0].Anchors...), cfg.Circles[1].Anchors...)
	if err := w.reg.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if dt3, _ := w.reg.state.Load().lookup("d1.test"); dt3.paths == dt.paths || len(dt3.paths.m) != 0 {
		t.Fatal("a new anchor set kept the path cache")
	}
}

// TestTrackPair: the plain-typed hooks the server wiring hands to the s2s
// transport.
func TestTrackPair(t *testing.T) {
	w := newWorld(t)
	leaf := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	chain := chainOf(leaf, w.ia)
	var verify func(context.Context, string, string, []*x509.Certificate) error = w.v.VerifyPeer
	if err := verify(context.Background(), "d1.test", "peer.test", chain); err != nil {
		t.Fatal(err)
	}
	var ss Sessions
	var track func(string, string, []*x509.Certificate, func(error)) func() = ss.TrackPair
	got := make(chan error, 1)
	untrack := track("d1.test", "peer.test", chain, func(err error) { got <- err })
	defer untrack()
	chain[1] = nil // the caller's slice may change; the tracked copy does not
	w.rev.Revoke(leaf.Cert)
	(&Revalidator{Validator: w.v, List: ss.List}).RunOnce(context.Background())
	select {
	case err := <-got:
		var ue *UntrustedError
		if !errors.As(err, &ue) || ue.Reason != ReasonRevoked {
			t.Fatalf("closed with %v", err)
		}
	default:
		t.Fatal("not closed")
	}
	if certs, err := ParseCertificates(trusttest.PEM(leaf.Cert, w.ia.Cert)); err != nil || len(certs) != 2 {
		t.Fatalf("ParseCertificates: %d, %v", len(certs), err)
	}
}
