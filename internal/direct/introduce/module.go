package introduce

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Config is the [introduce] section.
type Config struct {
	// RatePerPeer bounds the questions answered per asking domain and
	// second (0: no bound); the rest get resource-constraint.
	RatePerPeer int `toml:"rate_per_peer"`
	// RevealAddresses answers item-not-found for an address that is no
	// account here and has no certificate of its own. Off by default:
	// every unknown address gets the domain's certificates, as a known
	// one without its own does, so nobody learns who has an account.
	RevealAddresses bool `toml:"reveal_addresses"`
	// ClientQueries bounds a user's discoveries under way at once.
	ClientQueries int `toml:"client_queries"`
	// ClientTimeout bounds one discovery for a client ("30s").
	ClientTimeout string `toml:"client_timeout"`
}

// DefaultConfig: 100 questions a second per peer (a discovery's answer is
// cached by the asker, so this is many new recipients a second), 4
// discoveries per user, 30 s each.
func DefaultConfig() Config {
	return Config{RatePerPeer: 100, ClientQueries: 4, ClientTimeout: "30s"}
}

// maxClientQueries bounds every user's discoveries together.
const maxClientQueries = 256

// DiscoverFunc runs discovery for a local Direct domain.
type DiscoverFunc func(ctx context.Context, local, address string, purpose trust.Purpose) (*discovery.Report, error)

// Module answers peer introduction for the server's Direct domains and
// its clients' questions. The server sets the fields before Register.
type Module struct {
	Direct    func(domain string) bool // the Direct domains: only they introduce and discover
	Directory func() *Directory        // what is published now
	Discover  DiscoverFunc             // nil: clients cannot ask (no trust layer)
	Asker     *Asker                   // the discoverer's peer source; its counts go to this module's metrics

	cfg Config
}

// New returns the module with the default configuration.
func New() *Module { return &Module{cfg: DefaultConfig()} }

// Name implements module.Module.
func (*Module) Name() string { return "introduce" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.cfg }

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	if m.Direct == nil {
		m.Direct = func(string) bool { return false }
	}
	timeout, err := time.ParseDuration(m.cfg.ClientTimeout)
	if err != nil || timeout <= 0 {
		return fmt.Errorf("[introduce] client_timeout = %q: not a positive duration with a unit, such as \"30s\"", m.cfg.ClientTimeout)
	}
	if m.cfg.RatePerPeer < 0 || m.cfg.ClientQueries < 1 {
		return fmt.Errorf("[introduce] rate_per_peer = %d, client_queries = %d: rate_per_peer is 0 (no bound) or more, client_queries 1 or more", m.cfg.RatePerPeer, m.cfg.ClientQueries)
	}
	counts := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_introduce_total",
		Help: "Peer introduction questions, by side (answered: from peers; asked: to peers; client: from local clients) and outcome."},
		[]string{"side", "outcome"})
	if h.Metrics != nil {
		if err := h.Metrics.Register(counts); err != nil {
			return err
		}
	}
	if m.Asker != nil {
		m.Asker.Asked = func(o string) { counts.WithLabelValues("asked", o).Inc() }
	}
	s := &service{m: m, cfg: m.cfg, timeout: timeout, perPeer: ratelimit.NewWindow(m.cfg.RatePerPeer, time.Second), running: map[string]int{},
		count: func(side, o string) { counts.WithLabelValues(side, o).Inc() }}
	h.HandleIQOn(router.Host, "get", NS, m.Direct, s.handle)
	return nil
}

type service struct {
	m       *Module
	cfg     Config
	perPeer *ratelimit.Window
	timeout time.Duration // of a client's discovery
	count   func(side, outcome string)

	mu      sync.Mutex
	running map[string]int // a user's discoveries under way
	total   int
}

func (s *service) handle(iq *router.IQ) (*xml.Element, error) {
	if iq.Origin != nil {
		return s.client(iq)
	}
	return s.peer(iq)
}

// peer answers another server (or a remote entity): the public
// certificates of one of this domain's addresses.
func (s *service) peer(iq *router.IQ) (*xml.Element, error) {
	here := iq.To.Domain()
	if !s.m.Direct(here) {
		s.count("answered", "refused")
		return nil, stanza.ErrServiceUnavailable.WithText(here + " is not a Direct domain: it introduces no certificates")
	}
	asker := iq.From.Domain()
	if !s.perPeer.Add(asker) {
		s.count("answered", "limited")
		return nil, stanza.ErrResourceConstraint.WithText("too many introduction questions from " + asker + "; ask again later")
	}
	q, err := ParseRequest(iq.Payload())
	if err != nil {
		s.count("answered", "bad-request")
		return nil, stanza.ErrBadRequest.WithText(err.Error())
	}
	if _, d, _ := strings.Cut(q.Address, "@"); d != here {
		s.count("answered", "refused")
		return nil, stanza.ErrNotAcceptable.WithText("ask " + d + " for the certificates of its own addresses")
	}
	chains, stored := s.m.Directory().Lookup(q.Address)
	if s.cfg.RevealAddresses && !stored {
		if bare, err := jid.Parse(q.Address); err != nil || !iq.Router.UserExists(iq.Ctx, bare) {
			s.count("answered", "unknown")
			return nil, stanza.ErrItemNotFound
		}
	}
	a := Answer{Address: q.Address}
	for _, c := range chains {
		a.Certs = append(a.Certs, Cert{Chain: c})
	}
	s.count("answered", "answered")
	return a.Element(), nil
}

// client answers a local user: discovery as the server runs it, for the
// user's Direct domain, with the verdict on each certificate found.
func (s *service) client(iq *router.IQ) (*xml.Element, error) {
	local := iq.From.Domain()
	if s.m.Discover == nil || !s.m.Direct(local) {
		s.count("client", "refused")
		return nil, stanza.ErrServiceUnavailable.WithText(local + " is not a Direct domain: its server discovers no certificates")
	}
	q, err := ParseRequest(iq.Payload())
	if err != nil {
		s.count("client", "bad-request")
		return nil, stanza.ErrBadRequest.WithText(err.Error())
	}
	user := iq.From.Bare().String()
	if !s.enter(user) {
		s.count("client", "limited")
		return nil, stanza.ErrResourceConstraint.WithText("too many certificate discoveries under way; wait for their answers")
	}
	purpose := trust.Purpose(q.Purpose)
	if purpose == "" {
		purpose = trust.PurposeEncrypt
	}
	go func() {
		defer s.leave(user)
		ctx, cancel := context.WithTimeout(context.Background(), s.timeout)
		defer cancel()
		rep, err := s.m.Discover(ctx, local, q.Address, purpose)
		if err != nil {
			s.count("client", "error")
			e := stanza.ErrServiceUnavailable // the sources failed, not the request
			if errors.Is(err, context.DeadlineExceeded) {
				e = stanza.ErrRemoteServerTimeout
			}
			iq.Reply(nil, e.WithText(err.Error()))
			return
		}
		s.count("client", "answered")
		iq.Reply(reportAnswer(rep).Element(), nil)
	}()
	return nil, router.ErrLater
}

func (s *service) enter(user string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running[user] >= s.cfg.ClientQueries || s.total >= maxClientQueries {
		return false
	}
	s.running[user]++
	s.total++
	return true
}

func (s *service) leave(user string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.total--
	if s.running[user]--; s.running[user] <= 0 {
		delete(s.running, user)
	}
}

// reportAnswer is a discovery report as a client's answer: the usable
// certificates first (address-bound before domain-bound), then the others
// with the reason; records that held no certificate are in Tried.
func reportAnswer(rep *discovery.Report) Answer {
	a := Answer{Address: rep.Address, Purpose: string(rep.Purpose), Tried: rep.Tried}
	var rest []Cert
	for _, c := range rep.Usable {
		a.Certs = append(a.Certs, candidateCert(c))
	}
	for _, c := range rep.All {
		switch {
		case c.Usable():
		case c.Cert == nil:
			a.Tried = append(a.Tried, c.Source+" "+c.Where+": "+c.Err.Error())
		default:
			rest = append(rest, candidateCert(c))
		}
	}
	a.Certs = append(a.Certs, rest...)
	return a
}

func candidateCert(c discovery.Candidate) Cert {
	out := Cert{Chain: append([]*x509.Certificate{c.Cert}, c.Chain...), Source: c.Source, Where: c.Where, Usable: c.Usable()}
	switch {
	case c.Result != nil:
		out.Bound, out.Reason, out.Detail = string(c.Result.Bound), string(c.Result.Reason), trust.Explain(c.Result)
		if out.Usable {
			out.Reason = ""
		}
	case c.Err != nil:
		out.Reason, out.Detail = "bad-record", c.Err.Error()
	}
	return out
}
