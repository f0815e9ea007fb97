package s2s

import (
	"context"
	"crypto/x509"
	"testing"
)

func TestMessageWithCertificates(t *testing.T) {
	ca := newCA(t)
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool)
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool)
	link(a, b)
	bob := b.user(t, "bob@b.test/r")
	alice := a.user(t, "alice@a.test/r")
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "hi bob"))
	got := bob.next(t)
	if got.ChildText("", "body") != "hi bob" || got.Attr("from") != "alice@a.test/r" {
		t.Fatalf("bob got %s", got)
	}
	// The answer travels back (over the same stream if bidi, else a new one).
	b.r.Route(context.Background(), message("bob@b.test/r", "alice@a.test/r", "hi alice"))
	if got := alice.next(t); got.ChildText("", "body") != "hi alice" {
		t.Fatalf("alice got %s", got)
	}
}

func TestMessageWithDialback(t *testing.T) {
	empty := x509.NewCertPool()
	a := newNode(t, "a.test", issue(t, nil, "a.test"), empty)
	b := newNode(t, "b.test", issue(t, nil, "b.test"), empty)
	link(a, b)
	bob := b.user(t, "bob@b.test/r")
	alice := a.user(t, "alice@a.test/r")
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "hi bob"))
	if got := bob.next(t); got.ChildText("", "body") != "hi bob" {
		t.Fatalf("bob got %s", got)
	}
	b.r.Route(context.Background(), message("bob@b.test/r", "alice@a.test/r", "hi alice"))
	if got := alice.next(t); got.ChildText("", "body") != "hi alice" {
		t.Fatalf("alice got %s", got)
	}
}
