package muc

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"sort"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces used.
const (
	NS          = "http://jabber.org/protocol/muc"
	NSUser      = "http://jabber.org/protocol/muc#user"
	NSOwner     = "http://jabber.org/protocol/muc#owner"
	NSAdmin     = "http://jabber.org/protocol/muc#admin"
	NSOccupant  = "urn:xmpp:occupant-id:0"
	NSDelay     = "urn:xmpp:delay"
	NSData      = "jabber:x:data"
	NSRoomInfo  = "http://jabber.org/protocol/muc#roominfo"
	NSRoomConf  = "http://jabber.org/protocol/muc#roomconfig"
	NSDiscoInfo = "http://jabber.org/protocol/disco#info"
	NSItems     = "http://jabber.org/protocol/disco#items"
	NSPing      = "urn:xmpp:ping"
)

// Affiliations and roles (§5).
const (
	Owner   = "owner"
	Admin   = "admin"
	Member  = "member"
	Outcast = "outcast"
	NoAff   = "none"

	Moderator   = "moderator"
	Participant = "participant"
	Visitor     = "visitor"
)

// Config is a room's configuration (the muc#roomconfig form, §10.2).
type Config struct {
	Name          string
	Description   string
	Persistent    bool
	Public        bool
	MembersOnly   bool
	Moderated     bool
	Password      string
	MaxOccupants  int
	WhoIs         string // "anyone" (non-anonymous) or "moderators" (semi-anonymous)
	ChangeSubject bool   // participants may change the subject
	AllowInvites  bool   // members may invite
	AllowPM       string // "anyone", "participants", "moderators", "none"
	HistoryLength int
}

// occupant is one nickname in a room: one bare JID, one or more of its
// sessions (§7.2.9: several resources under one nick).
type occupant struct {
	nick     string
	key      string // nick's PRECIS Nickname comparison key
	bare     jid.JID
	sessions map[string]*xml.Element // full JID -> its last presence (as sent, children kept)
	last     string                  // the session whose presence the others see: the latest to send one
	role     string
}

// historyItem is a message kept for discussion history.
type historyItem struct {
	msg *xml.Element // from room/nick, without 'to'
	at  time.Time
	n   int // its serialized length (maxchars)
}

// Room is one room of the service.
type Room struct {
	mu        sync.Mutex
	jid       jid.JID // room@service
	cfg       Config
	locked    bool                 // created, not yet configured (§10.1)
	occupants map[string]*occupant // nick -> occupant
	byFull    map[string]string    // occupant's full real JID -> nick
	affs      map[string]string    // bare JID -> affiliation (none is absent)
	subject   *xml.Element         // the last subject message (from room/nick)
	history   []historyItem
	secret    []byte // occupant-id key
	created   time.Time
	storeID   string                // the saved copy's archive id, for a persistent room
	limit     int                   // the service's occupant limit: the highest MaxOccupants an owner may set
	histBytes int                   // the serialized size of history
	invited   map[string]invitation // by the invitee's bare JID, for a decline (§7.8.2)
	dirty     bool                  // affiliations changed outside muc#admin (an invitation): to be saved
	ended     bool                  // destroyed, or dropped empty: a join that found it looks again
}

// Bounds of a room's memory, whatever its configuration: discussion
// history in bytes, sessions under one nickname (each is sent every
// message), invitations awaiting an answer.
const (
	maxHistoryBytes    = 512 << 10
	maxSessionsPerNick = 5
	maxPendingInvites  = 100
)

// invitation: who invited, and when (one unanswered after
// invitationLife is forgotten).
type invitation struct {
	by string // the inviter's full JID
	at time.Time
}

const invitationLife = 24 * time.Hour

// remember records an invitation of bare by by, within
// maxPendingInvites: the expired go first, then the oldest.
func (r *Room) remember(bare, by string, now time.Time) {
	if r.invited == nil {
		r.invited = map[string]invitation{}
	}
	if _, ok := r.invited[bare]; !ok && len(r.invited) >= maxPendingInvites {
		oldest := ""
		for k, inv := range r.invited {
			if now.Sub(inv.at) > invitationLife {
				delete(r.invited, k)
			} else if oldest == "" || inv.at.Before(r.invited[oldest].at) {
				oldest = k
			}
		}
		if len(r.invited) >= maxPendingInvites {
			delete(r.invited, oldest)
		}
	}
	r.invited[bare] = invitation{by: by, at: now}
}

// occupantAt is the occupant whose session full is, if any.
func (r *Room) occupantAt(full string) *occupant {
	nick, ok := r.byFull[full]
	if !ok {
		return nil
	}
	o := r.occupants[nick]
	if o == nil {
		delete(r.byFull, full) // never left behind by the room; not to be trusted if it were
	}
	return o
}

func newRoom(j jid.JID, cfg Config, limit int, secret []byte, now time.Time) *Room {
	return &Room{jid: j, cfg: cfg, limit: limit, locked: true, occupants: map[string]*occupant{}, byFull: map[string]string{},
		affs: map[string]string{}, secret: secret, created: now}
}

// affiliation of a bare JID.
func (r *Room) affiliation(bare string) string {
	if a, ok := r.affs[bare]; ok {
		return a
	}
	return NoAff
}

// defaultRole is the role an affiliation joins with (§5.1.2).
func (r *Room) defaultRole(aff string) string {
	switch aff {
	case Owner, Admin:
		return Moderator
	case Member:
		return Participant
	}
	if r.cfg.Moderated {
		return Visitor
	}
	return Participant
}

// nonAnonymous: every occupant sees real JIDs (§4.1).
func (r *Room) nonAnonymous() bool { return r.cfg.WhoIs == "anyone" }

// seesJIDs: may o see the real JIDs of others?
func (r *Room) seesJIDs(o *occupant) bool { return r.nonAnonymous() || o.role == Moderator }

// occupantID is XEP-0421's stable, opaque id of a bare JID in this room.
func (r *Room) occupantID(bare jid.JID) string {
	m := hmac.New(sha256.New, r.secret)
	m.Write([]byte(bare.String()))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// sortedNicks gives the occupants in a stable order.
func (r *Room) sortedNicks() []string {
	out := make([]string, 0, len(r.occupants))
	for n := range r.occupants {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// addHistory keeps msg for discussion history, within HistoryLength.
func (r *Room) addHistory(msg *xml.Element, at time.Time) {
	if r.cfg.HistoryLength <= 0 {
		return
	}
	it := historyItem{msg: msg, at: at, n: len(xml.Append(nil, msg, ""))}
	r.history = append(r.history, it)
	r.histBytes += it.n
	r.trimHistory()
}

// trimHistory drops the oldest messages past HistoryLength or maxHistoryBytes.
func (r *Room) trimHistory() {
	over := max(len(r.history)-r.cfg.HistoryLength, 0)
	bytes := r.histBytes
	for i := 0; i < over; i++ {
		bytes -= r.history[i].n
	}
	for over < len(r.history) && bytes > maxHistoryBytes {
		bytes -= r.history[over].n
		over++
	}
	if over > 0 {
		r.history = append(r.history[:0], r.history[over:]...)
		r.histBytes = bytes
	}
}
