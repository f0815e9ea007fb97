package bytestreams

import (
	"context"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces.
const (
	NS        = "http://jabber.org/protocol/bytestreams"                                       // XEP-0065
	NSCredReq = "http://standards.directtrust.org/DS2019-02/filetransfer/proxy/auth#onetimeup" // TIM+ one-time credentials
)

// Config is the module's section, [bytestreams]. Durations are in seconds.
type Config struct {
	Name   string `toml:"name"`   // the service is <name>.<domain> for every served domain
	Listen string `toml:"listen"` // SOCKS5 listener, host:port; "" turns the proxy off
	Host   string `toml:"host"`   // advertised in <streamhost host=.../>; "": the listener's IP, or <name>.<domain> when it listens on all addresses
	Port   int    `toml:"port"`   // advertised port; 0: the listener's

	TLS         bool `toml:"tls"`         // TLS on the proxy socket (TIM+), the certificate chosen by SNI = the service's name
	Credentials bool `toml:"credentials"` // RFC 1929 one-time credentials required (TIM+); false: no authentication (plain XEP-0065)
	Remote      bool `toml:"remote"`      // users of other domains (over authenticated s2s) may use the proxy (TIM+: the receiver asks the sender's proxy)

	MaxBytes             int `toml:"max_bytes"`              // per transfer, both directions; 0: unbounded
	Rate                 int `toml:"rate"`                   // bytes per second per user, all its transfers; 0: unbounded
	CredentialsPerMinute int `toml:"credentials_per_minute"` // credRequests per user
	CredentialsPerUser   int `toml:"credentials_per_user"`   // unused credentials outstanding per user
	ConnsPerIP           int `toml:"conns_per_ip"`           // concurrent proxy connections per client IP
	ConnsPerUser         int `toml:"conns_per_user"`         // concurrent proxy connections per user
	MaxPending           int `toml:"max_pending"`            // connections waiting for activation, in all
	ActivationSeconds    int `toml:"activation_seconds"`     // how long a connection waits for <activate/>
	HandshakeSeconds     int `toml:"handshake_seconds"`      // TLS and SOCKS5 handshake, together
	IdleSeconds          int `toml:"idle_seconds"`           // a relay direction with no data ends
}

// DefaultConfig is the TIM+ profile, with the listener off.
var DefaultConfig = Config{
	Name: "ftproxystream", Listen: "", TLS: true, Credentials: true, Remote: true,
	MaxBytes: 1 << 30, Rate: 64 << 20,
	CredentialsPerMinute: 30, CredentialsPerUser: 16,
	ConnsPerIP: 32, ConnsPerUser: 16, MaxPending: 1024,
	ActivationSeconds: 60, HandshakeSeconds: 10, IdleSeconds: 300,
}

func (c Config) handshakeTimeout() time.Duration  { return seconds(c.HandshakeSeconds, 10) }
func (c Config) activationTimeout() time.Duration { return seconds(c.ActivationSeconds, 60) }
func (c Config) idleTimeout() time.Duration       { return seconds(c.IdleSeconds, 300) }

func seconds(n, def int) time.Duration {
	if n <= 0 {
		n = def
	}
	return time.Duration(n) * time.Second
}

// Module is the SOCKS5 bytestream proxy. Register declares the services;
// the listener starts with Listen, which the server calls with its TLS
// configuration (see Listener).
type Module struct {
	Cfg Config
	Now func() time.Time // the credentials' clock; nil: the host's

	r       *router.Router
	h       *module.Host
	creds   *creds
	credLim *ratelimit.Window
	m       *metrics

	mu    sync.Mutex
	p     *proxy
	addr  *net.TCPAddr
	tlsOn bool
}

// Listener is what the module provides to the server (module.Depend
// under the name "bytestreams"): Listen opens the SOCKS5 listener with
// tlsConf (its GetCertificate chooses by SNI; nil: plain TCP) and returns
// the function that stops it and every relay.
type Listener interface {
	Listen(tlsConf *tls.Config) (stop func(), err error)
}

// New returns the module with the default configuration.
func New() *Module { return &Module{Cfg: DefaultConfig} }

// Name implements module.Module.
func (*Module) Name() string { return "bytestreams" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.Cfg }

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	if m.Cfg.Listen == "" {
		h.Log.Info("file transfer proxy off: set [bytestreams] listen (TIM+: \"0.0.0.0:7777\") to serve " + m.Cfg.Name + ".<domain>")
		return nil
	}
	if m.Cfg.Name == "" {
		return errors.New("[bytestreams] name is empty: the proxy needs a service name (ftproxystream)")
	}
	if _, _, err := net.SplitHostPort(m.Cfg.Listen); err != nil {
		return fmt.Errorf("[bytestreams] listen %q: %v (want host:port, e.g. \"0.0.0.0:7777\")", m.Cfg.Listen, err)
	}
	now := m.Now
	if now == nil {
		now = h.Now
	}
	m.r, m.h = h.Router, h
	m.creds = newCreds(now, 100_000)
	m.credLim = ratelimit.NewWindow(m.Cfg.CredentialsPerMinute, time.Minute)
	m.m = newMetrics(h.Metrics)
	hosts := h.Router.Hosts()
	slices.Sort(hosts)
	for _, d := range hosts {
		h.AddService(router.Service{
			Domain: m.Cfg.Name + "." + d, Parent: d, Name: "File transfer proxy",
			Identities: []router.Identity{{Category: "proxy", Type: "bytestreams", Name: "SOCKS5 Bytestreams Service"}},
			Features:   []string{NS, NSCredReq},
			Handle:     m.handle,
		})
	}
	h.Provide(Listener(m))
	return nil
}

// Listen implements Listener.
func (m *Module) Listen(tlsConf *tls.Config) (func(), error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.p != nil {
		return nil, errors.New("bytestreams: the proxy listens already")
	}
	if m.Cfg.TLS && tlsConf == nil {
		return nil, errors.New("bytestreams: tls = true but the server gave no TLS configuration")
	}
	var tc *tls.Config
	if m.Cfg.TLS {
		tc = tlsConf.Clone()
		tc.NextProtos = nil // a bytestream, no XMPP stream: no ALPN
	}
	ln, err := net.Listen("tcp", m.Cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("bytestreams: cannot listen on %s: %w (change [bytestreams] listen)", m.Cfg.Listen, err)
	}
	m.addr = ln.Addr().(*net.TCPAddr)
	m.tlsOn = tc != nil
	p := newProxy(m.Cfg, m.h.Log, m.creds, tc, m.m)
	m.p = p
	p.serve(ln)
	m.h.Log.Info("file transfer proxy listening", "addr", m.addr.String(), "tls", m.tlsOn, "credentials", m.Cfg.Credentials)
	var once sync.Once
	return func() {
		once.Do(func() {
			p.close()
			m.mu.Lock()
			m.p = nil
			m.mu.Unlock()
		})
	}, nil
}

func (m *Module) proxy() *proxy {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.p
}

// handle takes the iq requests to a service domain; everything else is
// left to the router (disco#info from the Service, service-unavailable).
func (m *Module) handle(ctx context.Context, st *router.Stanza) bool {
	if st.Kind != stanza.IQ || (st.Type != "get" && st.Type != "set") || st.To.Local() != "" || st.To.Resource() != "" {
		return false
	}
	q := st.Payload()
	if q == nil {
		return false
	}
	var fn func(st *router.Stanza, q *xml.Element) (*xml.Element, error)
	switch {
	case q.Space == NS && q.Name == "query" && st.Type == "get":
		fn = m.streamhost
	case q.Space == NS && q.Name == "query" && st.Type == "set":
		fn = m.activate
	case q.Space == NSCredReq && q.Name == "credRequest":
		fn = m.credRequest
	default:
		return false
	}
	res, err := m.allowed(st)
	if err == nil {
		res, err = fn(st, q)
	}
	if err != nil {
		var se *stanza.Error
		if !errors.As(err, &se) {
			m.h.Log.Error("bytestreams request failed", "from", st.From.String(), "err", err)
			se = stanza.ErrInternalServerError
		}
		m.r.ReplyError(ctx, st, se)
		return true
	}
	m.r.Route(ctx, &router.Stanza{El: stanza.Result(st.El, res), Kind: stanza.IQ, Type: "result", ID: st.ID, From: st.To, To: st.From})
	return true
}

// allowed: users only (a localpart), of a served domain or, with remote
// on, of another domain (the router gets those from authenticated s2s).
func (m *Module) allowed(st *router.Stanza) (*xml.Element, error) {
	switch {
	case st.From.Local() == "":
		return nil, stanza.ErrForbidden.WithText("the file transfer proxy serves user accounts only")
	case !m.r.IsLocal(st.From.Domain()) && !m.Cfg.Remote:
		return nil, stanza.ErrForbidden.WithText("this file transfer proxy serves the users of its own domains only")
	}
	return nil, nil
}

// streamhost answers XEP-0065 §4 (Example 9): the proxy's network address.
func (m *Module) streamhost(st *router.Stanza, _ *xml.Element) (*xml.Element, error) {
	m.mu.Lock()
	addr := m.addr
	m.mu.Unlock()
	if addr == nil || m.proxy() == nil {
		// §4: a proxy unable to act as a StreamHost says not-allowed.
		return nil, stanza.ErrNotAllowed.WithText("the file transfer proxy is not listening")
	}
	host := m.Cfg.Host
	if host == "" {
		host = st.To.Domain()
		if !addr.IP.IsUnspecified() {
			host = addr.IP.String()
		}
	}
	port := m.Cfg.Port
	if port == 0 {
		port = addr.Port
	}
	q := xml.New(NS, "query")
	if sid := st.Payload().Attr("sid"); sid != "" {
		q.SetAttr("sid", sid)
	}
	return q.Append(xml.New(NS, "streamhost", "jid", st.To.Domain(), "host", host, "port", strconv.Itoa(port))), nil
}

// activate is XEP-0065 §6.3.5: the requester asks the proxy to relay the
// bytestream SHA1(SID + requester JID + target JID) once the target and
// the requester are connected. Only the requester can: the hash is
// computed with the 'from' of the request.
func (m *Module) activate(st *router.Stanza, q *xml.Element) (*xml.Element, error) {
	sid := q.Attr("sid")
	switch {
	case sid == "":
		return nil, stanza.ErrBadRequest.WithText("the query needs the 'sid' of the bytestream to activate (XEP-0065 §6.3.5)")
	case len(sid) >= 128:
		return nil, stanza.ErrBadRequest.WithText("the 'sid' is longer than 127 characters (XEP-0065 §2)")
	}
	act := q.Child(NS, "activate")
	if act == nil {
		return nil, stanza.ErrBadRequest.WithText("a bytestreams set to the proxy is <activate/> with the target's JID (XEP-0065 §6.3.5)")
	}
	text := strings.TrimSpace(act.Text())
	target, err := jid.Parse(text)
	if err != nil || text == "" {
		return nil, stanza.ErrJIDMalformed.WithText("<activate/> must hold the target's full JID")
	}
	p := m.proxy()
	if p == nil {
		return nil, stanza.ErrNotAllowed.WithText("the file transfer proxy is not listening")
	}
	switch err := p.activate(StreamHash(sid, st.From.String(), target.String())); {
	case errors.Is(err, errNoStream):
		return nil, stanza.ErrItemNotFound.WithText(err.Error())
	case err != nil:
		return nil, stanza.ErrNotAllowed.WithText(err.Error())
	}
	return nil, nil
}

// StreamHash is the DST.ADDR of XEP-0065 §5.3.2 and §6.3.2: hex
// SHA1(SID + requester JID + target JID).
func StreamHash(sid, requester, target string) string {
	s := sha1.Sum([]byte(sid + requester + target))
	return hex.EncodeToString(s[:])
}

// credRequest issues a TIM+ one-time credential for the proxy:
// <credentials subject secret/> and the base64 DER of the anchor of the
// proxy's certificate.
func (m *Module) credRequest(st *router.Stanza, q *xml.Element) (*xml.Element, error) {
	if st.Type != "get" {
		return nil, stanza.ErrBadRequest.WithText("credRequest is an iq of type get")
	}
	if kids := q.Elements(); len(kids) > 0 {
		return nil, stanza.ErrBadRequest.WithText(fmt.Sprintf("an empty <credRequest/> asks for credentials; this one holds <%s/>", kids[0].Name))
	}
	if !m.Cfg.Credentials {
		return nil, stanza.ErrFeatureNotImplemented.WithText("this proxy takes no credentials (credentials = false)")
	}
	owner := st.From.Bare().String()
	if !m.credLim.Add(owner) {
		return nil, stanza.ErrResourceConstraint.WithText(fmt.Sprintf("at most %d proxy credentials per minute per user", m.Cfg.CredentialsPerMinute))
	}
	subject, secret, err := m.creds.issue(owner, m.Cfg.CredentialsPerUser)
	if err != nil {
		return nil, stanza.ErrResourceConstraint.WithText(err.Error())
	}
	res := xml.New(NSCredReq, "credRequest")
	res.Append(xml.New(NSCredReq, "credentials", "subject", subject, "secret", secret))
	if ca := m.anchor(st.To.Domain()); ca != nil {
		res.Append(xml.New(NSCredReq, "ca").SetText(base64.StdEncoding.EncodeToString(ca)))
	}
	return res, nil
}

// anchor is the DER of the last certificate of the chain the proxy serves
// for name: the self-signed certificate itself, or the top of the
// configured chain (a CA-issued chain ending in its root, as TIM+
// deployments configure it).
func (m *Module) anchor(name string) []byte {
	p := m.proxy()
	if p == nil || p.tls == nil || p.tls.GetCertificate == nil {
		return nil
	}
	c, err := p.tls.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
	if err != nil || c == nil || len(c.Certificate) == 0 {
		return nil
	}
	return c.Certificate[len(c.Certificate)-1]
}
