package s2s

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces of server streams.
const (
	NSDialback        = "jabber:server:dialback"
	NSDialbackFeature = "urn:xmpp:features:dialback"
	NSBidi            = "urn:xmpp:bidi"
	NSBidiFeature     = "urn:xmpp:features:bidi"
)

const (
	maxOutQueue = 8 << 20 // bytes queued for a peer that does not read

	// Per-stream limits on what a peer can make us do.
	maxPendingChecks = 4  // dialback verifications under way for one stream
	maxCertCache     = 16 // domains whose certificate check a stream remembers
	maxRefused       = 8  // dialback requests refused before the stream closes
)

// pair is a domain pair of XEP-0220 §2.5: one of ours and one of the peer's.
type pair struct{ local, remote string }

// conn is one s2s stream, inbound or outbound. One goroutine reads (run);
// writes go through a stream.Output, as in c2s.
type conn struct {
	svc    *Service
	raw    net.Conn
	out    bool   // we initiated it
	ip     string // inbound: the remote address, counted in Service.perIP
	direct bool   // XEP-0368: TLS from the first byte

	// Owned by the reading goroutine.
	dec        *xml.Decoder
	rd         *deadlineReader
	needHeader bool
	state      int
	saslSent   bool // outbound: our <auth/> awaits <success/> or <failure/>
	saslDone   bool
	certErr    error // outbound: the peer's certificate against remote

	refused atomic.Int32 // dialback requests answered type=error or invalid
	lanes   router.Lanes // inbound stanzas held by hooks (router.FromRemote)

	// Set during negotiation, read by others under mu.
	mu        sync.Mutex
	tlsUp     bool
	id        string // stream ID of the receiving side (ours if inbound)
	local     string // our domain in the headers
	remote    string // the peer's domain in the headers
	peerCerts []*x509.Certificate
	bidi      bool
	recvOK    map[pair]bool        // pairs the peer may send stanzas on
	sendOK    map[pair]bool        // pairs we may send stanzas on
	asked     map[pair]func(error) // dialback requests we sent, awaiting <db:result type=.../>
	certCache map[string]error     // inbound: VerifyPeer per claimed domain (at most maxCertCache)
	directRes map[string]error     // Direct trust check per peer domain (direct.go)
	untrack   []func()             // Direct pairs tracked for re-validation
	checks    int                  // inbound: dialback verifications under way
	ready     chan struct{}        // closed when the first pair is authenticated (outbound)
	readyErr  error                // why negotiation failed
	readyOnce sync.Once
	lastUsed  atomic.Int64 // unix nanos of the last read or write
	stateName atomic.Value // metrics: "negotiating" | "established"

	output stream.Output
}

var outputConfig = stream.OutputConfig{NS: xml.NSServer, Framing: framing{}, MaxQueued: maxOutQueue}

// framing is TCP's, with dialback elements prefixed (see appendEl).
type framing struct{ stream.TCP }

func (framing) AppendElement(dst []byte, el *xml.Element, parent string) []byte {
	if el.Space == NSDialback {
		return appendEl(dst, el)
	}
	return xml.Append(dst, el, parent)
}

func newConn(s *Service, raw net.Conn, out, direct bool) *conn {
	c := &conn{svc: s, raw: raw, out: out, direct: direct,
		recvOK: map[pair]bool{}, sendOK: map[pair]bool{}, asked: map[pair]func(error){},
		certCache: map[string]error{}, directRes: map[string]error{}, ready: make(chan struct{}), needHeader: true}
	c.rd = &deadlineReader{}
	c.rd.conn.Store(&connBox{raw})
	c.rd.setDeadline(time.Now().Add(s.cfg.ConnectTimeout))
	c.dec = xml.NewDecoder(c.rd, s.preAuth)
	c.output.Init(&outputConfig, raw, raw, nil)
	c.touch()
	return c
}

func (c *conn) touch() { c.lastUsed.Store(time.Now().UnixNano()) }

func (c *conn) dir() string {
	if c.out {
		return "out"
	}
	return "in"
}

func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// emitHeader sends our stream header for this connection, as emitEl.
func (c *conn) emitHeader(id string) error {
	h := stream.Header{NS: xml.NSServer, Version: "1.0", ID: id,
		Extra: []xml.Attr{{Name: "xmlns:db", Value: NSDialback}}}
	h.From, h.To = c.local, c.remote
	c.touch()
	if c.tlsReady() {
		c.output.AppendHeader(&h)
		return nil
	}
	return c.output.WriteHeaderNow(&h)
}

// emitEl writes negotiation output from the reading goroutine: directly
// before TLS, when nothing else can write (the TLS switch must not race a
// flusher), queued after.
func (c *conn) emitEl(el *xml.Element) error {
	c.touch()
	if c.tlsReady() {
		c.output.Append(el, xml.NSServer)
		return nil
	}
	return c.output.WriteNow(el, xml.NSServer)
}

// appendEl serializes a top-level element for an s2s stream. Dialback
// elements are written with the db: prefix the stream header declares:
// ejabberd 23.01 ignores an unprefixed <result xmlns='jabber:server:dialback'/>
// (XEP-0220's examples all use db:).
func appendEl(buf []byte, el *xml.Element) []byte {
	if el.Space != NSDialback {
		return xml.Append(buf, el, xml.NSServer)
	}
	// Dialback elements carry attributes and text (and, in a failed
	// result, an <error/> child), so a flat writer is enough.
	buf = append(buf, "<db:"...)
	buf = append(buf, el.Name...)
	for _, a := range el.Attrs {
		if a.Space != "" {
			continue
		}
		buf = append(buf, ' ')
		buf = append(buf, a.Name...)
		buf = append(buf, `="`...)
		buf = appendEscaped(buf, a.Value)
		buf = append(buf, '"')
	}
	text := el.Text()
	if text == "" && len(el.Elements()) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	buf = appendEscaped(buf, text)
	for _, c := range el.Elements() { // <error/> inside a failed result
		buf = xml.Append(buf, c, xml.NSServer) // unprefixed children are in the stream's default namespace
	}
	buf = append(buf, "</db:"...)
	buf = append(buf, el.Name...)
	return append(buf, '>')
}

func appendEscaped(buf []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '&':
			buf = append(buf, "&amp;"...)
		case '<':
			buf = append(buf, "&lt;"...)
		case '>':
			buf = append(buf, "&gt;"...)
		case '"':
			buf = append(buf, "&quot;"...)
		case '\'':
			buf = append(buf, "&apos;"...)
		default:
			buf = append(buf, c)
		}
	}
	return buf
}

func (c *conn) tlsReady() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tlsUp
}

type connBox struct{ net.Conn }

// deadlineReader reads with a deadline that another goroutine may lift
// (dialback completes on a verification goroutine).
type deadlineReader struct {
	conn     atomic.Pointer[connBox]
	deadline atomic.Int64 // unix nanos; 0: none
}

func (r *deadlineReader) setDeadline(t time.Time) {
	if t.IsZero() {
		r.deadline.Store(0)
	} else {
		r.deadline.Store(t.UnixNano())
	}
	if b := r.conn.Load(); b != nil {
		_ = b.SetReadDeadline(t)
	}
}

func (r *deadlineReader) Read(p []byte) (int, error) {
	b := r.conn.Load()
	var dl time.Time
	if n := r.deadline.Load(); n != 0 {
		dl = time.Unix(0, n)
	}
	_ = b.SetReadDeadline(dl)
	return b.Read(p)
}

// send queues an element; it never blocks on the network. A peer that
// does not read gets <policy-violation/> once the queue is full.
func (c *conn) send(el *xml.Element) bool {
	// A jabber:client stanza from a local user is written relative to its
	// own namespace, which makes it one of the stream's default,
	// jabber:server; everything else relative to jabber:server.
	parent := xml.NSServer
	if el.Space == xml.NSClient || el.Space == "" {
		parent = el.Space
	}
	c.touch()
	return c.output.Send(el, parent)
}

// close ends the stream: an optional stream error, the closing tag, then
// the connection once they are written.
func (c *conn) close(err *stream.Error) { c.output.Close(err) }

func (c *conn) isClosing() bool { return c.output.Closing() }

// upgrade swaps the connection for its TLS form.
func (c *conn) upgrade(tc *tls.Conn) {
	c.output.SetConn(tc, c.raw)
	c.mu.Lock()
	c.tlsUp = true
	c.mu.Unlock()
	c.rd.conn.Store(&connBox{tc})
}

// canSend reports whether p is authenticated for our stanzas on c.
func (c *conn) canSend(p pair) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.sendOK[p]
}

// authenticated reports whether any pair is authenticated either way.
func (c *conn) authenticated() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.recvOK) > 0 || len(c.sendOK) > 0
}

// markReady ends the wait of the dialing goroutine, once.
func (c *conn) markReady(err error) {
	c.readyOnce.Do(func() {
		c.mu.Lock()
		c.readyErr = err
		c.mu.Unlock()
		close(c.ready)
	})
}
