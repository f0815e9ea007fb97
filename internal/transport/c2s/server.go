package c2s

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Config is what the c2s server needs; the server package fills it from
// the configuration file.
type Config struct {
	Domains []string // served domains; the first is the default for a header without 'to'
	TLS     *tls.Config
	// ServedCert returns the leaf certificate served for an SNI name, for
	// the tls-server-end-point channel binding (RFC 5929).
	ServedCert       func(serverName string) *x509.Certificate
	RequireStartTLS  bool
	AllowPlain       bool
	Limits           xml.Limits // after authentication
	PreAuthLimits    xml.Limits // before: tighter
	AuthTimeout      time.Duration
	PingInterval     time.Duration // 0: no keepalive pings
	PingTimeout      time.Duration
	ConnsPerIP       int
	ResourcesPerUser int                // bound resources per account (RFC 6120 §7.6.2.1); 0: no limit
	AuthFailures     *ratelimit.Window  // per IP and per account
	Trusted          ratelimit.Networks // exempt from ConnsPerIP and the per-IP failure limit
	Secret           []byte             // for SCRAM fake salts
	Users            storage.Users
	// PreAuthIQ answers iq stanzas before authentication (XEP-0077
	// in-band registration). Nil reply: not handled.
	PreAuthIQ func(ctx context.Context, domain, remoteAddr string, tls bool, iq *xml.Element) *xml.Element
	// PreAuthFeatures returns extra pre-authentication stream features.
	PreAuthFeatures func(domain string) []*xml.Element
	Metrics         Metrics
	// ResumeTimeout is how long a session whose connection died stays
	// resumable (XEP-0198 §5); 0 offers no resumption.
	ResumeTimeout time.Duration
}

// Metrics are counters the server package connects to Prometheus.
type Metrics struct {
	StanzaIn      func(kind string)
	StanzaOut     func(kind string)
	AuthFailure   func(mech string)
	AuthSuccess   func(mech string)
	StreamError   func(condition string)
	SessionOpened func()
	SessionClosed func()
	Unacked       func(n int) // stanzas handed back at session end (XEP-0198)
}

// Server accepts client connections.
type Server struct {
	cfg    Config
	router *router.Router
	log    *slog.Logger
	ctx    context.Context

	mu        sync.Mutex
	perIP     map[string]int
	sessions  map[*Session]struct{}
	resumeIDs map[string]*Session // XEP-0198 ids of resumable sessions
	listeners []net.Listener
	closing   bool
	refuser   stream.Refuser // connections over ConnsPerIP
	wg        sync.WaitGroup
	poller    *poller // nil: sessions never park (non-Linux)
}

// NewServer returns a c2s server routing through r.
func NewServer(ctx context.Context, cfg Config, r *router.Router, log *slog.Logger) *Server {
	if cfg.AuthTimeout == 0 {
		cfg.AuthTimeout = 30 * time.Second
	}
	if cfg.PingTimeout == 0 {
		cfg.PingTimeout = time.Minute
	}
	if cfg.Limits.MaxStanzaBytes == 0 {
		cfg.Limits = xml.DefaultLimits
	}
	if cfg.PreAuthLimits.MaxStanzaBytes == 0 {
		cfg.PreAuthLimits = cfg.Limits
		cfg.PreAuthLimits.MaxStanzaBytes = min(cfg.Limits.MaxStanzaBytes, 16<<10)
	}
	srv := &Server{cfg: cfg, router: r, log: log, ctx: ctx, perIP: map[string]int{}, sessions: map[*Session]struct{}{}, resumeIDs: map[string]*Session{}}
	srv.refuser.NS = xml.NSClient
	if p, err := newPoller(log); err == nil {
		srv.poller = p
	} else if p != nil || err != errNoPoller {
		log.Warn("idle sessions will keep a goroutine each (poller unavailable)", "err", err)
	}
	return srv
}

// Serve accepts on l until it is closed. directTLS: XEP-0368 (TLS from the
// first byte) instead of STARTTLS.
func (s *Server) Serve(l net.Listener, directTLS bool) error {
	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		l.Close()
		return nil
	}
	s.listeners = append(s.listeners, l)
	s.mu.Unlock()
	return stream.Accept(l, s.log, func(c net.Conn) {
		ip := stream.RemoteIP(c)
		if !s.admit(ip) {
			if s.isClosing() {
				c.Close()
				return
			}
			s.log.Warn("connection refused: too many connections from this address (limits.conns_per_ip); raise it or add the network to limits.trusted_networks if many users share it", "ip", ip, "limit", s.cfg.ConnsPerIP)
			s.refuse(c, directTLS)
			return
		}
		sess := newSession(s, c, ip, directTLS)
		go sess.run() // admit added it to the WaitGroup; sess.finish calls release, which ends that
	})
}

func (s *Server) admit(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	if s.cfg.ConnsPerIP > 0 && s.perIP[ip] >= s.cfg.ConnsPerIP && !s.cfg.Trusted.Contains(ip) {
		return false
	}
	s.perIP[ip]++
	// Added under mu with the closing check: Shutdown sets closing under mu
	// before it waits, so no Add can race its Wait.
	s.wg.Add(1)
	return true
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

func (s *Server) track(sess *Session) {
	s.mu.Lock()
	s.sessions[sess] = struct{}{}
	s.mu.Unlock()
}

func (s *Server) release(ip string, sess *Session) {
	defer s.wg.Done()
	s.mu.Lock()
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
	delete(s.sessions, sess)
	s.mu.Unlock()
}

// Shutdown stops accepting, sends <system-shutdown/> to every session and
// waits for them to end (or ctx).
func (s *Server) Shutdown(ctx context.Context) {
	s.mu.Lock()
	s.closing = true
	for _, l := range s.listeners {
		l.Close()
	}
	all := make([]*Session, 0, len(s.sessions))
	for sess := range s.sessions {
		all = append(all, sess)
	}
	s.mu.Unlock()
	for _, sess := range all {
		sess.Close(stream.NewError("system-shutdown", "the server is shutting down"))
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); s.refuser.Close(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		s.mu.Lock()
		for sess := range s.sessions {
			sess.out.Lock()
			c := sess.conn // resume swaps it under the output's lock
			sess.out.Unlock()
			c.Close()
			go sess.unpark() // a parked session hears of the close only this way
		}
		n := len(s.sessions)
		s.mu.Unlock()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			s.log.Error("shutdown: sessions did not end; exiting anyway", "sessions", n)
		}
	}
}

func (s *Server) servedCert(name string) *x509.Certificate {
	if s.cfg.ServedCert == nil {
		return nil
	}
	return s.cfg.ServedCert(name)
}
