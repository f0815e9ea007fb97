package c2s

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	maxOutQueue  = 4 << 20 // bytes queued for a client that does not read: then it is cut off
	writeTimeout = 30 * time.Second
	maxAuthTries = 3 // failed SASL attempts per connection
	// Refused negotiations per connection (not password guesses): slixmpp
	// 1.8 makes six before PLAIN; this only bounds a loop.
	maxNegotiationTries = 10
)

// Session is one client connection.
type Session struct {
	srv    *Server
	conn   net.Conn // the TLS conn once upgraded
	raw    net.Conn
	ip     string
	dec    *xml.Decoder
	rd     *stream.Reader
	tls    *tls.ConnectionState
	served *x509.Certificate
	direct bool

	domain    string
	streamID  string
	user      string // authenticated localpart
	res       *router.Resource
	jid       jid.JID
	pingID    string
	one       [1]byte // first byte read while deciding whether to park
	parkSt    atomic.Int32
	timer     *time.Timer // idle keepalive while parked
	pinged    bool        // a keepalive ping is outstanding while parked
	pmu       sync.Mutex  // pingID, pinged: the parked timer runs concurrently
	pfd       int32       // file descriptor registered with the poller
	authTries int
	negTries  int // refused SASL negotiations (no password checked)
	sm        smState
	hib       bool        // hibernating for resumption (out's lock)
	hibTimer  *time.Timer // ends an unresumed hibernation
	gen       int         // connection generation, bumped on resumption (out's lock)
	gone      atomic.Bool // the connection's close was counted

	// out is the output; its lock also guards sm, hib, gen and the
	// swaps of conn and raw. Detached: the connection failed and the
	// session waits for a resumption; output is only counted.
	out stream.Output
}

func newSession(s *Server, c net.Conn, ip string, direct bool) *Session {
	sess := &Session{srv: s, raw: c, conn: c, ip: ip, direct: direct}
	if direct {
		sess.conn = tls.Server(c, s.cfg.TLS)
	}
	sess.out.Init(&outputConfig, sess.conn, c, (*outEvents)(sess))
	sess.oweHeader()
	sess.rd = &stream.Reader{Conn: sess.conn, R: sess.conn, Deadline: time.Now().Add(s.cfg.AuthTimeout)}
	sess.dec = xml.NewDecoder(sess.rd, s.cfg.PreAuthLimits)
	s.track(sess)
	return sess
}

// RemoteAddr implements router.Session.
func (s *Session) RemoteAddr() string { return s.raw.RemoteAddr().String() }

func (s *Session) log() []any {
	a := []any{"ip", s.ip}
	if !s.jid.IsZero() {
		a = append(a, "jid", s.jid.String())
	} else if s.domain != "" {
		a = append(a, "domain", s.domain)
	}
	return a
}

// run drives the connection: negotiation, then the stanza loop, which may
// park an idle session (no goroutine while it waits) and resume on data.
func (s *Session) run() {
	if m := s.srv.cfg.Metrics.SessionOpened; m != nil {
		m()
	}
	if err := s.serve(s.srv.ctx); err != nil {
		if errors.Is(err, errAdopted) {
			return // a resumed session carries on with this connection
		}
		s.finish(err)
		return
	}
	s.loop()
}

// finish ends the session after the error that stopped it.
func (s *Session) finish(err error) {
	ctx := s.srv.ctx
	if s.hibernate(err) {
		return // resumable (XEP-0198 §5): ends later, or never
	}
	s.srv.forgetResumable(s)
	if s.res != nil {
		// Unbind first: while bound, stanzas for this resource would be
		// queued on a closing session and lost instead of stored offline.
		s.srv.router.Unbind(ctx, s.res)
	}
	if stream.IsTimeout(err) && s.res == nil {
		// Counted and logged like any stream error: a client that never
		// finishes logging in is what an operator looks for.
		err = stream.NewError("connection-timeout", "no login within "+s.srv.cfg.AuthTimeout.String()+" (limits.auth_timeout)")
	}
	var se *stream.Error
	switch {
	case errors.As(err, &se):
		if m := s.srv.cfg.Metrics.StreamError; m != nil {
			m(se.Condition)
		}
		s.srv.log.Info("stream error sent", append(s.log(), "condition", se.Condition, "text", se.Text)...)
		s.Close(se)
	case err == nil || errors.Is(err, xml.ErrStreamEnd):
		s.Close(nil)
	default:
		if stream.IsTimeout(err) {
			s.Close(stream.NewError("connection-timeout", "no answer in time"))
		} else {
			if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) {
				s.srv.log.Debug("connection ended", append(s.log(), "err", err)...)
			}
			s.Close(nil)
		}
	}
	// XEP-0198: the session is unbound and closing, so nothing more is
	// queued; what the client never acknowledged is routed again.
	if u := s.takeUnacked(); len(u) > 0 {
		s.srv.log.Info("stanzas not acknowledged by the client are routed again (XEP-0198)", append(s.log(), "count", len(u))...)
		s.srv.router.Undelivered(ctx, s.jid, u)
		if m := s.srv.cfg.Metrics.Unacked; m != nil {
			m(len(u))
		}
	}
	s.waitFlushed()
	s.conn.Close()
	s.connGone()
	s.srv.release(s.ip, s)
}

// serve negotiates the stream then reads stanzas; it returns the error that ended it.
func (s *Session) serve(ctx context.Context) error {
	if s.direct {
		tc := s.conn.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(s.srv.cfg.AuthTimeout))
		if err := tc.HandshakeContext(ctx); err != nil {
			s.srv.log.Debug("TLS handshake failed", append(s.log(), "err", err)...)
			return err
		}
		_ = tc.SetDeadline(time.Time{})
		cs := tc.ConnectionState()
		s.tls = &cs
		s.served = s.srv.servedCert(cs.ServerName)
	}
	for {
		restart, err := s.negotiate(ctx)
		if err != nil {
			return err
		}
		if !restart {
			return nil
		}
	}
}

func newID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// openStream reads the client's header and answers with ours. Errors in the
// header are sent after our header (RFC 6120 §4.9.1.2). Our 'from' is a
// domain we serve, never one the client chose that we do not.
func (s *Session) openStream() error {
	s.oweHeader()
	root, err := s.dec.ReadHeader()
	s.streamID = newID()
	hdr := stream.Header{NS: xml.NSClient, ID: s.streamID, Version: "1.0", Lang: "en", From: s.defaultDomain()}
	if err != nil {
		if se := stream.FromXML(err); se != nil {
			s.writeHeader(hdr)
			return se
		}
		return err
	}
	h, serr := stream.ParseHeader(root, s.dec.DefaultNS(), xml.NSClient)
	to := h.To
	if to == "" {
		to = s.defaultDomain()
	}
	if d, perr := jid.Parse(to); perr == nil && d.IsDomain() {
		to = d.Domain()
	}
	switch {
	case serr != nil:
	case s.domain != "" && to != s.domain:
		serr = stream.NewError("host-unknown", "the domain changed during negotiation")
	case !s.srv.router.IsLocal(to):
		serr = stream.NewError("host-unknown", "this server does not serve "+to)
	default:
		hdr.From = to
	}
	s.writeHeader(hdr)
	if serr != nil {
		return serr
	}
	s.domain = to
	return nil
}

// writeHeader sends our stream header; a later stream error is then sent
// without another.
func (s *Session) writeHeader(h stream.Header) { _ = s.out.WriteHeaderNow(&h) }

func (s *Session) defaultDomain() string {
	if s.domain != "" {
		return s.domain
	}
	if len(s.srv.cfg.Domains) > 0 {
		return s.srv.cfg.Domains[0]
	}
	return "localhost"
}

// readElement reads the next top-level element, mapping XML violations to
// stream errors.
func (s *Session) readElement() (*xml.Element, error) {
	el, err := s.dec.ReadElement()
	if err != nil {
		if se := stream.FromXML(err); se != nil {
			return nil, se
		}
		return nil, err
	}
	return el, nil
}

// loop reads stanzas once a resource is bound, until the session ends or
// parks. A session that has read nothing for parkAfter, with no partial
// stanza buffered, parks: its goroutine exits and a poller resumes it
// (in a new goroutine) when data arrives, so idle sessions cost no stack.
func (s *Session) loop() {
	ctx := s.srv.ctx
	for {
		if s.dec.Buffered() == 0 && s.srv.poller != nil {
			_ = s.conn.SetReadDeadline(time.Now().Add(parkAfter))
			n, err := s.conn.Read(s.one[:])
			switch {
			case n > 0 && isSpace(s.one[0]):
				continue // a whitespace keepalive: consumed, and the session may park
			case n > 0:
				s.rd.Pending = s.one[:n]
			case stream.IsTimeout(err):
				if s.out.Closing() {
					s.finish(nil)
					return
				}
				if s.park() {
					return
				}
			case err != nil:
				s.finish(err)
				return
			}
		}
		el, err := s.readElement()
		if err == nil {
			err = s.handle(ctx, el)
		}
		if err != nil {
			s.finish(err)
			return
		}
	}
}

// handle processes one top-level element from a bound client.
func (s *Session) handle(ctx context.Context, el *xml.Element) (err error) {
	defer func() {
		// A bug a stanza hits ends its session, not the server and every
		// other session with it.
		if p := recover(); p != nil {
			s.srv.log.Error("a stanza made the server fail: this session is closed, the others go on; please report it", "jid", s.jid.String(), "stanza", el.Name, "panic", p, "stack", string(debug.Stack()))
			err = stream.NewError("internal-server-error", "the server failed on this stanza")
		}
	}()
	if el.Space == stream.NSSM {
		return s.handleSM(el)
	}
	if el.Space != xml.NSClient {
		if fn := s.srv.router.Nonza(el.Space); fn != nil {
			fn(ctx, s.res, el)
			return nil
		}
		return stream.NewError("unsupported-stanza-type", "<"+el.Name+"> in "+el.Space+" is not supported")
	}
	switch el.Name {
	case stanza.Message, stanza.Presence, stanza.IQ:
	default:
		return stream.NewError("unsupported-stanza-type", "<"+el.Name+"> is not a stanza")
	}
	s.sm.inH++ // XEP-0198 §4: every stanza read counts, whatever becomes of it
	if m := s.srv.cfg.Metrics.StanzaIn; m != nil {
		m(el.Name)
	}
	// §8.1.2.1: a 'from' other than the client's own JID is spoofing.
	if f := el.Attr("from"); f != "" {
		fj, err := jid.Parse(f)
		if err != nil || !(fj.Equal(s.jid) || fj.Equal(s.jid.Bare())) {
			return stream.NewError("invalid-from", "the 'from' address is not yours")
		}
	}
	el.SetAttr("from", s.jid.String())
	st, serr := router.NewStanza(el)
	st.From = s.jid
	if serr != nil {
		s.replyError(st, serr)
		return nil
	}
	if !stanza.ValidType(st.Kind, st.Type) {
		s.replyError(st, stanza.ErrBadRequest.WithText("unknown type '"+st.Type+"' for <"+st.Kind+">"))
		return nil
	}
	if st.Kind == stanza.IQ {
		if st.ID == "" {
			s.replyError(st, stanza.ErrBadRequest.WithText("an iq needs an id"))
			return nil
		}
		if (st.Type == "result" || st.Type == "error") && s.isPong(st) {
			return nil // answer to our keepalive ping
		}
		if (st.Type == "get" || st.Type == "set") && len(el.Elements()) != 1 {
			s.replyError(st, stanza.ErrBadRequest.WithText("an iq get/set needs exactly one payload element"))
			return nil
		}
		if p := el.FirstElement(); st.Type == "set" && p != nil && p.Space == stream.NSSession && st.To.IsZero() {
			s.Send(stanza.Result(el, nil)) // RFC 3921 §3 session: a no-op kept for old clients
			return nil
		}
	}
	s.srv.router.FromClient(ctx, s.res, st)
	return nil
}

// replyError answers the client directly (its stanza never reached routing).
func (s *Session) replyError(st *router.Stanza, e *stanza.Error) {
	if el := stanza.ErrorReply(st.El, e); el != nil {
		el.SetAttr("to", s.jid.String())
		el.SetAttr("from", "")
		s.Send(el)
	}
}

// ping sends an XMPP ping (XEP-0199) after the idle time.
func (s *Session) ping() {
	s.pmu.Lock()
	s.pingID = "ping-" + newID()[:8]
	id := s.pingID
	s.pmu.Unlock()
	s.Send(xml.New(xml.NSClient, "iq", "from", s.domain, "to", s.jid.String(), "type", "get", "id", id).
		Append(xml.New("urn:xmpp:ping", "ping")))
}

// isPong reports (and forgets) the answer to our keepalive ping.
func (s *Session) isPong(st *router.Stanza) bool {
	s.pmu.Lock()
	defer s.pmu.Unlock()
	if s.pingID == "" || st.ID != s.pingID || !(st.To.IsZero() || st.To.String() == s.domain) {
		return false
	}
	s.pingID = ""
	return true
}

func isSpace(b byte) bool { return b == ' ' || b == '\n' || b == '\r' || b == '\t' }
