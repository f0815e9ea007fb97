package module

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Module is one feature of the server. Name is how the configuration
// calls it: its own section ([name], when it is Configurable) and the name
// modules_disabled lists. Register declares everything the module does on
// the Host: handlers, hooks, features, services; it runs once at start-up,
// in the order of the module list.
type Module interface {
	Name() string
	Register(h *Host) error
}

// Configurable is a module with a configuration section of its own:
// Config returns a pointer to the section's struct holding the defaults
// (TOML tags name the keys); the section is decoded into it, and every
// unknown key or wrong type reported, before Register.
type Configurable interface {
	Config() any
}

// Host is what a module registers against. Handler keys are checked: the
// same iq, nonza or service registered twice fails the start-up, naming
// both modules.
type Host struct {
	Router  *router.Router
	Store   storage.Store
	Log     *slog.Logger          // with module=<name>
	Metrics prometheus.Registerer // a module's own collectors; names start with tern_<module>_
	Now     func() time.Time

	// Filled by the modules, read by the transports.
	preAuthIQ       []PreAuthIQ
	preAuthFeatures []func(domain string) []*xml.Element

	name     string
	base     *slog.Logger
	owners   map[string]string // handler key -> the module that registered it
	provided map[string]any
	errs     []error
}

// PreAuthIQ answers an iq before authentication (XEP-0077 registration);
// a nil reply means not handled.
type PreAuthIQ func(ctx context.Context, domain, remoteAddr string, tls bool, iq *xml.Element) *xml.Element

// NewHost returns a host for modules; log is the server's logger.
func NewHost(r *router.Router, store storage.Store, log *slog.Logger, metrics prometheus.Registerer, now func() time.Time) *Host {
	if now == nil {
		now = time.Now
	}
	return &Host{Router: r, Store: store, Log: log, Metrics: metrics, Now: now, base: log,
		owners: map[string]string{}, provided: map[string]any{}}
}

// Load registers the modules in order, skipping the disabled ones, and
// returns every registration error at once.
func (h *Host) Load(mods []Module, disabled map[string]bool) error {
	for _, m := range mods {
		if disabled[m.Name()] {
			h.base.Info("module disabled (modules_disabled)", "module", m.Name())
			continue
		}
		h.name = m.Name()
		h.Log = h.base.With("module", m.Name())
		if err := m.Register(h); err != nil {
			h.errs = append(h.errs, fmt.Errorf("module %s: %w", m.Name(), err))
		}
	}
	h.name, h.Log = "", h.base
	return errors.Join(h.errs...)
}

// claim records that the current module registers key; a second claim is
// an error naming both.
func (h *Host) claim(key string) bool {
	if prev, ok := h.owners[key]; ok {
		h.errs = append(h.errs, fmt.Errorf("module %s: %s is registered already by module %s", h.name, key, prev))
		return false
	}
	h.owners[key] = h.name
	return true
}

func (h *Host) fail(err error) {
	if err != nil {
		h.errs = append(h.errs, fmt.Errorf("module %s: %w", h.name, err))
	}
}

// HandleIQ answers iq get or set in namespace ns for targets
// (router.HandleIQ); the namespace goes into disco#info.
func (h *Host) HandleIQ(targets router.Target, typ, ns string, fn router.IQFunc) {
	h.HandleIQOn(targets, typ, ns, nil, fn)
}

// HandleIQOn is HandleIQ for a feature only some domains offer
// (router.HandleIQOn): disco lists it where on is true.
func (h *Host) HandleIQOn(targets router.Target, typ, ns string, on func(domain string) bool, fn router.IQFunc) {
	for t := router.Host; t <= router.Account; t <<= 1 {
		if targets&t != 0 && !h.claim(fmt.Sprintf("iq %s %s for %s", typ, ns, t)) {
			return
		}
	}
	h.fail(h.Router.HandleIQOn(targets, typ, ns, on, fn))
}

// Hook runs fn on an event (router.Hook); higher priorities run first.
func (h *Host) Hook(event string, prio int, fn router.HookFunc) { h.Router.Hook(event, prio, fn) }

// HandleNonza handles top-level elements of a namespace from bound
// clients, with the stream feature to offer (nil: none).
func (h *Host) HandleNonza(ns string, feature *xml.Element, fn router.NonzaFunc) {
	if h.claim("top-level elements in " + ns) {
		h.fail(h.Router.HandleNonza(ns, feature, fn))
	}
}

// AddFeature advertises a disco#info feature that is no iq namespace.
func (h *Host) AddFeature(t router.Target, ns string) { h.Router.AddFeature(t, ns) }

// AddIdentity adds a disco#info identity.
func (h *Host) AddIdentity(t router.Target, id router.Identity) { h.Router.AddIdentity(t, id) }

// AddInfoForm adds an extended disco#info form (XEP-0128) per host.
func (h *Host) AddInfoForm(fn router.FormFunc) { h.Router.AddInfoForm(fn) }

// AddService hosts an entity on a domain of its own (conference.,
// upload., groupchat.): it gets every stanza to that domain and appears in
// its parent's disco#items.
func (h *Host) AddService(s router.Service) {
	if h.claim("service " + s.Domain) {
		h.fail(h.Router.AddService(s))
	}
}

// HandlePreAuthIQ answers iq stanzas before authentication (c2s).
func (h *Host) HandlePreAuthIQ(fn PreAuthIQ) { h.preAuthIQ = append(h.preAuthIQ, fn) }

// AddPreAuthFeatures adds stream features offered before authentication.
func (h *Host) AddPreAuthFeatures(fn func(domain string) []*xml.Element) {
	h.preAuthFeatures = append(h.preAuthFeatures, fn)
}

// PreAuthIQ is what the c2s server calls before authentication: the first
// module's answer.
func (h *Host) PreAuthIQ(ctx context.Context, domain, remoteAddr string, tls bool, iq *xml.Element) *xml.Element {
	for _, fn := range h.preAuthIQ {
		if r := fn(ctx, domain, remoteAddr, tls, iq); r != nil {
			return r
		}
	}
	return nil
}

// PreAuthFeatures is what the c2s server offers before authentication.
func (h *Host) PreAuthFeatures(domain string) []*xml.Element {
	var out []*xml.Element
	for _, fn := range h.preAuthFeatures {
		out = append(out, fn(domain)...)
	}
	return out
}

// Provide offers v to the modules registered after this one, under the
// current module's name (see Depend).
func (h *Host) Provide(v any) { h.provided[h.name] = v }

// Depend returns what module name provided, as the interface T the caller
// needs: a module says what it needs of another, not which type the other
// is. It fails when name is disabled, listed later, or provides no T.
func Depend[T any](h *Host, name string) (T, error) {
	var zero T
	v, ok := h.provided[name]
	if !ok {
		return zero, fmt.Errorf("needs module %s (enabled and listed before it)", name)
	}
	t, ok := v.(T)
	if !ok {
		return zero, fmt.Errorf("module %s does not provide %T", name, &zero)
	}
	return t, nil
}

// Feature is a module that only advertises disco#info features, for what
// the server does by passing stanzas through untouched (receipts).
type Feature struct {
	ModuleName string
	Target     router.Target
	Namespaces []string
}

// Name implements Module.
func (f Feature) Name() string { return f.ModuleName }

// Register implements Module.
func (f Feature) Register(h *Host) error {
	for _, ns := range f.Namespaces {
		h.AddFeature(f.Target, ns)
	}
	return nil
}
