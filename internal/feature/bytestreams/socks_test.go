package bytestreams_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
)

// exchange sends a from req to tgt and b from tgt to req at once, each
// side closing its write half when done, and checks both arrive whole.
func exchange(t testing.TB, req, tgt net.Conn, a, b []byte) {
	t.Helper()
	type got struct {
		sum [32]byte
		n   int
		err error
	}
	recv := func(c net.Conn, ch chan got) {
		h := sha256.New()
		n, err := io.Copy(h, c)
		var s [32]byte
		copy(s[:], h.Sum(nil))
		ch <- got{s, int(n), err}
	}
	send := func(c net.Conn, p []byte, ch chan error) {
		_, err := c.Write(p)
		if cw, ok := c.(interface{ CloseWrite() error }); ok && err == nil {
			err = cw.CloseWrite()
		}
		ch <- err
	}
	ra, rb := make(chan got, 1), make(chan got, 1)
	sa, sb := make(chan error, 1), make(chan error, 1)
	go recv(tgt, ra)
	go recv(req, rb)
	go send(req, a, sa)
	go send(tgt, b, sb)
	for _, ch := range []chan error{sa, sb} {
		if err := <-ch; err != nil {
			t.Errorf("send: %v", err)
		}
	}
	for i, c := range []struct {
		ch   chan got
		want []byte
	}{{ra, a}, {rb, b}} {
		g := <-c.ch
		if g.err != nil || g.n != len(c.want) || g.sum != sha256.Sum256(c.want) {
			t.Errorf("direction %d: got %d bytes (err %v), SHA-256 match %t; want %d bytes", i, g.n, g.err, g.sum == sha256.Sum256(c.want), len(c.want))
		}
	}
}

func random(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

func TestTransfer(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	req, tgt := f.pair(t, alice, bob, "ft1")
	defer req.Close()
	defer tgt.Close()
	exchange(t, req, tgt, random(3<<20), random(2<<20))
}

func TestTransferPlainNoAuth(t *testing.T) {
	// Plain XEP-0065 (tls = false, credentials = false): method 0x00.
	f := newFixture(t, func(c *bytestreams.Config) { c.TLS, c.Credentials = false, false })
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	addr := f.addr(t, alice)
	hash := bytestreams.StreamHash("p1", alice.JID.String(), bob.JID.String())
	tgt, err := f.dial(addr, cred{}, hash)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	req, err := f.dial(addr, cred{}, hash)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	if r := alice.Reply(activateIQ("p1", bob.JID.String())); r.Attr("type") != "result" {
		t.Fatal(r)
	}
	exchange(t, req, tgt, random(1<<20), random(10))
	if r := alice.Reply(credIQ("c")); r.Attr("type") != "error" {
		t.Errorf("credRequest without credentials: %s", r)
	}
}

func TestCredentialOnce(t *testing.T) {
	f := newFixture(t)
	alice := f.h.Login("alice", "pc")
	addr := f.addr(t, alice)
	c := credentials(t, alice)
	hash := bytestreams.StreamHash("once", alice.JID.String(), "bob@example.org/pc")
	first, err := f.dial(addr, c, hash)
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	first.Close()
	if _, err := f.dial(addr, c, hash); !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "auth status") {
		t.Errorf("reused credential: %v, want the RFC 1929 failure status", err)
	}
	// A wrong secret spends the credential too.
	c2 := credentials(t, alice)
	bad := c2
	bad.pass = strings.Repeat("A", 26)
	if _, err := f.dial(addr, bad, hash); !errors.Is(err, errRefused) {
		t.Errorf("wrong secret: %v", err)
	}
	if _, err := f.dial(addr, c2, hash); !errors.Is(err, errRefused) {
		t.Errorf("the right secret after a wrong one: %v, want refused (spent)", err)
	}
}

func TestCredentialExpired(t *testing.T) {
	f := newFixture(t)
	alice := f.h.Login("alice", "pc")
	addr := f.addr(t, alice)
	hash := bytestreams.StreamHash("exp", alice.JID.String(), "bob@example.org/pc")
	c := credentials(t, alice)
	f.clock.Advance(59 * time.Second)
	ok, err := f.dial(addr, c, hash)
	if err != nil {
		t.Fatalf("at 59 s: %v", err)
	}
	ok.Close()
	c = credentials(t, alice)
	f.clock.Advance(bytestreams.CredentialTTL)
	if _, err := f.dial(addr, c, hash); !errors.Is(err, errRefused) {
		t.Errorf("at 60 s: %v, want refused", err)
	}
}

// raw runs bytes against the plain listener and returns what came back
// until the proxy closed the connection.
func raw(t *testing.T, addr string, in []byte) []byte {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write(in)
	out, err := io.ReadAll(c)
	if err != nil && !errors.Is(err, net.ErrClosed) && !strings.Contains(err.Error(), "reset") {
		t.Errorf("read: %v (the proxy should close)", err)
	}
	return out
}

func TestMalformedHandshakes(t *testing.T) {
	f := newFixture(t, func(c *bytestreams.Config) { c.TLS, c.HandshakeSeconds = false, 1 })
	alice := f.h.Login("alice", "pc")
	addr := f.addr(t, alice)
	login := func() []byte {
		c := credentials(t, alice)
		b := append([]byte{5, 1, 2, 1, byte(len(c.user))}, c.user...)
		return append(append(b, byte(len(c.pass))), c.pass...)
	}
	hash := bytestreams.StreamHash("m", alice.JID.String(), "bob@example.org/pc")
	ok := []byte{5, 2, 1, 0}
	for _, c := range []struct {
		name     string
		in, want []byte
	}{
		{"socks4", []byte{4, 1, 0, 80, 127, 0, 0, 1, 0}, nil},
		{"no methods", []byte{5, 0}, []byte{5, 0xFF}},
		{"no-auth only", []byte{5, 1, 0}, []byte{5, 0xFF}},
		{"short greeting", []byte{5, 3, 2}, nil},
		{"auth version", []byte{5, 1, 2, 5, 1, 'a', 1, 'b'}, []byte{5, 2, 1, 1}},
		{"empty user", []byte{5, 1, 2, 1, 0, 1, 'b'}, []byte{5, 2, 1, 1}},
		{"unknown credential", []byte{5, 1, 2, 1, 1, 'a', 1, 'b'}, []byte{5, 2, 1, 1}},
		{"bind", append(login(), 5, 2, 0, 3, 40), append(ok, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0)},
		{"ipv4", append(login(), 5, 1, 0, 1, 127, 0, 0, 1, 0, 80), append(ok, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0)},
		{"short hash", append(append(login(), 5, 1, 0, 3, 3), "abc\x00\x00"...), append(ok, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0)},
		{"uppercase hash", append(append(login(), 5, 1, 0, 3, 40), strings.ToUpper(hash)+"\x00\x00"...), append(ok, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0)},
	} {
		if got := raw(t, addr, c.in); !bytes.Equal(got, c.want) {
			t.Errorf("%s: got %x, want %x", c.name, got, c.want)
		}
	}
	// The listener goes on.
	c, err := f.dial(addr, credentials(t, alice), hash)
	if err != nil {
		t.Fatalf("after the bad ones: %v", err)
	}
	c.Close()
}

func TestWrongHashAndThirdConnection(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	addr := f.addr(t, alice)
	hash := bytestreams.StreamHash("w", alice.JID.String(), bob.JID.String())
	tgt, err := f.dial(addr, credentials(t, bob), hash)
	if err != nil {
		t.Fatal(err)
	}
	defer tgt.Close()
	// The requester hashed other JIDs: the two do not meet.
	other, err := f.dial(addr, credentials(t, alice), bytestreams.StreamHash("w", "alice@example.org/tablet", bob.JID.String()))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if r := alice.Reply(activateIQ("w", bob.JID.String())); r.Attr("type") != "error" {
		t.Errorf("activate with the hashes apart: %s", r)
	}
	req, err := f.dial(addr, credentials(t, alice), hash)
	if err != nil {
		t.Fatal(err)
	}
	defer req.Close()
	if _, err := f.dial(addr, credentials(t, alice), hash); !errors.Is(err, errRefused) || !strings.Contains(err.Error(), "reply 2") {
		t.Errorf("a third connection: %v, want reply 2 (not allowed)", err)
	}
}

func TestSizeLimit(t *testing.T) {
	f := newFixture(t, func(c *bytestreams.Config) { c.MaxBytes = 1 << 20 })
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	req, tgt := f.pair(t, alice, bob, "big")
	defer req.Close()
	defer tgt.Close()
	go func() { req.Write(random(3 << 20)); req.Close() }()
	tgt.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, tgt)
	if n > 1<<20 || n == 0 {
		t.Errorf("target got %d bytes, want some but at most max_bytes (%d)", n, 1<<20)
	}
}

func TestRate(t *testing.T) {
	const rate = 256 << 10
	f := newFixture(t, func(c *bytestreams.Config) { c.Rate = rate })
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	req, tgt := f.pair(t, alice, bob, "slow")
	defer req.Close()
	defer tgt.Close()
	start := time.Now()
	exchange(t, req, tgt, random(3*rate), nil) // one second of burst, then 2 s at the rate
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("3x rate bytes took %v, want about 2 s at %d B/s", d, rate)
	}
}

func TestSlowloris(t *testing.T) {
	f := newFixture(t, func(c *bytestreams.Config) { c.HandshakeSeconds = 1 })
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	addr := f.addr(t, alice)
	var idle []net.Conn
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	// Others are served meanwhile.
	req, tgt := f.pair(t, alice, bob, "others")
	exchange(t, req, tgt, random(64<<10), random(64<<10))
	req.Close()
	tgt.Close()
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, err := c.Read(make([]byte, 1))
		var ne net.Error
		if err == nil || errors.As(err, &ne) && ne.Timeout() {
			t.Errorf("a client that never sends: %v, want closed after handshake_seconds", err)
		}
	}
}

func TestConnsPerIP(t *testing.T) {
	f := newFixture(t, func(c *bytestreams.Config) { c.ConnsPerIP = 2; c.TLS = false })
	alice := f.h.Login("alice", "pc")
	addr := f.addr(t, alice)
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		// A method reply means the proxy counted the connection.
		c.Write([]byte{5, 1, 2})
		if _, err := io.ReadFull(c, make([]byte, 2)); err != nil {
			t.Fatal(err)
		}
	}
	if got := raw(t, addr, []byte{5, 1, 2}); len(got) != 0 {
		t.Errorf("third connection from one IP got %x, want closed", got)
	}
}

func TestStopEndsRelays(t *testing.T) {
	f := newFixture(t)
	alice, bob := f.h.Login("alice", "pc"), f.h.Login("bob", "pc")
	req, tgt := f.pair(t, alice, bob, "stop")
	defer req.Close()
	defer tgt.Close()
	// One more waits for activation.
	w, err := f.dial(f.addr(t, alice), credentials(t, alice), bytestreams.StreamHash("w", "a@b/c", "d@e/f"))
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	done := make(chan struct{})
	go func() { f.stop(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("stop hangs")
	}
	for _, c := range []net.Conn{req, tgt, w} {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := c.Read(make([]byte, 1)); err == nil {
			t.Errorf("connection open after stop")
		}
	}
	if r := alice.Reply("<iq type='get' id='sh' to='" + service + "'><query xmlns='" + bytestreams.NS + "'/></iq>"); r.Attr("type") != "error" {
		t.Errorf("streamhost after stop: %s", r)
	}
}
