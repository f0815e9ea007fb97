package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// directHooks stands in for the trust layer: a Direct domain trusts the
// chains that verify against pool for the peer domain.
type directHooks struct {
	pool     *x509.CertPool
	verified atomic.Int32
	mu       sync.Mutex
	closers  []func(error)
	tracked  atomic.Int32
	refused  atomic.Int32
}

func (h *directHooks) opt(direct ...string) nodeOpt {
	return func(c *Config) {
		c.Direct = DirectHooks{
			IsDirect: func(local string) bool {
				for _, d := range direct {
					if d == local {
						return true
					}
				}
				return false
			},
			Verify: func(_ context.Context, local, peer string, chain []*x509.Certificate) error {
				h.verified.Add(1)
				return VerifyPeer(chain, peer, h.pool, time.Now())
			},
			Track: func(local, peer string, chain []*x509.Certificate, closeStream func(error)) func() {
				h.tracked.Add(1)
				h.mu.Lock()
				h.closers = append(h.closers, closeStream)
				h.mu.Unlock()
				return func() { h.tracked.Add(-1) }
			},
			Refused: func(string) { h.refused.Add(1) },
		}
	}
}

// TestDirectFeatures: on a stream to a Direct domain the features before
// TLS are only <starttls><required/></starttls>; after TLS only SASL
// EXTERNAL, never dialback (even with Dialback on) nor bidi. A plain
// domain of the same server still offers dialback (TIM+ §6.1).
func TestDirectFeatures(t *testing.T) {
	ca := newCA(t)
	h := &directHooks{pool: ca.pool}
	n := newNode(t, "d.test", issue(t, ca, "d.test"), ca.pool, h.opt("d.test"))
	for _, tc := range []struct {
		local string
		tls   bool
		want  []string
	}{
		{"d.test", false, []string{"starttls"}},
		{"d.test", true, []string{"mechanisms", "limits"}},
		{"plain.test", true, []string{"dialback", "bidi", "limits"}},
	} {
		a, b := net.Pipe()
		defer a.Close()
		defer b.Close()
		c := newConn(n.s, a, false, false)
		c.local, c.remote, c.tlsUp = tc.local, "peer.test", tc.tls
		f := c.features()
		var got []string
		for _, e := range f.Elements() {
			got = append(got, e.Name)
		}
		if strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%s tls=%v: features %v, want %v (%s)", tc.local, tc.tls, got, tc.want, f)
		}
		if !tc.tls && f.Child(stream.NSTLS, "starttls").Child(stream.NSTLS, "required") == nil {
			t.Errorf("starttls not required: %s", f)
		}
		if m := f.Child(stream.NSSASL, "mechanisms"); tc.local == "d.test" && tc.tls {
			if ms := m.Elements(); len(ms) != 1 || ms[0].Text() != "EXTERNAL" {
				t.Errorf("mechanisms %s", m)
			}
		}
	}
}

// TestDirectTrusted: two Direct domains exchange messages over SASL
// EXTERNAL both ways, each pair tracked for re-validation; closing a
// tracked pair (a failed re-validation) ends its stream and the next
// message opens a new one.
func TestDirectTrusted(t *testing.T) {
	ca := newCA(t)
	h := &directHooks{pool: ca.pool}
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, h.opt("a.test"))
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, h.opt("b.test"))
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
	// Two streams, each checked by both ends and tracked by both.
	if v := h.verified.Load(); v != 4 {
		t.Errorf("trust checks = %d, want 4 (each end of each stream)", v)
	}
	waitFor(t, "4 tracked pairs", func() bool { return h.tracked.Load() == 4 })
	h.mu.Lock()
	closers := h.closers
	h.mu.Unlock()
	for _, cl := range closers {
		cl(errors.New("direct trust: revoked"))
	}
	waitFor(t, "streams closed by re-validation", func() bool { return h.tracked.Load() == 0 })
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "again"))
	if got := bob.next(t); got.ChildText("", "body") != "again" {
		t.Fatalf("bob got %s", got)
	}
}

// TestDirectRefusedNoDialback: a peer whose certificate the Direct domain
// does not trust is refused both ways, and dialback (on at both ends) is
// not used instead: the sender gets an error, nothing is delivered.
func TestDirectRefusedNoDialback(t *testing.T) {
	ca, other := newCA(t), newCA(t)
	// a trusts only "other"'s CA: b's certificate does not verify for it.
	ha := &directHooks{pool: other.pool}
	hb := &directHooks{pool: ca.pool}
	a := newNode(t, "a.test", issue(t, ca, "a.test"), ca.pool, ha.opt("a.test"))
	b := newNode(t, "b.test", issue(t, ca, "b.test"), ca.pool, hb.opt("b.test"))
	link(a, b)
	bob := b.user(t, "bob@b.test/r")
	alice := a.user(t, "alice@a.test/r")
	a.r.Route(context.Background(), message("alice@a.test/r", "bob@b.test", "hi bob"))
	if got := alice.next(t); got.Attr("type") != "error" || got.Child("", "error") == nil {
		t.Fatalf("alice got %s, want an error", got)
	}
	b.r.Route(context.Background(), message("bob@b.test/r", "alice@a.test/r", "hi alice"))
	if got := bob.next(t); got.Attr("type") != "error" {
		t.Fatalf("bob got %s, want an error", got)
	}
	select {
	case el := <-bob.ch:
		t.Fatalf("bob got %s", el)
	case el := <-alice.ch:
		t.Fatalf("alice got %s", el)
	case <-time.After(300 * time.Millisecond):
	}
	if ha.tracked.Load()+hb.tracked.Load() != 0 {
		t.Fatal("a refused pair was tracked")
	}
}

// TestDirectRefusesDialbackRequest: a <db:result/> for a Direct domain is
// answered with a dialback error, never verified.
func TestDirectRefusesDialbackRequest(t *testing.T) {
	ca := newCA(t)
	h := &directHooks{pool: ca.pool}
	n := newNode(t, "d.test", issue(t, ca, "d.test"), ca.pool, h.opt("d.test"))
	a, b := net.Pipe()
	defer b.Close()
	c := newConn(n.s, a, false, false)
	c.local, c.tlsUp = "d.test", true
	go func() {
		_ = c.handle(xml.New(NSDialback, "result", "from", "peer.test", "to", "d.test").SetText("key"))
	}()
	buf := make([]byte, 4096)
	_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
	k, _ := b.Read(buf)
	if got := string(buf[:k]); !strings.Contains(got, `type="error"`) || !strings.Contains(got, "not-authorized") {
		t.Fatalf("answer %q", got)
	}
	if c.authenticated() {
		t.Fatal("authenticated by dialback")
	}
}

// TestDirectInboundTLS: the server TLS configuration requires a client
// certificate for a Direct domain, chosen by the stream header on STARTTLS
// and by SNI on a direct TLS port (XEP-0368), never verified by crypto/tls;
// a plain domain keeps the requested-only client certificate.
func TestDirectInboundTLS(t *testing.T) {
	ca := newCA(t)
	h := &directHooks{pool: ca.pool}
	n := newNode(t, "d.test", issue(t, ca, "d.test"), ca.pool, h.opt("d.test"))
	conn := func(local string) *conn {
		a, b := net.Pipe()
		t.Cleanup(func() { a.Close(); b.Close() })
		c := newConn(n.s, a, false, local == "")
		c.local = local
		return c
	}
	if got := conn("d.test").inboundTLS(); got.ClientAuth != tls.RequireAnyClientCert || got.MinVersion < tls.VersionTLS12 {
		t.Errorf("STARTTLS to a Direct domain: ClientAuth %v, MinVersion %x", got.ClientAuth, got.MinVersion)
	}
	if got := conn("plain.test").inboundTLS(); got.ClientAuth != tls.RequestClientCert {
		t.Errorf("STARTTLS to a plain domain: ClientAuth %v", got.ClientAuth)
	}
	direct := conn("").inboundTLS()
	for sni, want := range map[string]tls.ClientAuthType{"d.test": tls.RequireAnyClientCert, "plain.test": tls.RequestClientCert, "": tls.RequestClientCert} {
		cfg, err := direct.GetConfigForClient(&tls.ClientHelloInfo{ServerName: sni})
		if err != nil {
			t.Fatal(err)
		}
		got := direct.ClientAuth
		if cfg != nil {
			got = cfg.ClientAuth
		}
		if got != want {
			t.Errorf("direct TLS, SNI %q: ClientAuth %v, want %v", sni, got, want)
		}
	}
}
