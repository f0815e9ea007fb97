package s2s

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// errPeerClosed: the peer ended the stream or sent a stream error.
var errPeerClosed = errors.New("the peer closed the stream")

// run drives the connection until it ends, then closes it.
func (c *conn) run() {
	err := c.serve()
	s := c.svc
	sent := err // what we tell the peer; err stays the cause for our senders
	if isTimeout(err) && !c.authenticated() {
		// Counted and logged like any stream error.
		limit := s.cfg.AuthTimeout.String() + " (limits.auth_timeout)"
		if c.out {
			limit = s.cfg.ConnectTimeout.String() + " (s2s.connect_timeout)"
		}
		sent = stream.NewError("connection-timeout", "no authentication within "+limit)
		if !c.out && c.needHeader {
			// RFC 6120 §4.9.1.1: our header comes before the error, even
			// when the peer never sent its own.
			c.mu.Lock()
			if c.local == "" {
				c.local = s.r.Hosts()[0]
			}
			c.mu.Unlock()
			_ = c.emitHeader(newID())
		}
	}
	var se *stream.Error
	switch {
	case errors.As(sent, &se):
		if m := s.cfg.Metrics.StreamError; m != nil {
			m(se.Condition)
		}
		s.log.Info("stream error sent", "dir", c.dir(), "local", c.local, "remote", c.remote, "condition", se.Condition, "text", se.Text)
		c.close(se)
	default:
		if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !errors.Is(err, xml.ErrStreamEnd) && !errors.Is(err, errPeerClosed) {
			s.log.Debug("stream ended", "dir", c.dir(), "local", c.local, "remote", c.remote, "err", err)
		}
		c.close(nil)
	}
	if err == nil || errors.Is(err, xml.ErrStreamEnd) {
		err = errPeerClosed
	}
	c.markReady(err)
	c.mu.Lock()
	asked := c.asked
	c.asked = map[pair]func(error){}
	c.mu.Unlock()
	for _, fn := range asked {
		fn(err)
	}
	c.output.WaitFlushed(2 * time.Second)
	c.raw.Close()
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// serve negotiates and then reads elements; it returns what ended it.
func (c *conn) serve() error {
	if c.direct {
		if err := c.handshake(); err != nil {
			return err
		}
	}
	if c.out {
		if err := c.emitHeader(""); err != nil {
			return err
		}
	}
	for {
		if c.needHeader {
			if err := c.readHeader(); err != nil {
				return err
			}
			continue
		}
		el, err := c.dec.ReadElement()
		if err != nil {
			if se := stream.FromXML(err); se != nil {
				return se
			}
			return err
		}
		c.touch()
		if err := c.handle(el); err != nil {
			return err
		}
	}
}

// handshake runs TLS: as client for outbound streams (our certificate for
// the local domain, the peer verified by VerifyPeer), as server otherwise.
func (c *conn) handshake() error {
	s := c.svc
	var tc *tls.Conn
	if c.out {
		cfg := &tls.Config{
			MinVersion: tls.VersionTLS12,
			ServerName: asciiDomain(c.remote),
			// crypto/tls would check the name against the dialled host,
			// which may be an SRV target: VerifyPeer checks the domain.
			InsecureSkipVerify: true, //nolint:gosec // verified below
			GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				if s.cfg.Certificate != nil {
					if cert, ok := s.cfg.Certificate(c.local); ok {
						return cert, nil
					}
				}
				return &tls.Certificate{}, nil
			},
		}
		if c.direct {
			cfg.NextProtos = []string{"xmpp-server"}
		}
		tc = tls.Client(c.raw, cfg)
	} else {
		if s.cfg.ServerTLS == nil {
			return stream.NewError("internal-server-error", "TLS is not configured")
		}
		tc = tls.Server(c.raw, c.inboundTLS())
	}
	dl := time.Now().Add(s.cfg.ConnectTimeout)
	if n := c.rd.deadline.Load(); n != 0 && time.Unix(0, n).Before(dl) {
		dl = time.Unix(0, n)
	}
	_ = tc.SetDeadline(dl)
	if err := tc.Handshake(); err != nil {
		return err
	}
	_ = tc.SetWriteDeadline(time.Time{})
	cs := tc.ConnectionState()
	c.mu.Lock()
	c.peerCerts = cs.PeerCertificates
	c.mu.Unlock()
	if c.out && s.isDirect(c.local) {
		// InsecureSkipVerify above is replaced by the trust check of the
		// local domain's circles, before anything is sent over TLS.
		c.upgrade(tc)
		if err := c.directVerify(c.local, c.remote); err != nil {
			c.certErr = err
			// A stream error needs our header first (RFC 6120 §4.9.1.1).
			_ = c.emitHeader("")
			return stream.NewError("policy-violation", err.Error())
		}
		return nil
	}
	if c.out {
		c.certErr = VerifyPeer(cs.PeerCertificates, c.remote, s.cfg.Roots, s.cfg.Now())
	}
	c.upgrade(tc)
	return nil
}

// readHeader reads the peer's stream header (RFC 6120 §4.7) and, on an
// inbound stream, answers with ours and the features.
func (c *conn) readHeader() error {
	s := c.svc
	root, err := c.dec.ReadHeader()
	c.needHeader = false
	if c.out {
		if err != nil {
			if se := stream.FromXML(err); se != nil {
				return se
			}
			return err
		}
		h, serr := stream.ParseHeader(root, c.dec.DefaultNS(), xml.NSServer)
		if serr != nil {
			return serr
		}
		if h.ID == "" {
			return stream.NewError("invalid-id", "the stream header has no id")
		}
		c.mu.Lock()
		c.id = h.ID
		c.mu.Unlock()
		return nil
	}
	id := newID()
	if err != nil {
		if se := stream.FromXML(err); se != nil {
			_ = c.emitHeader(id)
			return se
		}
		c.needHeader = true // ours is still owed (run sends it before a time-out error)
		return err
	}
	h, serr := stream.ParseHeader(root, c.dec.DefaultNS(), xml.NSServer)
	to, from := domainOf(h.To), domainOf(h.From)
	c.mu.Lock()
	switch {
	case serr != nil:
	case to == "" || !s.r.Serves(to):
		serr = stream.NewError("host-unknown", "this server does not serve "+h.To)
	case c.local != "" && to != c.local:
		serr = stream.NewError("host-unknown", "the domain changed during negotiation")
	case h.From != "" && from == "":
		serr = stream.NewError("invalid-from", "the 'from' of the header is not a domain")
	}
	if serr == nil {
		c.local = to
		if from != "" && c.remote == "" {
			c.remote = from
		}
	}
	c.id = id
	c.mu.Unlock()
	if serr != nil {
		if c.local == "" {
			c.local = s.r.Hosts()[0]
		}
		_ = c.emitHeader(id)
		return serr
	}
	if err := c.emitHeader(id); err != nil {
		return err
	}
	return c.emitEl(c.features())
}

func domainOf(s string) string {
	if s == "" {
		return ""
	}
	j, err := jid.Parse(s)
	if err != nil || !j.IsDomain() {
		return ""
	}
	return j.Domain()
}

// features lists what this stage of an inbound stream offers.
func (c *conn) features() *xml.Element {
	s := c.svc
	f := xml.New(xml.NSStream, "features")
	c.mu.Lock()
	up, remote := c.tlsUp, c.remote
	c.mu.Unlock()
	switch {
	case !up:
		f.Append(xml.New(stream.NSTLS, "starttls").Append(xml.New(stream.NSTLS, "required")))
	case !c.saslDone && s.isDirect(c.local):
		// TIM+: SASL EXTERNAL only; the trust check runs on <auth/>.
		f.Append(xml.New(stream.NSSASL, "mechanisms").Append(xml.New(stream.NSSASL, "mechanism").SetText("EXTERNAL")))
	case !c.saslDone:
		if remote != "" && c.certFor(remote) == nil {
			f.Append(xml.New(stream.NSSASL, "mechanisms").Append(xml.New(stream.NSSASL, "mechanism").SetText("EXTERNAL")))
		}
		if s.cfg.Dialback {
			f.Append(xml.New(NSDialbackFeature, "dialback").Append(xml.New(NSDialbackFeature, "errors")))
		}
		f.Append(xml.New(NSBidiFeature, "bidi"))
	}
	if up {
		// XEP-0478: what this side accepts, so a peer can refuse an
		// oversized stanza itself instead of losing the stream to it.
		lim := xml.New(stream.NSLimits, "limits").Append(
			xml.New(stream.NSLimits, "max-bytes").SetText(strconv.Itoa(s.cfg.Limits.MaxStanzaBytes)))
		if s.cfg.IdleTimeout > 0 {
			lim.Append(xml.New(stream.NSLimits, "idle-seconds").SetText(strconv.Itoa(int(s.cfg.IdleTimeout / time.Second))))
		}
		f.Append(lim)
	}
	return f
}

// certFor checks the peer's certificate for domain, once per domain.
func (c *conn) certFor(domain string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err, ok := c.certCache[domain]; ok {
		return err
	}
	err := VerifyPeer(c.peerCerts, domain, c.svc.cfg.Roots, c.svc.cfg.Now())
	if len(c.certCache) < maxCertCache {
		c.certCache[domain] = err
	}
	return err
}

// handle processes one top-level element.
func (c *conn) handle(el *xml.Element) error {
	switch {
	case el.Space == xml.NSStream && el.Name == "error":
		return errPeerClosed
	case el.Space == xml.NSStream && el.Name == "features" && c.out:
		return c.outFeatures(el)
	case el.Space == stream.NSTLS:
		return c.startTLS(el)
	case !c.tlsReady():
		return stream.NewError("policy-violation", "this server requires STARTTLS before anything else")
	case el.Space == stream.NSSASL:
		if c.out {
			return c.saslAnswer(el)
		}
		return c.saslExternal(el)
	case el.Space == NSBidi && el.Name == "bidi" && !c.out:
		// XEP-0288 §2.2: before authentication, never after.
		if c.saslDone || c.authenticated() {
			return stream.NewError("policy-violation", "<bidi/> must come before authentication")
		}
		if c.svc.isDirect(c.local) {
			return nil // not offered to Direct peers: each side opens its own stream
		}
		c.mu.Lock()
		c.bidi = true
		c.mu.Unlock()
		return nil
	case el.Space == NSDialback && el.Name == "result":
		if el.Attr("type") == "" {
			return c.dialbackRequest(el)
		}
		return c.dialbackAnswer(el)
	case el.Space == NSDialback && el.Name == "verify":
		if el.Attr("type") == "" {
			return c.verifyRequest(el)
		}
		if c.out {
			c.svc.verifyAnswer(c, el)
			return nil
		}
		return stream.NewError("unsupported-stanza-type", "a dialback verification answer on a stream we did not open")
	case el.Space == xml.NSServer && (el.Name == "message" || el.Name == "presence" || el.Name == "iq"):
		return c.stanza(el)
	}
	return stream.NewError("unsupported-stanza-type", "<"+el.Name+"> in "+el.Space+" is not supported here")
}

// startTLS runs STARTTLS (RFC 6120 §5.4): <starttls/> inbound,
// <proceed/> or <failure/> outbound.
func (c *conn) startTLS(el *xml.Element) error {
	if c.tlsReady() {
		return stream.NewError("policy-violation", "TLS is already in place")
	}
	switch {
	case !c.out && el.Name == "starttls":
		if c.dec.BufferedAfterSpace() > 0 {
			return stream.NewError("policy-violation", "data pipelined after <starttls/> before the TLS handshake")
		}
		if err := c.emitEl(xml.New(stream.NSTLS, "proceed")); err != nil {
			return err
		}
	case c.out && el.Name == "proceed":
	case c.out && el.Name == "failure":
		return errors.New("the peer refused STARTTLS")
	default:
		return stream.NewError("unsupported-stanza-type", "<"+el.Name+"> is not a STARTTLS element here")
	}
	if err := c.handshake(); err != nil {
		return err
	}
	c.dec.Reset(c.rd)
	c.needHeader = true
	if c.out {
		return c.emitHeader("")
	}
	return nil
}
