package muc

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// ModuleConfig is the [muc] section.
type ModuleConfig struct {
	// Name is the service's label: the service is <name>.<domain>;
	// Direct domains use groupchat (TIM+).
	Name string `toml:"name"`
	// MaxRooms bounds the rooms of one service.
	MaxRooms int `toml:"max_rooms"`
	// MaxOccupants is a room's default (and highest) occupant limit.
	MaxOccupants int `toml:"max_occupants"`
	// HistoryLength is a new room's discussion history, in messages.
	HistoryLength int `toml:"history_length"`
	// MaxSubject bounds a subject, in bytes.
	MaxSubject int `toml:"max_subject"`
	// JoinsPerMinute bounds the rooms one user may enter (or create) a
	// minute, whatever the room (0: no bound): a join flood is refused.
	JoinsPerMinute int `toml:"joins_per_minute"`
	// Archive keeps every room's messages for XEP-0313 queries to the
	// room (on by default).
	Archive bool `toml:"archive"`
}

// Validate checks the section.
func (c *ModuleConfig) Validate() error {
	if c.Name == "" {
		return fmt.Errorf("[muc] name is empty: the service is <name>.<domain> (conference)")
	}
	if c.MaxRooms < 1 || c.MaxOccupants < 1 || c.HistoryLength < 0 || c.MaxSubject < 1 || c.JoinsPerMinute < 0 {
		return fmt.Errorf("[muc] max_rooms, max_occupants and max_subject: 1 or more; history_length and joins_per_minute: 0 or more")
	}
	return nil
}

// Module is the multi-user chat service of every served domain.
type Module struct {
	cfg    ModuleConfig
	Direct func(domain string) bool // Direct domains: groupchat.<domain>, non-anonymous rooms

	r        *router.Router
	store    storage.Archive
	hist     storage.History
	w        *storage.Writer // room archives; nil when off
	archives Archives        // the mam module's queries
	log      *slog.Logger
	now      func() time.Time
	secret   []byte

	joins *ratelimit.Window // joins per bare JID

	mu         sync.Mutex
	rooms      map[string]*Room // room bare JID -> room
	forgetting map[string]bool  // rooms gone whose archive is being removed: not made again meanwhile
}

// New returns the module with its defaults.
func New() *Module {
	return &Module{cfg: ModuleConfig{Name: "conference", MaxRooms: 10000, MaxOccupants: 1000, HistoryLength: 20, MaxSubject: 1024, JoinsPerMinute: 30, Archive: true}}
}

// WithDirect says which domains are Direct (their service is groupchat.<domain>).
func (m *Module) WithDirect(direct func(domain string) bool) *Module {
	m.Direct = direct
	return m
}

// Name implements module.Module.
func (*Module) Name() string { return "muc" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.cfg }

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	if m.Direct == nil {
		m.Direct = func(string) bool { return false }
	}
	m.r, m.log, m.now, m.store = h.Router, h.Log, h.Now, h.Store.Archive()
	m.rooms, m.forgetting = map[string]*Room{}, map[string]bool{}
	if m.cfg.Archive {
		a, err := module.Depend[Archives](h, "mam")
		if err != nil {
			h.Log.Warn("rooms are not archived: [muc] archive needs the mam module", "err", err)
		} else {
			m.archives, m.hist = a, h.Store.History()
			m.w = storage.NewWriter(m.hist, m.log)
			if err := m.w.StartAbove(ArchiveName); err != nil {
				return err
			}
			h.Router.OnSync(m.w.SyncKept)
		}
	}
	m.joins = ratelimit.NewWindow(m.cfg.JoinsPerMinute, time.Minute)
	h.Hook(router.EvStopping, 0, func(ev *router.Event) bool { m.stopping(ev.Ctx); return false })
	m.secret = make([]byte, 32)
	rand.Read(m.secret)
	for _, host := range h.Router.Hosts() {
		name := m.cfg.Name
		if m.Direct(host) {
			name = "groupchat"
		}
		domain := name + "." + host
		direct := m.Direct(host)
		h.AddService(router.Service{Domain: domain, Parent: host, Name: "Chatrooms",
			Identities: []router.Identity{{Category: "conference", Type: "text", Name: "Chatrooms"}},
			Features:   []string{NS, NSItems, NSDiscoInfo, NSOccupant},
			Handle:     func(ctx context.Context, st *router.Stanza) bool { return m.handle(ctx, domain, direct, st) }})
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		err := m.load(ctx, domain, direct)
		cancel()
		if err != nil {
			return fmt.Errorf("muc: the persistent rooms of %s: %w", domain, err)
		}
	}
	return nil
}

// handle takes every stanza for the service or one of its rooms.
func (m *Module) handle(ctx context.Context, service string, direct bool, st *router.Stanza) bool {
	if st.El.Space == xml.NSServer {
		// From another server: its content in jabber:server, which the
		// room copies into stanzas for clients (jabber:client).
		c := *st
		c.El = clientNS(st.El.Copy())
		st = &c
	}
	if st.To.Local() == "" {
		return m.serviceIQ(ctx, service, st)
	}
	roomJID := st.To.Bare()
	switch st.Kind {
	case stanza.Presence:
		m.presence(ctx, roomJID, direct, st)
		return true
	case stanza.Message:
		r := m.room(roomJID)
		if r == nil {
			if st.Type != "error" {
				m.r.ReplyError(ctx, st, stanza.ErrItemNotFound.WithText("no such room"))
			}
			return true
		}
		r.message(ctx, m, st)
		return true
	case stanza.IQ:
		r := m.room(roomJID)
		if r == nil {
			if st.Type == "get" || st.Type == "set" {
				m.r.ReplyError(ctx, st, stanza.ErrItemNotFound.WithText("no such room"))
			}
			return true
		}
		r.iq(ctx, m, st)
		return true
	}
	return false
}

func (m *Module) room(j jid.JID) *Room {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rooms[j.String()]
}

// newRoomConfig is a new room's configuration (§10.1.3's defaults; on a
// Direct domain non-anonymous, as TIM+ requires).
func (m *Module) newRoomConfig(direct bool) Config {
	c := Config{MaxOccupants: m.cfg.MaxOccupants, WhoIs: "moderators", AllowPM: "anyone", HistoryLength: m.cfg.HistoryLength, Public: true}
	if direct {
		c.WhoIs = "anyone"
	}
	return c
}

// send routes a stanza the service made.
func (m *Module) send(ctx context.Context, el *xml.Element) {
	st, err := router.NewStanza(el)
	if err != nil {
		m.log.Error("muc: a stanza the service made does not parse", "err", err)
		return
	}
	m.r.Route(ctx, st)
}

// stopping tells every occupant it leaves its room because the service
// shuts down (status 332): occupants on other servers would otherwise
// stay in the room as their servers see it.
func (m *Module) stopping(ctx context.Context) {
	m.mu.Lock()
	rooms := slices.Collect(maps.Values(m.rooms))
	m.mu.Unlock()
	for _, r := range rooms {
		var out outbox
		func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			for _, n := range r.sortedNicks() {
				o := r.occupants[n]
				for full := range o.sessions {
					out = append(out, r.removed(o, o, full, []string{"110", "332"}))
				}
			}
		}()
		for _, el := range out {
			m.send(ctx, el)
		}
	}
}

// drop forgets a room (destroyed, or the last occupant of a temporary room left).
func (m *Module) drop(r *Room) {
	// Somebody may have joined since the last one left (between the
	// room's lock and this): then the room goes on. Once ended, a join
	// that finds it looks again (the locks are not nested: a room busy
	// with a slow store must not stop every other's lookups).
	r.mu.Lock()
	end := r.ended || len(r.occupants) == 0
	r.ended = end
	r.mu.Unlock()
	if !end {
		return
	}
	m.mu.Lock()
	gone := m.rooms[r.jid.String()] == r
	if gone {
		delete(m.rooms, r.jid.String())
		if m.w != nil {
			m.forgetting[r.jid.String()] = true
		}
	}
	m.mu.Unlock()
	if gone {
		m.forgetArchive(r.jid.String())
	}
}

// clientNS moves el and its descendants from jabber:server to jabber:client.
func clientNS(el *xml.Element) *xml.Element {
	if el.Space == xml.NSServer {
		el.Space = xml.NSClient
	}
	for _, c := range el.Elements() {
		clientNS(c)
	}
	return el
}
