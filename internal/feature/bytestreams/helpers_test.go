package bytestreams_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Relays, timers and listeners must all end with the tests.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const service = "ftproxystream." + mt.Domain

// clock is the credentials' clock, moved by the tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

var (
	certOnce sync.Once
	testCert tls.Certificate
)

// serverTLS serves a self-signed certificate for example.org and
// *.example.org, as the server generates them.
func serverTLS(t testing.TB) *tls.Config {
	certOnce.Do(func() {
		c, k, err := certs.SelfSigned(mt.Domain, certs.Options{})
		if err != nil {
			panic(err)
		}
		if testCert, err = tls.X509KeyPair(c, k); err != nil {
			panic(err)
		}
	})
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &testCert, nil }}
}

// fixture is a harness with the proxy listening on loopback.
type fixture struct {
	h     *mt.Harness
	m     *bytestreams.Module
	clock *clock
	tls   bool
	stop  func()
}

type opt func(*bytestreams.Config)

func newModule(c *clock, opts ...opt) *bytestreams.Module {
	m := bytestreams.New()
	m.Cfg.Listen = "127.0.0.1:0"
	m.Now = c.Now
	for _, o := range opts {
		o(&m.Cfg)
	}
	return m
}

func newFixture(t testing.TB, opts ...opt) *fixture {
	t.Helper()
	c := &clock{t: time.Now()}
	m := newModule(c, opts...)
	h := mt.New(t, []string{"alice", "bob"}, disco.Module{}, m)
	f := &fixture{h: h, m: m, clock: c, tls: m.Cfg.TLS}
	var tc *tls.Config
	if f.tls {
		tc = serverTLS(t)
	}
	stop, err := m.Listen(tc)
	if err != nil {
		t.Fatalf("listen: %v", err)
	}
	f.stop = stop
	t.Cleanup(stop)
	return f
}

// listening starts the proxy of a harness made by Rules (the module as the
// server finds it: module.Depend).
func listening(t *testing.T, h *mt.Harness) {
	t.Helper()
	l, err := module.Depend[bytestreams.Listener](h.Host, "bytestreams")
	if err != nil {
		t.Fatal(err)
	}
	stop, err := l.Listen(serverTLS(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
}

type cred struct {
	user, pass string
	ca         *x509.CertPool
}

// credentials asks the proxy for a one-time credential as s.
func credentials(t testing.TB, s *mt.Session) cred {
	t.Helper()
	r := s.Reply("<iq type='get' id='cr' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'/></iq>")
	cr := r.Child(bytestreams.NSCredReq, "credRequest")
	if r.Attr("type") != "result" || cr == nil || cr.Child(bytestreams.NSCredReq, "credentials") == nil {
		t.Fatalf("credRequest: %s", r)
	}
	c := cr.Child(bytestreams.NSCredReq, "credentials")
	out := cred{user: c.Attr("subject"), pass: c.Attr("secret")}
	if ca := cr.ChildText(bytestreams.NSCredReq, "ca"); ca != "" {
		der, err := base64.StdEncoding.DecodeString(ca)
		if err != nil {
			t.Fatalf("ca: %v", err)
		}
		crt, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatalf("ca: %v", err)
		}
		out.ca = x509.NewCertPool()
		out.ca.AddCert(crt)
	}
	return out
}

// streamhost asks the proxy where it listens.
func (f *fixture) addr(t testing.TB, s *mt.Session) string {
	t.Helper()
	r := s.Reply("<iq type='get' id='sh' to='" + service + "'><query xmlns='" + bytestreams.NS + "'/></iq>")
	sh := r.Child(bytestreams.NS, "query").Child(bytestreams.NS, "streamhost")
	return net.JoinHostPort(sh.Attr("host"), sh.Attr("port"))
}

// dial connects to the proxy (TLS when f.tls, SNI = the service) and runs
// the client side of RFC 1928/1929 with c, requesting hash.
func (f *fixture) dial(addr string, c cred, hash string) (net.Conn, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, err
	}
	if f.tls {
		tc := tls.Client(conn, &tls.Config{ServerName: service, RootCAs: c.ca, MinVersion: tls.VersionTLS12})
		if err := tc.Handshake(); err != nil {
			conn.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		conn = tc
	}
	if err := socksConnect(conn, c.user, c.pass, hash); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

var errRefused = errors.New("refused")

// socksConnect is a SOCKS5 client: greeting with method 0x02 (0x00 when
// user is ""), RFC 1929 login, CONNECT to hash:0.
func socksConnect(conn net.Conn, user, pass, hash string) error {
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	defer conn.SetDeadline(time.Time{})
	method := byte(2)
	if user == "" {
		method = 0
	}
	if _, err := conn.Write([]byte{5, 1, method}); err != nil {
		return err
	}
	var b [2]byte
	if _, err := io.ReadFull(conn, b[:]); err != nil {
		return err
	}
	if b[0] != 5 || b[1] != method {
		return fmt.Errorf("%w: method reply %x", errRefused, b)
	}
	if method == 2 {
		msg := append([]byte{1, byte(len(user))}, user...)
		msg = append(append(msg, byte(len(pass))), pass...)
		if _, err := conn.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(conn, b[:]); err != nil {
			return err
		}
		if b != [2]byte{1, 0} {
			return fmt.Errorf("%w: auth status %x", errRefused, b)
		}
	}
	req := append([]byte{5, 1, 0, 3, byte(len(hash))}, hash...)
	if _, err := conn.Write(append(req, 0, 0)); err != nil {
		return err
	}
	rep := make([]byte, 5)
	if _, err := io.ReadFull(conn, rep); err != nil {
		return err
	}
	if rep[1] != 0 {
		return fmt.Errorf("%w: reply %d", errRefused, rep[1])
	}
	rest := make([]byte, int(rep[4])+2)
	if _, err := io.ReadFull(conn, rest); err != nil {
		return err
	}
	if !bytes.Equal(rest[:len(rest)-2], []byte(hash)) {
		return fmt.Errorf("reply names %q, want the hash", rest)
	}
	return nil
}

// activateIQ is XEP-0065 §6.3.5 Example 24.
func activateIQ(sid, target string) string {
	return "<iq type='set' id='act' to='" + service + "'><query xmlns='" + bytestreams.NS + "' sid='" + sid + "'><activate>" + target + "</activate></query></iq>"
}

// pair connects target then requester for sid and activates: the two
// relayed connections.
func (f *fixture) pair(t testing.TB, requester, target *mt.Session, sid string) (req, tgt net.Conn) {
	t.Helper()
	addr := f.addr(t, requester)
	hash := bytestreams.StreamHash(sid, requester.JID.String(), target.JID.String())
	tgt, err := f.dial(addr, credentials(t, target), hash)
	if err != nil {
		t.Fatalf("target connects: %v", err)
	}
	req, err = f.dial(addr, credentials(t, requester), hash)
	if err != nil {
		tgt.Close()
		t.Fatalf("requester connects: %v", err)
	}
	if r := requester.Reply(activateIQ(sid, target.JID.String())); r.Attr("type") != "result" {
		req.Close()
		tgt.Close()
		t.Fatalf("activate: %s", r)
	}
	return req, tgt
}

func errText(el *xml.Element) string {
	if e := el.Child("", "error"); e != nil {
		return e.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text")
	}
	return ""
}
