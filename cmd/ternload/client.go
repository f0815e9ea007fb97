package main

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces the client needs (RFC 6120, RFC 6121, XEP-0077, XEP-0199).
const (
	nsTLS      = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL     = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind     = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession  = "urn:ietf:params:xml:ns:xmpp-session"
	nsStanzas  = "urn:ietf:params:xml:ns:xmpp-stanzas"
	nsRoster   = "jabber:iq:roster"
	nsRegister = "jabber:iq:register"
	nsFeatReg  = "http://jabber.org/features/iq-register"
	nsPing     = "urn:xmpp:ping"
)

// dialer holds what every connection of a run shares: server address,
// domain, TLS settings and the source addresses to spread connections over.
type dialer struct {
	server  string
	domain  string
	sources *sourcePool
	timeout time.Duration // per step (connect, one read)
	tlsConf *tls.Config
	trace   bool
}

func newDialer(g *globalFlags) (*dialer, error) {
	sp, err := parseSources(g.sources)
	if err != nil {
		return nil, err
	}
	return &dialer{
		server:  g.server,
		domain:  g.domain,
		sources: sp,
		timeout: g.timeout,
		// Self-signed bench certs; ServerName = domain as a client would.
		// X25519 only: Go would otherwise offer X25519MLKEM768, which only
		// tern (Go) accepts, making its handshakes costlier than the peers'.
		tlsConf: &tls.Config{
			ServerName:         g.domain,
			InsecureSkipVerify: true, //nolint:gosec // loopback benchmark against self-signed certs
			CurvePreferences:   []tls.CurveID{tls.X25519},
			ClientSessionCache: nil, // every login is a full handshake
		},
	}, nil
}

// conn is one client-to-server stream. It is used by one goroutine, except
// that write may be called while another goroutine reads.
type conn struct {
	d      *dialer
	nc     net.Conn  // TCP, then the *tls.Conn
	r      io.Reader // what the decoder reads: TCP, then TLS
	dec    *xml.Decoder
	feats  *xml.Element
	jid    string // full JID after bind
	mech   string // SASL mechanism used
	idSeq  atomic.Uint64
	wbuf   []byte
	closed atomic.Bool
	steps  []step // with -trace: time of each login step
	sm     bool   // XEP-0198 enabled (-sm)
	smH    uint32 // stanzas the reader handled since, for <a h/>
}

// step is one timed phase of a login (-trace).
type step struct {
	name string
	at   time.Time
}

func (c *conn) mark(name string) {
	if c.d.trace {
		c.steps = append(c.steps, step{name, time.Now()})
	}
}

// traceLine formats the steps as "name=ms ..." from t0.
func (c *conn) traceLine(t0 time.Time) string {
	var b strings.Builder
	prev := t0
	for _, s := range c.steps {
		fmt.Fprintf(&b, "%s=%.1fms ", s.name, float64(s.at.Sub(prev))/1e6)
		prev = s.at
	}
	return b.String()
}

// dial connects and negotiates STARTTLS, leaving the TLS stream's features
// in c.feats (RFC 6120 §5).
func (d *dialer) dial(ctx context.Context) (*conn, error) {
	nd := net.Dialer{Timeout: d.timeout, LocalAddr: d.sources.next()}
	nc, err := nd.DialContext(ctx, "tcp", d.server)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w (is the server running? raise ulimit -n / use more -sources?)", d.server, err)
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	c := &conn{d: d, nc: nc}
	c.mark("tcp")
	c.r = nc
	c.dec = xml.NewDecoder(nc, xml.DefaultLimits)
	if err := c.openStream(); err != nil {
		c.Close()
		return nil, err
	}
	c.mark("stream")
	if c.feats.Child(nsTLS, "starttls") == nil {
		c.Close()
		return nil, errors.New("server offers no STARTTLS: enable TLS in its config")
	}
	if err := c.writeString("<starttls xmlns='" + nsTLS + "'/>"); err != nil {
		c.Close()
		return nil, err
	}
	el, err := c.read()
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("starttls: %w", err)
	}
	if el.Name != "proceed" {
		c.Close()
		return nil, fmt.Errorf("starttls refused: <%s/>", el.Name)
	}
	if c.dec.Buffered() != 0 {
		c.Close()
		return nil, errors.New("server sent data after <proceed/>")
	}
	c.mark("proceed")
	tc := tls.Client(nc, d.tlsConf)
	_ = tc.SetDeadline(time.Now().Add(d.timeout))
	if err := tc.HandshakeContext(ctx); err != nil {
		c.Close()
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	_ = tc.SetDeadline(time.Time{})
	c.mark("tls")
	c.nc, c.r = tc, tc
	if err := c.restart(); err != nil {
		c.Close()
		return nil, err
	}
	c.mark("stream")
	return c, nil
}

// openStream sends a stream header and reads the server's header and
// features (RFC 6120 §4.2, §4.3.2).
func (c *conn) openStream() error {
	if err := c.writeString("<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
		"xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to='" + c.d.domain + "'>"); err != nil {
		return err
	}
	c.setReadDeadline()
	h, err := c.dec.ReadHeader()
	if err != nil {
		return fmt.Errorf("read stream header: %w", err)
	}
	if h.Name != "stream" {
		return fmt.Errorf("unexpected root <%s>", h.Name)
	}
	f, err := c.read()
	if err != nil {
		return fmt.Errorf("read features: %w", err)
	}
	if f.Name != "features" {
		return fmt.Errorf("expected <stream:features>, got <%s>", f.Name)
	}
	c.feats = f
	return nil
}

// restart begins a new stream on the same connection (after TLS or SASL).
func (c *conn) restart() error {
	c.dec.Reset(c.r)
	return c.openStream()
}

func (c *conn) setReadDeadline() {
	if c.d.timeout > 0 {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.d.timeout))
	}
}

// read returns the next top-level element within the step timeout.
func (c *conn) read() (*xml.Element, error) {
	c.setReadDeadline()
	el, err := c.dec.ReadElement()
	if err != nil {
		return nil, err
	}
	if el.Name == "error" && el.Space == xml.NSStream {
		return nil, fmt.Errorf("stream error: %s", condition(el))
	}
	return el, nil
}

// readNoDeadline reads without a deadline (long-lived receivers).
func (c *conn) readNoDeadline() (*xml.Element, error) {
	_ = c.nc.SetReadDeadline(time.Time{})
	return c.dec.ReadElement()
}

func (c *conn) writeString(s string) error {
	_, err := io.WriteString(c.nc, s)
	return err
}

func (c *conn) write(b []byte) error {
	_, err := c.nc.Write(b)
	return err
}

// Close ends the stream politely and closes the socket.
func (c *conn) Close() {
	if c.closed.Swap(true) {
		return
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = io.WriteString(c.nc, "</stream:stream>")
	_ = c.nc.Close()
}

func (c *conn) nextID() string { return "t" + strconv.FormatUint(c.idSeq.Add(1), 36) }

// iq sends an IQ with the given inner XML and waits for its result,
// skipping anything else that arrives meanwhile (presence, pushes).
func (c *conn) iq(typ, to, inner string) (*xml.Element, error) {
	id := c.nextID()
	s := "<iq type='" + typ + "' id='" + id + "'"
	if to != "" {
		s += " to='" + to + "'"
	}
	if err := c.writeString(s + ">" + inner + "</iq>"); err != nil {
		return nil, err
	}
	for {
		el, err := c.read()
		if err != nil {
			return nil, err
		}
		if el.Name != "iq" || el.Attr("id") != id {
			continue
		}
		if el.Attr("type") == "error" {
			return el, &stanzaError{cond: condition(el.Child("", "error")), typ: errType(el)}
		}
		return el, nil
	}
}

// stanzaError is an <error/> reply (RFC 6120 §8.3).
type stanzaError struct{ cond, typ string }

func (e *stanzaError) Error() string { return "stanza error " + e.typ + "/" + e.cond }

func errType(el *xml.Element) string {
	if e := el.Child("", "error"); e != nil {
		return e.Attr("type")
	}
	return ""
}

// condition returns the defined-condition name inside an error element.
func condition(el *xml.Element) string {
	if el == nil {
		return "unknown"
	}
	for _, ch := range el.Elements() {
		if ch.Name != "text" {
			return ch.Name
		}
	}
	return "unknown"
}

// bind binds a resource (RFC 6120 §7) and, where a server still lists it
// as required, starts the legacy session (RFC 3921 §3).
func (c *conn) bind(resource string) error {
	if c.feats.Child(nsBind, "bind") == nil {
		return errors.New("server offers no resource binding after SASL")
	}
	inner := "<bind xmlns='" + nsBind + "'/>"
	if resource != "" {
		inner = "<bind xmlns='" + nsBind + "'><resource>" + resource + "</resource></bind>"
	}
	res, err := c.iq("set", "", inner)
	if err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	c.jid = res.Child(nsBind, "bind").ChildText(nsBind, "jid")
	if s := c.feats.Child(nsSession, "session"); s != nil && s.Child(nsSession, "optional") == nil {
		if _, err := c.iq("set", "", "<session xmlns='"+nsSession+"'/>"); err != nil {
			return fmt.Errorf("session: %w", err)
		}
	}
	return nil
}

// online sends initial presence and fetches the roster, as a client does
// right after login (RFC 6121 §2.2, §4.2).
func (c *conn) online() error {
	if _, err := c.iq("get", "", "<query xmlns='"+nsRoster+"'/>"); err != nil {
		return fmt.Errorf("roster get: %w", err)
	}
	return c.writeString("<presence/>")
}

// login authenticates with SASL (see auth.go) and binds.
func (c *conn) login(a *authCache, user, pass, resource string) error {
	if err := c.auth(a, user, pass); err != nil {
		return err
	}
	c.mark("sasl")
	if err := c.restart(); err != nil {
		return err
	}
	c.mark("stream")
	err := c.bind(resource)
	c.mark("bind")
	return err
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// escapeText escapes s for XML character data and attribute values.
func escapeText(s string) string { return textEscaper.Replace(s) }

var textEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", "'", "&apos;", "\"", "&quot;")
