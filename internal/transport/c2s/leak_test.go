package c2s_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// Every goroutine a test starts in c2s must have ended when the package's
// tests do: sessions, flushers, timers' callbacks.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The epoll poller (park_linux.go) runs for the life of the
		// process: a Server has no way to stop it (Shutdown leaves it).
		goleak.IgnoreAnyFunction("github.com/tern-xmpp/tern/internal/transport/c2s.(*poller).run"))
}

// TestNoGoroutineLeak: sessions that log in, bind, enable stream
// management and end every way a session ends (a clean close, a dropped
// connection, a resumable session dropped, the server's shutdown) leave no
// goroutine behind once Shutdown returns.
func TestNoGoroutineLeak(t *testing.T) {
	before := goleak.IgnoreCurrent()
	func() {
		s := newTestServer(t, nil)
		clean := s.connect(t)
		clean.login()
		clean.bind("clean")
		clean.end()

		dropped := s.connect(t)
		dropped.login()
		dropped.bind("dropped")
		dropped.c.Close()

		hib := s.connect(t)
		hib.login()
		hib.bind("hibernating")
		hib.send("<enable xmlns='urn:xmpp:sm:3' resume='true'/>")
		if el := hib.next(); el == nil || el.Name != "enabled" {
			t.Fatalf("enable: %v", el)
		}
		hib.c.Close() // hibernates until Shutdown

		open := s.connect(t)
		open.login()
		open.bind("open")
		pre := s.connect(t)
		pre.open() // not logged in

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.srv.Shutdown(ctx)
		if ctx.Err() != nil {
			t.Fatal("Shutdown did not end in 10s")
		}
		for _, c := range []*client{open, pre} {
			if el := c.next(); el == nil || el.Child("", "system-shutdown") == nil {
				t.Errorf("a session at shutdown got %v; want <system-shutdown/>", el)
			}
		}
	}()
	goleak.VerifyNone(t, before, goleak.IgnoreAnyFunction("github.com/tern-xmpp/tern/internal/transport/c2s.(*poller).run"))
}
