package delivery

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
)

// Where the notices are sent (notify) and messages tracked (track).
const (
	ModeDirect = "direct-domains" // the domains in Config.Domains (and, once domains carry it, those marked direct)
	ModeAll    = "all"
	ModeOff    = "off"
)

// Config is the section [delivery].
type Config struct {
	// Notify says for which local recipients' domains the server sends
	// deliver notices: "direct-domains", "all" or "off".
	Notify string `toml:"notify"`
	// Track says for which local senders' domains messages are tracked.
	Track string `toml:"track"`
	// Domains are the local domains "direct-domains" means, until the
	// domains' own direct flag replaces the list.
	Domains []string `toml:"domains"`
	// Timeout is how long the monitor waits for a notice or an error: a
	// duration with a unit ("1h", "90s").
	Timeout string `toml:"timeout"`
	// MaxPending bounds each user's tracked messages (0: no bound).
	MaxPending int `toml:"max_pending"`
	// ScanInterval is how often due entries are looked for (0: a tenth
	// of the timeout, at most 10s).
	ScanInterval string `toml:"scan_interval"`
}

// DefaultConfig: TIM+ behaviour on the listed (Direct) domains, none
// elsewhere, the TIM+ default time-out of an hour.
var DefaultConfig = Config{
	Notify: ModeDirect, Track: ModeDirect, Domains: []string{},
	Timeout: "1h", ScanInterval: "", MaxPending: 10000,
}

// Module is delivery tracking (see the package doc).
type Module struct {
	Cfg Config
	// OfflineQuota is limits.offline_quota, for the errors this module
	// stores for offline senders (0: none).
	OfflineQuota int
	// Direct, if set, reports the local domains marked Direct; they count
	// for "direct-domains" as the listed ones do. Register reads it once.
	Direct func(domain string) bool

	// Linger is how long the writer waits for more writes before a
	// commit (0: DefaultLinger; negative: none).
	Linger time.Duration

	mu  sync.Mutex
	svc *service
}

// DefaultLinger: a tracked message waits at most this long for company
// in its commit.
const DefaultLinger = time.Millisecond

func (m *Module) linger() time.Duration {
	switch {
	case m.Linger == 0:
		return DefaultLinger
	case m.Linger < 0:
		return 0
	}
	return m.Linger
}

// New returns the module with the default section.
func New(offlineQuota int) *Module {
	c := DefaultConfig
	c.Domains = slices.Clone(c.Domains)
	return &Module{Cfg: c, OfflineQuota: offlineQuota}
}

// WithDirect sets Direct (the domains marked direct = true count for
// "direct-domains") and returns m, for the server's module list:
//
//	delivery.New(cfg.Limits.OfflineQuota).WithDirect(func(d string) bool { dom, ok := cfg.Domain(d); return ok && dom.Direct }),
func (m *Module) WithDirect(direct func(domain string) bool) *Module {
	m.Direct = direct
	return m
}

// Name implements module.Module.
func (*Module) Name() string { return "delivery" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.Cfg }

// duration parses a duration key ("" is 0).
func duration(key, v string) (time.Duration, error) {
	if v == "" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("[delivery] %s = %q: not a duration with a unit, such as \"1h\" or \"90s\"", key, v)
	}
	return d, nil
}

func checkMode(key, v string) error {
	switch v {
	case ModeDirect, ModeAll, ModeOff:
		return nil
	}
	return fmt.Errorf("[delivery] %s = %q: use %q, %q or %q", key, v, ModeDirect, ModeAll, ModeOff)
}

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	c := m.Cfg
	if err := checkMode("notify", c.Notify); err != nil {
		return err
	}
	if err := checkMode("track", c.Track); err != nil {
		return err
	}
	timeout, err := duration("timeout", c.Timeout)
	if err != nil {
		return err
	}
	if timeout <= 0 {
		return fmt.Errorf("[delivery] timeout = %q: must be positive", c.Timeout)
	}
	scan, err := duration("scan_interval", c.ScanInterval)
	if err != nil {
		return err
	}
	if c.MaxPending < 0 {
		return fmt.Errorf("[delivery] max_pending = %d: must be 0 (no bound) or more", c.MaxPending)
	}
	for _, d := range c.Domains {
		if !h.Router.IsLocal(d) {
			return fmt.Errorf("[delivery] domains: %q is not a domain this server serves", d)
		}
	}
	if scan <= 0 {
		scan = min(timeout/10, 10*time.Second)
	}
	scan = max(scan, time.Millisecond)
	s := newService(h, m, timeout, scan)
	m.mu.Lock()
	m.svc = s
	m.mu.Unlock()

	h.AddFeature(router.Host, NS)
	h.AddFeature(router.Host, FeatureNotify)
	h.AddFeature(router.Host, FeatureDeliver)
	// The modes resolve per local domain once (the domains and their
	// direct flag are fixed for the process), and a hook that no domain
	// needs is not registered: with nothing tracked, a client's message
	// only has its AMP rules checked, on the cheaper message/out event
	// (stanza/out is holdable, and unhooked it costs nothing).
	for _, d := range h.Router.Hosts() {
		if m.enabled(c.Notify, d) {
			s.notifyOn[d] = true
		}
		if m.enabled(c.Track, d) {
			s.trackOn[d] = true
		}
	}
	if len(s.trackOn) > 0 {
		h.Hook(router.EvStanzaOut, 0, s.outgoing)
	} else {
		h.Hook(router.EvMessageOut, 100, s.checkRules)
	}
	// Always: an entry tracked before a restart that turned tracking off
	// is still completed by its notice rather than timing out.
	h.Hook(router.EvStanzaIn, 200, s.incoming)
	if len(s.notifyOn) > 0 {
		h.Hook(router.EvMessageDelivered, -10, s.delivered)
		h.Hook(router.EvMessageStored, 0, s.stored)
	}
	s.start()
	return nil
}

// Close stops the module's writer and scanner (tests; the server runs
// them for its lifetime).
func (m *Module) Close() {
	m.mu.Lock()
	s := m.svc
	m.svc = nil
	m.mu.Unlock()
	if s != nil {
		s.stop()
	}
}

// enabled reports whether mode applies to a local domain.
func (m *Module) enabled(mode, domain string) bool {
	switch mode {
	case ModeAll:
		return true
	case ModeDirect:
		return slices.Contains(m.Cfg.Domains, domain) || (m.Direct != nil && m.Direct(domain))
	}
	return false
}
