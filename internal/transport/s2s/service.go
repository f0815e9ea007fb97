package s2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"log/slog"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Config is what federation needs; the server package fills it from the
// configuration file.
type Config struct {
	// ServerTLS accepts peers (certs.S2STLSConfig: SNI certificates, ALPN
	// xmpp-server, client certificate requested, not verified by crypto/tls).
	ServerTLS *tls.Config
	// Certificate returns the certificate we present as domain when we connect.
	Certificate func(domain string) (*tls.Certificate, bool)
	// Roots verify peer certificates; nil means the system roots.
	Roots *x509.CertPool
	// Secret keys dialback (see DeriveSecret); at least 16 bytes.
	Secret []byte
	// Dialback enables XEP-0220 where certificates do not verify.
	Dialback bool
	// RequireValidCerts refuses dialback except for InsecureDomains.
	RequireValidCerts bool
	InsecureDomains   []string
	// Routes map a peer domain to host:port, bypassing DNS.
	Routes   map[string]string
	Resolver Resolver // nil: the system resolver
	// Dial opens TCP connections; nil uses net.Dialer.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)

	ConnectTimeout time.Duration // TCP + TLS + authentication, default 10s
	AuthTimeout    time.Duration // inbound: time to authenticate, default 30s
	IdleTimeout    time.Duration // close streams unused this long, default 10m
	QueueMax       int           // stanzas queued per domain pair while connecting, default 1000
	BackoffMin     time.Duration // first retry delay after a failure, default 1s
	BackoffMax     time.Duration // default 5m
	Limits         xml.Limits    // after authentication
	// ConnsPerIP bounds inbound streams from one address (0: no limit);
	// Trusted networks are exempt.
	ConnsPerIP int
	Trusted    ratelimit.Networks
	Metrics    Metrics
	Now        func() time.Time // certificate checks; nil: time.Now
	// Direct names the Direct trust domains and their trust checks
	// (direct.go); zero: no local domain is Direct.
	Direct DirectHooks
}

// Metrics are hooks the server package connects to Prometheus; nil
// funcs are skipped.
type Metrics struct {
	// Streams moves one stream of direction "in"/"out" from state from to
	// state to ("" for none): "negotiating", "established".
	Streams func(direction, from, to string)
	// Stanza counts a stanza to ("out") or from ("in") a peer domain.
	Stanza func(direction, domain string)
	// Bounce counts an error sent back to a local sender, by condition.
	Bounce func(condition string)
	// StreamError counts stream errors we sent, by condition.
	StreamError func(condition string)
}

// Service is federation: it accepts peer streams, dials peers on demand
// and implements router.Remote.
type Service struct {
	cfg     Config
	r       *router.Router
	log     *slog.Logger
	ctx     context.Context
	cancel  context.CancelFunc
	preAuth xml.Limits

	mu        sync.Mutex
	routes    map[pair]*route
	conns     map[*conn]struct{}
	perIP     map[string]int // inbound streams per remote address
	refuser   stream.Refuser // inbound connections over ConnsPerIP
	listeners []net.Listener
	verifies  map[verifyKey]*pendingVerify
	closing   bool
	wg        sync.WaitGroup

	verifyDials    int          // connects under way started by a verification
	maxVerifyDials int          // defaultMaxVerifyDials; tests lower it
	maxRoutes      int          // defaultMaxRoutes; tests lower it
	routesMu       sync.RWMutex // cfg.Routes: tests add routes while dialers read them
}

const (
	// maxQueueBytes caps what one route queues while it connects.
	maxQueueBytes = 4 << 20
	// defaultMaxRoutes caps the domain pairs with outgoing state.
	defaultMaxRoutes = 10000
	// defaultMaxVerifyDials caps connects opened to verify dialback keys.
	defaultMaxVerifyDials = 64
)

// route is the outgoing state of one domain pair.
type route struct {
	p          pair
	conn       *conn // a stream authenticated for p
	pending    *conn // a stream being set up for p (TLS may be up)
	connecting bool
	queue      []*router.Stanza
	queueBytes int              // the size of queue, roughly as written
	verifies   []*pendingVerify // db:verify waiting for a stream with TLS
	verifyDial bool             // connecting was started by a verification
	backoff    time.Duration
	retryAt    time.Time
}

type verifyKey struct{ local, remote, id string }

// pendingVerify is a db:verify we sent or will send. Its answer counts
// only on the stream it was sent on (via, set under Service.mu when it
// is), so that no other peer can answer for p.remote.
type pendingVerify struct {
	el  *xml.Element
	ch  chan bool
	via *conn
}

// New returns the federation service for r. Call SetRemote(s) on the
// router, Serve for each listener and Shutdown at the end.
func New(ctx context.Context, cfg Config, r *router.Router, log *slog.Logger) *Service {
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = 30 * time.Second
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if cfg.QueueMax <= 0 {
		cfg.QueueMax = 1000
	}
	if cfg.BackoffMin <= 0 {
		cfg.BackoffMin = time.Second
	}
	if cfg.BackoffMax <= 0 {
		cfg.BackoffMax = 5 * time.Minute
	}
	if cfg.Limits.MaxStanzaBytes == 0 {
		cfg.Limits = xml.DefaultLimits
	}
	if cfg.Resolver == nil {
		cfg.Resolver = net.DefaultResolver
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Peers are servers relaying their users: the same limits apply before
	// and after authentication (a dialback answer arrives on another
	// goroutine, while a read with the old limits may be under way).
	pre := cfg.Limits
	ctx, cancel := context.WithCancel(ctx)
	s := &Service{cfg: cfg, r: r, log: log.With("component", "s2s"), ctx: ctx, cancel: cancel, preAuth: pre,
		routes: map[pair]*route{}, conns: map[*conn]struct{}{}, perIP: map[string]int{}, verifies: map[verifyKey]*pendingVerify{},
		maxVerifyDials: defaultMaxVerifyDials, maxRoutes: defaultMaxRoutes}
	s.wg.Add(1)
	go s.reapIdle()
	s.refuser.NS = xml.NSServer
	return s
}

// dialbackAllowed is the domain's policy: dialback on, and either valid
// certificates are not required or the domain is listed as insecure.
func (s *Service) dialbackAllowed(domain string) bool {
	if !s.cfg.Dialback {
		return false
	}
	return !s.cfg.RequireValidCerts || slices.Contains(s.cfg.InsecureDomains, domain)
}

func (s *Service) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	c.stateName.Store("negotiating")
	if m := s.cfg.Metrics.Streams; m != nil {
		m(c.dir(), "", "negotiating")
	}
	return true
}

func (s *Service) setState(c *conn, state string) {
	old, _ := c.stateName.Swap(state).(string)
	if old != state {
		if m := s.cfg.Metrics.Streams; m != nil {
			m(c.dir(), old, state)
		}
	}
}

// untrack forgets a finished stream and every route through it.
func (s *Service) untrack(c *conn) {
	c.directUntrack()
	s.mu.Lock()
	delete(s.conns, c)
	if c.ip != "" {
		s.releaseLocked(c.ip)
	}
	for _, rt := range s.routes {
		if rt.conn == c {
			rt.conn = nil
		}
		if rt.pending == c {
			rt.pending = nil
		}
	}
	s.mu.Unlock()
	old, _ := c.stateName.Swap("").(string)
	if m := s.cfg.Metrics.Streams; m != nil && old != "" {
		m(c.dir(), old, "")
	}
	s.wg.Done()
}

// Serve accepts peer connections on l until it is closed. directTLS:
// XEP-0368 (TLS from the first byte) instead of STARTTLS.
func (s *Service) Serve(l net.Listener, directTLS bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	return stream.Accept(l, s.log, func(nc net.Conn) {
		ip := stream.RemoteIP(nc)
		if !s.admit(ip) {
			s.refuse(nc, ip, directTLS)
			return
		}
		c := newConn(s, nc, false, directTLS)
		c.ip = ip
		c.rd.setDeadline(time.Now().Add(s.cfg.AuthTimeout))
		if !s.track(c) {
			s.release(ip)
			nc.Close()
			return
		}
		go func() {
			defer s.untrack(c)
			c.run()
		}()
	})
}

// Send implements router.Remote: it delivers st over a stream for its
// domain pair, queueing it while one is set up.
func (s *Service) Send(ctx context.Context, st *router.Stanza) {
	if st.From.IsZero() || !s.r.Serves(st.From.Domain()) {
		// Only our own domains send through us; anything else would relay.
		s.log.Debug("not relaying a stanza from a foreign domain", "from", st.From.String(), "to", st.To.String())
		return
	}
	p := pair{local: st.From.Domain(), remote: st.To.Domain()}
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		s.bounce(ctx, st, stanza.ErrRemoteServerTimeout.WithText("the server is shutting down"))
		return
	}
	rt := s.routes[p]
	if rt == nil {
		if len(s.routes) >= s.maxRoutes {
			s.mu.Unlock()
			s.bounce(ctx, st, stanza.ErrRemoteServerNotFound.WithText("tern has too many peers to add "+p.remote))
			return
		}
		rt = &route{p: p}
		s.routes[p] = rt
	}
	if c := rt.conn; c != nil {
		s.mu.Unlock()
		if c.sendStanza(p, st) {
			return
		}
		s.mu.Lock()
		if rt.conn == c {
			rt.conn = nil
		}
	}
	switch {
	case !rt.connecting && time.Now().Before(rt.retryAt):
		s.mu.Unlock()
		s.bounce(ctx, st, stanza.ErrRemoteServerNotFound.WithText("connecting to "+p.remote+" failed recently; tern retries after "+time.Until(rt.retryAt).Round(time.Second).String()))
		return
	case len(rt.queue) >= s.cfg.QueueMax:
		s.mu.Unlock()
		s.bounce(ctx, st, stanza.ErrResourceConstraint.WithText("too many stanzas waiting for the connection to "+p.remote))
		return
	}
	size := elementSize(st.El)
	if rt.queueBytes+size > maxQueueBytes {
		s.mu.Unlock()
		s.bounce(ctx, st, stanza.ErrResourceConstraint.WithText("too much data waiting for the connection to "+p.remote))
		return
	}
	rt.queue = append(rt.queue, st)
	rt.queueBytes += size
	if !rt.connecting {
		rt.connecting = true
		s.goConnect(rt)
	}
	s.mu.Unlock()
}

// goConnect starts connect for rt; s.mu is held.
func (s *Service) goConnect(rt *route) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		s.connect(rt)
	}()
}

// bounce answers a stanza we could not deliver. Errors are never answered
// (RFC 6120 §8.3.1), nor results, which nobody waits for.
func (s *Service) bounce(ctx context.Context, st *router.Stanza, e *stanza.Error) {
	if st.Type == "error" || (st.Kind == stanza.IQ && st.Type == "result") {
		return
	}
	if m := s.cfg.Metrics.Bounce; m != nil {
		m(e.Condition)
	}
	s.r.ReplyError(ctx, st, e)
}

// connect sets up a stream for rt.p and then sends the queue, or bounces it.
func (s *Service) connect(rt *route) {
	ctx, cancel := context.WithTimeout(s.ctx, s.cfg.ConnectTimeout)
	defer cancel()
	c, err := s.piggyback(ctx, rt.p)
	if c == nil {
		c, err = s.dial(ctx, rt)
	}
	s.mu.Lock()
	rt.connecting = false
	rt.pending = nil
	q := rt.queue
	rt.queue, rt.queueBytes = nil, 0
	if rt.verifyDial {
		rt.verifyDial = false
		s.verifyDials--
	}
	if err != nil {
		rt.backoff = min(max(2*rt.backoff, s.cfg.BackoffMin), s.cfg.BackoffMax)
		rt.retryAt = time.Now().Add(rt.backoff)
		vs := rt.verifies
		rt.verifies = nil
		for _, v := range vs {
			s.verifyFailLocked(rt.p, v)
		}
		s.mu.Unlock()
		cond := stanza.ErrRemoteServerNotFound
		if errors.Is(err, context.DeadlineExceeded) || stream.IsTimeout(err) {
			cond = stanza.ErrRemoteServerTimeout
		}
		s.log.Info("cannot reach peer", "local", rt.p.local, "remote", rt.p.remote, "err", err, "retry_in", rt.backoff, "bounced", len(q))
		for _, st := range q {
			s.bounce(s.ctx, st, cond.WithText(err.Error()))
		}
		return
	}
	rt.conn, rt.backoff, rt.retryAt = c, 0, time.Time{}
	vs := rt.verifies
	rt.verifies = nil
	for _, v := range vs {
		v.via = c
	}
	s.mu.Unlock()
	for _, v := range vs {
		c.send(v.el)
	}
	for _, st := range q {
		if !c.sendStanza(rt.p, st) {
			s.bounce(s.ctx, st, stanza.ErrRemoteServerTimeout.WithText("the stream to "+rt.p.remote+" closed"))
		}
	}
}

// piggyback authenticates p on an outbound stream that already carries
// another of our domains to the same peer (XEP-0220 §2.5, XEP-0344).
func (s *Service) piggyback(ctx context.Context, p pair) (*conn, error) {
	if s.isDirect(p.local) {
		return nil, nil // piggybacking is dialback: never for a Direct domain
	}
	s.mu.Lock()
	var host *conn
	for _, rt := range s.routes {
		if rt.p.remote == p.remote && rt.p.local != p.local && rt.conn != nil && rt.conn.out && !rt.conn.isClosing() && !s.isDirect(rt.p.local) {
			host = rt.conn
			break
		}
	}
	s.mu.Unlock()
	if host == nil {
		return nil, nil
	}
	if err := host.requestPair(ctx, p); err != nil {
		s.log.Debug("piggybacking refused; opening a new stream", "local", p.local, "remote", p.remote, "err", err)
		return nil, nil
	}
	return host, nil
}

// offer makes c the stream for p when none is (bidirectional streams).
func (s *Service) offer(p pair, c *conn) {
	s.mu.Lock()
	rt := s.routes[p]
	if rt == nil {
		if len(s.routes) >= s.maxRoutes {
			s.mu.Unlock()
			return
		}
		rt = &route{p: p}
		s.routes[p] = rt
	}
	if rt.conn == nil {
		rt.conn = c
	}
	s.mu.Unlock()
}

// verify asks the authoritative server of p.remote whether key is one it
// made for stream id (XEP-0220 §2.3), over a stream of ours with TLS. A
// non-nil error means the key could not be checked (too much under way).
func (s *Service) verify(ctx context.Context, p pair, id, key string) (bool, *stanza.Error) {
	k := verifyKey{p.local, p.remote, id}
	pv := &pendingVerify{
		el: xml.New(NSDialback, "verify", "from", p.local, "to", p.remote, "id", id).SetText(key),
		ch: make(chan bool, 1),
	}
	s.mu.Lock()
	if _, dup := s.verifies[k]; dup || s.closing {
		s.mu.Unlock()
		return false, nil
	}
	rt := s.routes[p]
	if rt == nil {
		if len(s.routes) >= s.maxRoutes {
			s.mu.Unlock()
			return false, stanza.ErrResourceConstraint.WithText("too many peers to verify " + p.remote)
		}
		rt = &route{p: p}
		s.routes[p] = rt
	}
	var via *conn
	switch {
	case rt.conn != nil && rt.conn.out:
		via = rt.conn
	case rt.pending != nil && rt.pending.tlsReady():
		via = rt.pending
	case !rt.connecting && s.verifyDials >= s.maxVerifyDials:
		s.mu.Unlock()
		return false, stanza.ErrResourceConstraint.WithText("too many dialback verifications under way")
	default:
		rt.verifies = append(rt.verifies, pv)
		if !rt.connecting {
			rt.connecting = true
			rt.verifyDial = true
			s.verifyDials++
			rt.retryAt = time.Time{} // a verification is worth a fresh attempt
			s.goConnect(rt)
		}
	}
	pv.via = via
	s.verifies[k] = pv
	s.mu.Unlock()
	if via != nil {
		via.send(pv.el)
	}
	defer func() {
		s.mu.Lock()
		if s.verifies[k] == pv {
			delete(s.verifies, k)
		}
		s.mu.Unlock()
	}()
	select {
	case ok := <-pv.ch:
		return ok, nil
	case <-ctx.Done():
		return false, nil
	}
}

// verifyAnswer delivers the answer to a db:verify we sent, received on
// the outbound stream c. It counts only on the stream the db:verify went
// out on, from that stream's peer domain to one of our domains on it.
func (s *Service) verifyAnswer(c *conn, el *xml.Element) {
	from, to, id := el.Attr("from"), el.Attr("to"), el.Attr("id")
	c.mu.Lock()
	fits := from == c.remote && (to == c.local || c.sendOK[pair{to, from}])
	c.mu.Unlock()
	k := verifyKey{to, from, id}
	s.mu.Lock()
	pv := s.verifies[k]
	if pv == nil || pv.via != c || !fits {
		s.mu.Unlock()
		if pv != nil {
			s.log.Warn("dialback verification answered on another stream: ignored", "remote", c.remote, "from", from, "to", to)
		}
		return
	}
	delete(s.verifies, k)
	s.mu.Unlock()
	pv.ch <- el.Attr("type") == "valid"
}

// verifyFailLocked ends a verification of p that could not be sent; s.mu is held.
func (s *Service) verifyFailLocked(p pair, pv *pendingVerify) {
	k := verifyKey{p.local, p.remote, pv.el.Attr("id")}
	if s.verifies[k] == pv {
		delete(s.verifies, k)
		pv.ch <- false
	}
}

// elementSize is about the size of el once written.
func elementSize(el *xml.Element) int {
	n := 2*len(el.Name) + len(el.Space) + 16
	for _, a := range el.Attrs {
		n += len(a.Space) + len(a.Name) + len(a.Value) + 4
	}
	for _, ch := range el.Children {
		switch ch := ch.(type) {
		case *xml.Element:
			n += elementSize(ch)
		case xml.Text:
			n += len(ch)
		case xml.Raw:
			n += len(ch)
		}
	}
	return n
}

// tlsUp is called when an outbound stream for p has TLS: verifications
// waiting for p.remote can go out on it.
func (s *Service) tlsUp(p pair, c *conn) {
	s.mu.Lock()
	var vs []*pendingVerify
	if rt := s.routes[p]; rt != nil && rt.pending == c {
		vs = rt.verifies
		rt.verifies = nil
		for _, v := range vs {
			v.via = c
		}
	}
	s.mu.Unlock()
	for _, v := range vs {
		c.send(v.el)
	}
}

// reapIdle closes streams that carried nothing for IdleTimeout.
func (s *Service) reapIdle() {
	defer s.wg.Done()
	tick := time.NewTicker(max(s.cfg.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-tick.C:
		}
		cut := time.Now().Add(-s.cfg.IdleTimeout).UnixNano()
		s.mu.Lock()
		var idle []*conn
		for c := range s.conns {
			if c.lastUsed.Load() < cut && c.authenticated() {
				idle = append(idle, c)
			}
		}
		for _, rt := range s.routes {
			if slices.Contains(idle, rt.conn) {
				rt.conn = nil
			}
			if rt.conn == nil && !rt.connecting && len(rt.queue) == 0 && time.Now().After(rt.retryAt) {
				delete(s.routes, rt.p)
			}
		}
		s.mu.Unlock()
		for _, c := range idle {
			s.log.Debug("closing idle stream", "dir", c.dir(), "remote", c.remote)
			c.close(nil)
		}
	}
}

// Shutdown stops accepting, bounces what is still queued, closes every
// stream once its output is written, and waits for them (or ctx).
func (s *Service) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	for _, l := range s.listeners {
		l.Close()
	}
	all := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		all = append(all, c)
	}
	s.mu.Unlock()
	for _, c := range all {
		c.close(stream.NewError("system-shutdown", "the server is shutting down"))
	}
	done := make(chan struct{})
	go func() {
		// Dials in progress end with the context; their queues bounce.
		time.AfterFunc(100*time.Millisecond, s.cancel)
		s.wg.Wait()
		s.refuser.Close()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		s.cancel()
		s.mu.Lock()
		for c := range s.conns {
			c.raw.Close()
		}
		s.mu.Unlock()
		<-done
	}
}

// route is the static route to domain, if one is configured.
func (s *Service) route(domain string) (string, bool) {
	s.routesMu.RLock()
	defer s.routesMu.RUnlock()
	a, ok := s.cfg.Routes[domain]
	return a, ok
}

// SetRoute adds or changes a static route while the service runs.
func (s *Service) SetRoute(domain, addr string) {
	s.routesMu.Lock()
	defer s.routesMu.Unlock()
	if s.cfg.Routes == nil {
		s.cfg.Routes = map[string]string{}
	}
	s.cfg.Routes[domain] = addr
}
