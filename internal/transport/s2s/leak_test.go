package s2s

import (
	"context"
	"crypto/x509"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// TestNoGoroutineLeak: two nodes exchange messages both ways (certificates
// one way, dialback with its verification streams the other), then shut
// down; every goroutine they started has ended.
func TestNoGoroutineLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	ca := newCA(t)
	self := issue(t, nil, "c.test")
	for _, tc := range []struct {
		name string
		run  func(t *testing.T) []*node
	}{
		{"certificates", func(t *testing.T) []*node {
			a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool)
			b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
			link(a, b)
			exchange(t, a, b)
			return []*node{a, b}
		}},
		{"dialback", func(t *testing.T) []*node {
			// c's certificate is self-signed: b verifies c's keys by
			// dialback, which opens a verification stream back to c.
			b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
			c := newNode(t, "c.test", self, x509.NewCertPool())
			link(b, c)
			exchange(t, c, b)
			return []*node{b, c}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nodes := tc.run(t)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			for _, n := range nodes {
				n.s.Shutdown(ctx)
				n.cancel()
			}
			if ctx.Err() != nil {
				t.Fatal("Shutdown did not end in 10s")
			}
			for _, n := range nodes {
				n.s.mu.Lock()
				left := len(n.s.conns)
				n.s.mu.Unlock()
				if left != 0 {
					t.Errorf("%s: %d streams tracked after Shutdown", n.domain, left)
				}
			}
			goleak.VerifyNone(t, before)
		})
	}
}

// exchange sends a message from x to y and one back, several times.
func exchange(t *testing.T, x, y *node) {
	t.Helper()
	ux := x.user(t, "u@"+x.domain+"/r")
	uy := y.user(t, "u@"+y.domain+"/r")
	for i := range 3 {
		body := string(rune('0' + i))
		x.r.Route(context.Background(), message("u@"+x.domain+"/r", "u@"+y.domain+"/r", body))
		if got := uy.next(t); got.ChildText("", "body") != body {
			t.Fatalf("%s got %s", y.domain, got)
		}
		y.r.Route(context.Background(), message("u@"+y.domain+"/r", "u@"+x.domain+"/r", body))
		if got := ux.next(t); got.ChildText("", "body") != body {
			t.Fatalf("%s got %s", x.domain, got)
		}
	}
}
