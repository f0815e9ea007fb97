package mam

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces used.
const (
	NS         = "urn:xmpp:mam:2"
	NSExtended = "urn:xmpp:mam:2#extended"
	NSSID      = "urn:xmpp:sid:0"
	NSRSM      = "http://jabber.org/protocol/rsm"
	NSForward  = "urn:xmpp:forward:0"
	NSDelay    = "urn:xmpp:delay"
	NSData     = "jabber:x:data"
	NSHints    = "urn:xmpp:hints"
	NSCarbons  = "urn:xmpp:carbons:2"
)

// Archive is the archive store's name of user archives.
const Archive = "mam"

// Config is the [mam] section.
type Config struct {
	// Enabled turns archiving on (the default).
	Enabled bool `toml:"enabled"`
	// Default is what is archived for a user who set no preferences:
	// always, roster (only with contacts in the roster) or never.
	Default string `toml:"default"`
	// RetentionDays removes entries older than that (0: kept).
	RetentionDays int `toml:"retention_days"`
	// MaxPerUser keeps each user's newest entries only (0: no bound).
	MaxPerUser int `toml:"max_per_user"`
	// MaxPage bounds the results of one query (RSM max above it is cut).
	MaxPage int `toml:"max_page"`
}

// Validate checks the section (at start-up and by tern check).
func (c *Config) Validate() error {
	switch c.Default {
	case "always", "roster", "never":
	default:
		return fmt.Errorf("[mam] default = %q: always, roster or never", c.Default)
	}
	if c.RetentionDays < 0 || c.MaxPerUser < 0 {
		return fmt.Errorf("[mam] retention_days and max_per_user: 0 (no bound) or more")
	}
	if c.MaxPage < 1 || c.MaxPage > 1000 {
		return fmt.Errorf("[mam] max_page = %d: from 1 to 1000", c.MaxPage)
	}
	return nil
}

// Module is the user archive.
type Module struct {
	cfg   Config
	r     *router.Router
	a     storage.History
	eng   *Engine
	store storage.Store
	prefs *prefCache
	log   *slog.Logger
	now   func() time.Time
	w     *storage.Writer
}

// New returns the module with its default configuration.
func New() *Module {
	return &Module{cfg: Config{Enabled: true, Default: "always", MaxPage: 250}}
}

// Answer answers the XEP-0313 query element q on owner's entries of
// archive in h (another module's archive: a room's, where 'with' may
// name an occupant as room/nick), sending the results
// through deliver from from to to, and returns the <fin/> or a stanza
// error. show renders an entry (nil: as archived).
func (m *Module) Answer(ctx context.Context, h storage.History, archive, owner, from, to string, q *xml.Element,
	deliver func(*xml.Element) bool, show func(storage.Entry) (xml.Node, bool)) (*xml.Element, error) {
	e := &Engine{H: h, Archive: archive, MaxPage: m.cfg.MaxPage, Log: m.log, WithOccupant: true}
	req, err := e.Parse(q)
	if err != nil {
		return nil, err
	}
	return e.Run(ctx, owner, from, to, req, deliver, show)
}

// Name implements module.Module.
func (*Module) Name() string { return "mam" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.cfg }

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	m.log = h.Log
	h.Provide(m) // Answer: queries on other modules' archives (rooms), user archives on or off
	if !m.cfg.Enabled {
		return nil
	}
	m.r, m.store, m.a, m.now = h.Router, h.Store, h.Store.History(), h.Now
	m.prefs = newPrefCache(h.Store.PrivateXML(), m.cfg.Default)
	m.w = storage.NewWriter(m.a, m.log)
	if err := m.w.StartAbove(Archive); err != nil {
		return err
	}
	m.eng = &Engine{H: m.a, Archive: Archive, MaxPage: m.cfg.MaxPage, Log: m.log}
	h.Router.OnSync(m.w.SyncKept)
	// Archived last, after every hook that may refuse or change the
	// message: the archive holds what was accepted for delivery.
	h.Hook(router.EvStanzaIn, -100, m.incoming)
	h.Hook(router.EvMessageOut, -100, m.outgoing) // after the block list and every refusal of a sent message
	h.AddFeature(router.Self, NS)
	h.AddFeature(router.Self, NSExtended)
	h.AddFeature(router.Self, NSSID)
	h.HandleIQ(router.Self, "set", NS, m.query)
	h.HandleIQ(router.Self, "get", NS, m.get)
	h.Hook(router.EvAccountDeleting, 0, func(ev *router.Event) bool {
		m.prefs.forget(ev.Account.String())
		return false
	})
	if m.cfg.RetentionDays > 0 || m.cfg.MaxPerUser > 0 {
		go m.retain()
	}
	return nil
}

// archivable: XEP-0313 §5.1.1: chat and normal messages with a body (or
// an end-to-end encrypted payload, which has none to show); never errors,
// groupchat (a room keeps its own archive), headlines, what the server
// made of other messages (carbons, MAM results), or what the sender asked
// not to be stored (XEP-0334).
func archivable(st *router.Stanza) bool {
	if st.Kind != stanza.Message || (st.Type != "" && st.Type != "normal" && st.Type != "chat") {
		return false
	}
	el := st.El
	if el.Child(NSHints, "no-store") != nil || el.Child(NSHints, "no-permanent-store") != nil {
		return false
	}
	if el.Child(NSCarbons, "sent") != nil || el.Child(NSCarbons, "received") != nil || el.Child(NS, "result") != nil {
		return false
	}
	if el.Child(xml.NSClient, "body") != nil || el.Child("", "body") != nil {
		return true
	}
	for _, c := range el.Elements() {
		switch c.Space {
		case "eu.siacs.conversations.axolotl", "urn:xmpp:omemo:2", "urn:xmpp:openpgp:0", "jabber:x:encrypted":
			return true
		}
	}
	return false
}

// incoming archives a message for a local user (owner: the recipient) and
// gives it the archive id as its stanza-id before it is delivered.
func (m *Module) incoming(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message || st.Rerouted || st.To.Local() == "" || !m.r.IsLocal(st.To.Domain()) {
		return false // (a message routed again once a session lost it was archived, with its stanza-id, the first time)
	}
	owner := st.To.Bare()
	// XEP-0359 §4: a stanza-id claiming to be ours that came from outside
	// is removed, whether this message is archived or not.
	removeOurs(st.El, owner)
	if !archivable(st) {
		return false
	}
	if !m.r.RecipientExists(ev.Ctx, st) {
		return false // it bounces (RFC 6121 §8.5.1); an account made later under that name must not find it
	}
	if id := m.archive(ev, owner, st.From.Bare(), false, sentBy.OfStanza(st)); id != "" {
		st.El.Append(xml.New(NSSID, "stanza-id", "by", owner.String(), "id", id))
	}
	return false
}

// outgoing archives a message a local user sends (owner: the sender).
func (m *Module) outgoing(ev *router.Event) bool {
	st := ev.Stanza
	if !archivable(st) || st.From.Local() == "" || st.To.Local() == "" && st.To.Domain() == "" || st.To.Bare().Equal(st.From.Bare()) {
		return false // (to oneself: one entry, the incoming one, with its stanza-id)
	}
	m.archive(ev, st.From.Bare(), st.To.Bare(), true, nil)
	return false
}

// sent is the sender's entry of a message to a local user: if the
// message reaches the recipient's archive unchanged, the entry is
// mirrored there (one payload for both archives) rather than copied.
type sent struct {
	id          string
	owner, peer string // of the sender's entry
	t           storage.Ticket
}

var sentBy = router.NewKey[*sent]("mam sent")

// archive queues the message for owner's archive, if owner's preferences
// keep messages with peer, and returns its id ("" if not kept). The
// message is not held: the writer puts it in storage behind it (and
// Sync, before any acknowledgement, waits for that). out: owner is the
// sender; else prev is the sender's entry, if it had one.
func (m *Module) archive(ev *router.Event, owner, peer jid.JID, out bool, prev *sent) string {
	keep, err := m.prefs.keep(ev.Ctx, m.store, owner.String(), peer.String())
	if err != nil {
		m.log.Error("archive preferences not read; the message is archived", "owner", owner.String(), "err", err)
		keep = true
	}
	if !keep {
		return ""
	}
	buf := bufs.Get().(*[]byte)
	defer func() {
		if cap(*buf) <= 64<<10 {
			bufs.Put(buf)
		}
	}()
	*buf = xml.Append((*buf)[:0], ev.Stanza.El, "")
	if prev != nil && prev.owner == peer.String() && prev.peer == owner.String() && bytes.Equal(prev.t.Payload, *buf) && m.w.Mirror(prev.t) {
		return prev.id
	}
	id, t := m.w.AddTicket(storage.Entry{Owner: owner.String(), Archive: Archive, Time: m.now(), Peer: peer.String(), Payload: *buf}) // copied
	if out && !owner.Equal(peer) && peer.Local() != "" && m.r.IsLocal(peer.Domain()) {
		sentBy.SetStanza(ev.Stanza, &sent{id: id, owner: owner.String(), peer: peer.String(), t: t})
	}
	return id
}

// bufs are serialization buffers (the writer copies what it keeps).
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// removeOurs drops the stanza-ids that claim to be by owner (in any
// spelling of that JID). The children are copied, not compacted in
// place: readdressed copies of a stanza share them.
func removeOurs(el *xml.Element, owner jid.JID) {
	ours := func(n xml.Node) bool {
		c, ok := n.(*xml.Element)
		if !ok || c.Space != NSSID || c.Name != "stanza-id" {
			return false
		}
		by, err := jid.Parse(c.Attr("by"))
		return err == nil && by.Equal(owner)
	}
	if !slices.ContainsFunc(el.Children, ours) {
		return
	}
	keep := make([]xml.Node, 0, len(el.Children))
	for _, n := range el.Children {
		if !ours(n) {
			keep = append(keep, n)
		}
	}
	el.Children = keep
}

// retain applies retention_days and max_per_user every hour.
func (m *Module) retain() {
	for {
		r := storage.Retention{KeepPerOwner: m.cfg.MaxPerUser}
		if m.cfg.RetentionDays > 0 {
			r.Before = m.now().Add(-time.Duration(m.cfg.RetentionDays) * 24 * time.Hour)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		n, err := m.a.Expire(ctx, Archive, r)
		cancel()
		switch {
		case err != nil:
			m.log.Error("archive retention not applied; retried in an hour", "err", err)
		case n > 0:
			m.log.Info("archive retention applied", "removed", n)
		}
		time.Sleep(time.Hour)
	}
}
