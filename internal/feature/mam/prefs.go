package mam

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Preferences (XEP-0313 §6): a default (always, never, roster) and JIDs
// always or never archived, kept with the user's private XML under a
// namespace of tern's, read once and cached.

const prefsNS = "urn:tern:mam:prefs"

type prefs struct {
	Default       string
	Always, Never []string // bare JIDs
}

// maxPrefJIDs bounds each list.
const maxPrefJIDs = 500

type prefCache struct {
	px  storage.PrivateXML
	def string
	mu  sync.Mutex
	m   map[string]*prefs
}

func newPrefCache(px storage.PrivateXML, def string) *prefCache {
	return &prefCache{px: px, def: def, m: map[string]*prefs{}}
}

func (c *prefCache) forget(owner string) {
	c.mu.Lock()
	delete(c.m, owner)
	c.mu.Unlock()
}

// of returns owner's preferences (the server default when none are set).
func (c *prefCache) of(ctx context.Context, owner string) (*prefs, error) {
	c.mu.Lock()
	p, ok := c.m[owner]
	c.mu.Unlock()
	if ok {
		return p, nil
	}
	p = &prefs{Default: c.def}
	b, err := c.px.GetPrivate(ctx, owner, prefsNS)
	switch {
	case errors.Is(err, storage.ErrNotFound):
	case err != nil:
		return nil, err
	default:
		if el, err := xml.Parse(b); err == nil {
			p = parsePrefs(el, c.def)
		}
	}
	c.mu.Lock()
	if len(c.m) >= maxCachedPrefs {
		// Bounded: some go (the map's order is random), to be read again
		// as needed; clearing all at once made every message read the
		// store once a server had more active users than the bound.
		n := 0
		for k := range c.m {
			delete(c.m, k)
			if n++; n >= maxCachedPrefs/16 {
				break
			}
		}
	}
	c.m[owner] = p
	c.mu.Unlock()
	return p, nil
}

// maxCachedPrefs bounds the cache (about 100 bytes an entry).
const maxCachedPrefs = 100_000

// keep reports whether a message between owner and peer is archived.
func (c *prefCache) keep(ctx context.Context, store storage.Store, owner, peer string) (bool, error) {
	p, err := c.of(ctx, owner)
	if err != nil {
		return true, err
	}
	switch {
	case slices.Contains(p.Never, peer):
		return false, nil
	case slices.Contains(p.Always, peer) || p.Default == "always":
		return true, nil
	case p.Default == "never":
		return false, nil
	}
	// roster: only contacts (and the user's own other resources).
	if peer == owner {
		return true, nil
	}
	_, err = store.Roster().Item(ctx, owner, peer)
	if errors.Is(err, storage.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func parsePrefs(el *xml.Element, def string) *prefs {
	p := &prefs{Default: el.Attr("default")}
	switch p.Default {
	case "always", "never", "roster":
	default:
		p.Default = def
	}
	list := func(name string) []string {
		var out []string
		if l := el.Child(NS, name); l != nil {
			for _, j := range l.Elements() {
				if j.Name != "jid" {
					continue
				}
				if b, err := jid.Parse(strings.TrimSpace(j.Text())); err == nil {
					out = append(out, b.Bare().String())
				}
			}
		}
		return out
	}
	p.Always, p.Never = list("always"), list("never")
	return p
}

func (p *prefs) element() *xml.Element {
	el := xml.New(NS, "prefs", "default", p.Default)
	for _, l := range []struct {
		name string
		jids []string
	}{{"always", p.Always}, {"never", p.Never}} {
		x := xml.New(NS, l.name)
		for _, j := range l.jids {
			x.Append(xml.New(NS, "jid").SetText(j))
		}
		el.Append(x)
	}
	return el
}

// setPrefs answers <prefs/> set: stored, then the preferences as they now are.
func (m *Module) setPrefs(iq *router.IQ, el *xml.Element) (*xml.Element, error) {
	switch el.Attr("default") {
	case "always", "never", "roster":
	default:
		return nil, stanza.ErrBadRequest.WithText("prefs default must be always, never or roster")
	}
	p := parsePrefs(el, m.cfg.Default)
	if len(p.Always) > maxPrefJIDs || len(p.Never) > maxPrefJIDs {
		return nil, stanza.ErrPolicyViolation.WithText("at most 500 JIDs in each of always and never")
	}
	owner := iq.From.Bare().String()
	if err := m.store.PrivateXML().SetPrivate(iq.Ctx, owner, prefsNS, xml.Append(nil, p.element(), ""), 0, 0); err != nil {
		m.log.Error("archive preferences not stored", "owner", owner, "err", err)
		return nil, stanza.ErrInternalServerError.WithText("the preferences could not be stored")
	}
	m.prefs.forget(owner)
	return p.element(), nil
}
