package c2s_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"io"
	"log/slog"
	"math/big"
	"net"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/sasl"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/transport/c2s"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
	"github.com/xdg-go/scram"
)

// What the c2s tests share: an in-memory connection (net.Pipe neither
// buffers nor half-closes: a client could not say "that is all" and still
// read the server's answer), a listener of such connections, a c2s.Server
// serving example.org, and a client that logs in as alice.

const (
	domain   = "example.org"
	password = "correct horse"
)

// half is one direction of a memConn: an unbounded buffer, so a writer
// never waits for the reader.
type half struct {
	mu       sync.Mutex
	cond     sync.Cond
	data     []byte
	eof      bool // the writer closed it
	closed   bool // the reader closed it
	deadline time.Time
	timer    *time.Timer
}

func newHalf() *half { h := &half{}; h.cond.L = &h.mu; return h }

func (h *half) read(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for {
		switch {
		case h.closed:
			return 0, net.ErrClosed
		case len(h.data) > 0:
			n := copy(p, h.data)
			h.data = h.data[n:]
			return n, nil
		case h.eof:
			return 0, io.EOF
		case !h.deadline.IsZero() && !time.Now().Before(h.deadline):
			return 0, os.ErrDeadlineExceeded
		}
		h.cond.Wait()
	}
}

func (h *half) write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.eof || h.closed {
		return 0, io.ErrClosedPipe
	}
	h.data = append(h.data, p...)
	h.cond.Broadcast()
	return len(p), nil
}

func (h *half) setDeadline(t time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deadline = t
	if h.timer != nil {
		h.timer.Stop()
		h.timer = nil
	}
	if !t.IsZero() {
		h.timer = time.AfterFunc(time.Until(t), func() { h.mu.Lock(); h.cond.Broadcast(); h.mu.Unlock() })
	}
	h.cond.Broadcast()
}

func (h *half) shut(reader bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if reader {
		h.closed = true
	} else {
		h.eof = true
	}
	if h.timer != nil {
		h.timer.Stop()
	}
	h.cond.Broadcast()
}

// memConn is one end of an in-memory connection.
type memConn struct {
	in, out    *half
	local, rem net.Addr
}

func memPipe() (client, server *memConn) {
	a, b := newHalf(), newHalf()
	ca := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 40000}
	sa := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 5222}
	return &memConn{in: a, out: b, local: ca, rem: sa}, &memConn{in: b, out: a, local: sa, rem: ca}
}

func (c *memConn) Read(p []byte) (int, error)         { return c.in.read(p) }
func (c *memConn) Write(p []byte) (int, error)        { return c.out.write(p) }
func (c *memConn) CloseWrite() error                  { c.out.shut(false); return nil }
func (c *memConn) Close() error                       { c.out.shut(false); c.in.shut(true); return nil }
func (c *memConn) LocalAddr() net.Addr                { return c.local }
func (c *memConn) RemoteAddr() net.Addr               { return c.rem }
func (c *memConn) SetReadDeadline(t time.Time) error  { c.in.setDeadline(t); return nil }
func (c *memConn) SetWriteDeadline(t time.Time) error { return nil } // writes never wait
func (c *memConn) SetDeadline(t time.Time) error      { c.in.setDeadline(t); return nil }

// memListener hands out the server ends of dial's connections.
type memListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func (l *memListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *memListener) Close() error   { l.once.Do(func() { close(l.done) }); return nil }
func (l *memListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 2), Port: 5222} }

// testServer is a c2s.Server on a memListener, with one account, alice.
type testServer struct {
	srv *c2s.Server
	r   *router.Router
	l   *memListener
}

type users struct {
	storage.Users
	alice storage.User
}

func (u users) GetUser(_ context.Context, d, name string) (storage.User, error) {
	if d == domain && name == "alice" {
		return u.alice, nil
	}
	return storage.User{}, storage.ErrNotFound
}

// preAuthIQ stands in for in-band registration (no storage, no PBKDF2):
// it answers jabber:iq:register and leaves the rest to c2s.
func preAuthIQ(_ context.Context, _, _ string, _ bool, iq *xml.Element) *xml.Element {
	if p := iq.FirstElement(); p == nil || p.Space != "jabber:iq:register" {
		return nil
	}
	iq.SetAttr("from", "")
	iq.SetAttr("to", "")
	if iq.Attr("type") == "get" {
		return stanza.Result(iq, xml.New("jabber:iq:register", "query"))
	}
	return stanza.ErrorReply(iq, stanza.ErrNotAcceptable)
}

var (
	aliceOnce sync.Once
	aliceUser storage.User
	certOnce  sync.Once
	cert      tls.Certificate
)

func newTestServer(t testing.TB, tweak func(*c2s.Config)) *testServer {
	t.Helper()
	aliceOnce.Do(func() {
		var err error
		if aliceUser, err = sasl.NewUser(domain, "alice", password); err != nil {
			panic(err)
		}
	})
	certOnce.Do(func() { cert = selfSigned() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("TERN_TEST_LOG") == "1" {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	u := users{alice: aliceUser}
	r := router.New(log, []string{domain}, u)
	cfg := c2s.Config{
		Domains:       []string{domain},
		TLS:           &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		AuthTimeout:   5 * time.Second,
		Secret:        []byte("0123456789abcdef0123456789abcdef"),
		Users:         u,
		PreAuthIQ:     preAuthIQ,
		ResumeTimeout: time.Minute,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	srv := c2s.NewServer(context.Background(), cfg, r, log)
	l := &memListener{conns: make(chan net.Conn), done: make(chan struct{})}
	served := make(chan struct{})
	go func() { _ = srv.Serve(l, false); close(served) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		<-served
	})
	return &testServer{srv: srv, r: r, l: l}
}

// dial connects a client.
func (s *testServer) dial() *memConn {
	c, sc := memPipe()
	s.l.conns <- sc
	return c
}

func selfSigned() tls.Certificate {
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k}
}

const header = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "' version='1.0'>"

// client is a test client: it reads the server's elements with tern's
// decoder, each read bounded by a deadline (a hang fails the test).
type client struct {
	t    testing.TB
	c    *memConn
	dec  *xml.Decoder
	wait time.Duration
}

var scramClient = sync.OnceValue(func() *scram.Client {
	c, err := scram.SHA256.NewClient("alice", password, "")
	if err != nil {
		panic(err)
	}
	return c // caches the salted password: one PBKDF2 for the whole run
})

func (s *testServer) connect(t testing.TB) *client {
	return &client{t: t, c: s.dial(), wait: 5 * time.Second}
}

func (c *client) send(s string) {
	if _, err := c.c.Write([]byte(s)); err != nil {
		c.t.Fatalf("write %q: %v", s, err)
	}
}

// open sends a header and reads the server's header and features.
func (c *client) open() *xml.Element {
	c.t.Helper()
	c.send(header)
	c.dec = xml.NewDecoder(c.c, xml.Limits{})
	_ = c.c.SetReadDeadline(time.Now().Add(c.wait))
	if _, err := c.dec.ReadHeader(); err != nil {
		c.t.Fatalf("server header: %v", err)
	}
	return c.next()
}

// next returns the server's next element; nil at the end of the stream
// (its close tag, or the connection's).
func (c *client) next() *xml.Element {
	c.t.Helper()
	_ = c.c.SetReadDeadline(time.Now().Add(c.wait))
	el, err := c.dec.ReadElement()
	switch {
	case err == nil:
		return el
	case stream.IsTimeout(err):
		c.t.Fatalf("the server sent nothing for %v: hung", c.wait)
	}
	return nil
}

// login authenticates alice with SCRAM-SHA-256 and restarts the stream;
// bind then binds resource.
func (c *client) login() {
	c.t.Helper()
	c.open()
	conv := scramClient().NewConversation()
	first, _ := conv.Step("")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + base64.StdEncoding.EncodeToString([]byte(first)) + "</auth>")
	for {
		el := c.next()
		if el == nil {
			c.t.Fatal("stream ended during SASL")
		}
		in, _ := base64.StdEncoding.DecodeString(el.Text())
		switch el.Name {
		case "challenge":
			out, err := conv.Step(string(in))
			if err != nil {
				c.t.Fatalf("SCRAM: %v", err)
			}
			c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + base64.StdEncoding.EncodeToString([]byte(out)) + "</response>")
		case "success":
			if _, err := conv.Step(string(in)); err != nil {
				c.t.Fatalf("SCRAM server proof: %v", err)
			}
			c.open()
			return
		default:
			c.t.Fatalf("SASL: got %s", el)
		}
	}
}

func (c *client) bind(resource string) {
	c.t.Helper()
	c.send("<iq type='set' id='bind'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>" + resource + "</resource></bind></iq>")
	if el := c.next(); el == nil || el.Attr("type") != "result" {
		c.t.Fatalf("bind: %v", el)
	}
	// The result is written only once the resource is bound
	// (negotiate.go): no round trip is needed before reconnecting.
}

// end closes the stream and waits for the server's close.
func (c *client) end() {
	c.t.Helper()
	c.send(stream.Close)
	for el := c.next(); el != nil; el = c.next() {
	}
	c.c.Close()
}

// TestPanicEndsSession: a stanza that makes a handler panic (a bug) ends
// its session with internal-server-error; the server and other sessions
// go on.
func TestPanicEndsSession(t *testing.T) {
	ts := newTestServer(t, nil)
	ts.r.Hook(router.EvMessageOut, 0, func(ev *router.Event) bool {
		if ev.Stanza.El.Attr("id") == "boom" {
			panic("a bug")
		}
		return false
	})
	a := ts.connect(t)
	a.login()
	a.bind("a")
	b := ts.connect(t)
	b.login()
	b.bind("b")
	a.send("<message to='alice@" + domain + "/b' id='boom' type='chat'><body>x</body></message>")
	for {
		el := a.next()
		if el == nil {
			t.Fatal("the session ended without a stream error")
		}
		if el.Space == xml.NSStream && el.Name == "error" {
			if el.Child(stream.NSStreamErrors, "internal-server-error") == nil {
				t.Fatalf("stream error %s, want internal-server-error", el)
			}
			break
		}
	}
	b.send("<iq type='get' id='p'><ping xmlns='urn:xmpp:ping'/></iq>")
	if el := b.next(); el == nil || el.Attr("id") != "p" {
		t.Fatalf("the other session after the panic: %v", el)
	}
}
