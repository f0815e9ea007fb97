package muc

import (
	"context"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Room archives (XEP-0313 §5.1.2, "MUC archives"): every groupchat
// message with a body is kept in the history store (owner: the room's
// JID, archive "muc", peer: the sender's real bare JID) by a
// storage.Writer, and gets the archive id as its <stanza-id by='room'/>
// before it is sent to the occupants. The archive answers queries to the
// room's JID from whoever may enter the room (not outcasts; members only
// in a members-only room), with the room's visibility: a result carries
// the sender's real JID only to those who may see real JIDs.

// ArchiveName is the history store's name of room archives.
const ArchiveName = "muc"

// Namespaces of archiving.
const (
	NSMAM   = "urn:xmpp:mam:2"
	NSSID   = "urn:xmpp:sid:0"
	NSHints = "urn:xmpp:hints"
)

// Archives is what the room archive needs of the mam module (which
// provides it): answering a query on an archive of the history store.
type Archives interface {
	Answer(ctx context.Context, h storage.History, archive, owner, from, to string, q *xml.Element,
		deliver func(*xml.Element) bool, show func(storage.Entry) (xml.Node, bool)) (*xml.Element, error)
}

// archiveMessage queues msg (as the occupants get it, before its
// stanza-id) and returns its id, or "" when rooms are not archived or the
// sender asked not to store it (XEP-0334).
func (m *Module) archiveMessage(r *Room, from *occupant, st *router.Stanza, msg *xml.Element, at time.Time) string {
	if m.w == nil || st.El.Child(NSHints, "no-store") != nil || st.El.Child(NSHints, "no-permanent-store") != nil {
		return ""
	}
	return m.w.Add(storage.Entry{Owner: r.jid.String(), Archive: ArchiveName, Time: at, Peer: from.bare.String(), Payload: xml.Append(nil, msg, "")})
}

// archiveQuery answers a MAM query to the room (§5.1.2); r.mu is held.
// The results and the <fin/> go out later, from another goroutine.
func (r *Room) archiveQuery(ctx context.Context, m *Module, st *router.Stanza, p *xml.Element) *stanza.Error {
	if m.w == nil {
		return stanza.ErrFeatureNotImplemented.WithText("this service keeps no room archives")
	}
	if st.Type == "get" {
		return stanza.ErrFeatureNotImplemented.WithText("ask the room's archive with a query set")
	}
	bare := st.From.Bare().String()
	aff := r.affiliation(bare)
	switch {
	case aff == Outcast:
		return stanza.ErrForbidden.WithText("you are banned from this room")
	case r.cfg.MembersOnly && aff == NoAff:
		return stanza.ErrForbidden.WithText("the archive of a members-only room is for its members")
	}
	o := r.occupantAt(st.From.String())
	in := o != nil
	if r.cfg.Password != "" && !in && affRank[aff] < affRank[Member] {
		return stanza.ErrForbidden.WithText("the archive of a password-protected room is for its occupants and members")
	}
	seeJIDs := r.nonAnonymous() || aff == Owner || aff == Admin || in && r.seesJIDs(o)
	if !seeJIDs && filtersByRealJID(p) {
		// The entries' peer is the sender's real JID: filtering by one
		// would tell who is behind a nick.
		return stanza.ErrForbidden.WithText("in this room only moderators may filter by a real JID; use with = room@service/nick")
	}
	room, to := r.jid.String(), st.From.String()
	go func() {
		qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := m.w.Sync(qctx); err != nil {
			m.log.Warn("room archive query before pending writes finished", "room", room, "err", err)
		}
		show := func(e storage.Entry) (xml.Node, bool) {
			el, err := xml.Parse(e.Payload)
			if err != nil {
				return nil, false
			}
			if seeJIDs && e.Peer != "" {
				el.Append(xml.New(NSUser, "x").Append(xml.New(NSUser, "item", "jid", e.Peer)))
			}
			return el, true
		}
		if !seeJIDs {
			show = nil // as archived: from room/nick, no real JID
		}
		fin, err := m.archives.Answer(qctx, m.hist, ArchiveName, room, room, to, p, func(el *xml.Element) bool { m.send(qctx, el); return true }, show)
		if err != nil {
			e, ok := err.(*stanza.Error)
			if !ok {
				e = stanza.ErrInternalServerError
			}
			m.r.ReplyError(qctx, st, e)
			return
		}
		m.reply(qctx, st, fin)
	}()
	return nil
}

// filtersByRealJID: a query form whose 'with' is a bare JID (matched
// against the senders' real JIDs) rather than an occupant JID.
func filtersByRealJID(q *xml.Element) bool {
	x := q.Child(NSData, "x")
	if x == nil {
		return false
	}
	for _, f := range x.Elements() {
		if f.Name == "field" && f.Attr("var") == "with" {
			v := strings.TrimSpace(f.ChildText(NSData, "value"))
			if j, err := jid.Parse(v); v != "" && (err != nil || j.Resource() == "") {
				return true
			}
		}
	}
	return false
}

// forgetArchive removes a room's archive once it is gone (destroyed, or a
// temporary room left empty), after the writes queued for it.
func (m *Module) forgetArchive(room string) {
	if m.w == nil {
		return
	}
	go func() {
		// Until it is removed the room cannot be made again (forgetting):
		// a new room would show the old one's messages, and their
		// senders' real JIDs, to its owner. Tried for ten minutes.
		defer func() { m.mu.Lock(); delete(m.forgetting, room); m.mu.Unlock() }()
		for try := 0; try < 60; try++ {
			if try > 0 {
				time.Sleep(10 * time.Second)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			err := m.w.Sync(ctx)
			if err == nil {
				err = m.hist.DeleteOwner(ctx, room, ArchiveName)
			}
			cancel()
			if err == nil {
				return
			}
			m.log.Error("the archive of a room that is gone is not removed yet; the room cannot be made again until it is", "room", room, "err", err)
		}
	}()
}
