package muc

import (
	"context"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
	"golang.org/x/text/secure/precis"
)

// outbox collects what a room sends while its lock is held; it is routed
// once the lock is released.
type outbox []*xml.Element

// presence handles presence to room@service/nick: joining (§7.2), a nick
// change (§7.6), a status change (§7.7), leaving (§7.14).
func (m *Module) presence(ctx context.Context, roomJID jid.JID, direct bool, st *router.Stanza) {
	if st.Type == "error" {
		return // an occupant's server bouncing our presence (§ 7.14 leaves it to policy)
	}
	nick := st.To.Resource()
	if st.Type != "" && st.Type != "unavailable" {
		return // subscriptions and probes have no meaning for a room
	}
	if nick == "" || st.Type == "" && !validNick(nick) {
		if st.Type == "" {
			m.r.ReplyError(ctx, st, stanza.ErrJIDMalformed.WithText("join a room as room@service/nickname, with a nickname of 1 to 64 characters in the PRECIS Nickname form (RFC 8266: no controls, no leading, trailing or double spaces)"))
		}
		return
	}
	if st.Type == "" && !m.inRoom(roomJID, st.From) && !m.joins.Add(st.From.Bare().String()) {
		m.r.ReplyError(ctx, st, stanza.ErrResourceConstraint.WithText("too many rooms entered this minute; wait a little"))
		return
	}
	var r *Room
	var out outbox
	var gone bool
	for try := 0; ; try++ {
		m.mu.Lock()
		r = m.rooms[roomJID.String()]
		created := false
		if r == nil && st.Type == "" && m.forgetting[roomJID.String()] {
			m.mu.Unlock()
			m.r.ReplyError(ctx, st, stanza.ErrResourceConstraint.WithText("this room was just removed; try again in a moment"))
			return
		}
		if r == nil && st.Type == "" {
			if len(m.rooms) >= m.cfg.MaxRooms {
				m.mu.Unlock()
				m.r.ReplyError(ctx, st, stanza.ErrResourceConstraint.WithText("this service has as many rooms as it keeps"))
				return
			}
			r = newRoom(roomJID, m.newRoomConfig(direct), m.cfg.MaxOccupants, m.secret, m.now())
			r.affs[st.From.Bare().String()] = Owner
			m.rooms[roomJID.String()] = r
			created = true
		}
		m.mu.Unlock()
		if r == nil {
			return // unavailable to a room that is gone
		}
		ended := false
		func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if ended = r.ended; ended {
				return // dropped since it was looked up: look again (a new room, or refused)
			}
			if st.Type == "unavailable" {
				out, gone = r.leave(st)
			} else {
				out = r.available(m, st, nick, created)
			}
		}()
		if !ended {
			break
		}
		if try == 2 {
			if st.Type == "" {
				m.r.ReplyError(ctx, st, stanza.ErrResourceConstraint.WithText("this room was just removed; try again in a moment"))
			}
			return
		}
	}
	if gone {
		m.drop(r)
	}
	for _, el := range out {
		m.send(ctx, el)
	}
}

// inRoom: full is an occupant session of the room (a presence update or a
// nick change, not a join).
func (m *Module) inRoom(roomJID, full jid.JID) bool {
	r := m.room(roomJID)
	if r == nil {
		return false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byFull[full.String()]
	return ok
}

// validNick: a nickname of 1 to 64 characters in the form the PRECIS
// Nickname profile (RFC 8266, as XEP-0045 §7.2.1 asks) gives it: no
// controls, no leading, trailing or doubled spaces, NFKC. A nickname the
// profile would change is refused rather than changed behind the
// client's back (its presence would come from another JID).
func validNick(n string) bool {
	if n == "" || len([]rune(n)) > 64 {
		return false
	}
	e, err := precis.Nickname.String(n)
	return err == nil && e == n
}

// nickTaken returns the occupant whose nickname equals nick under the
// profile's comparison (case-insensitive: "Bob" and "bob" are one nick).
func (r *Room) nickTaken(nick string) (*occupant, bool) {
	if o, ok := r.occupants[nick]; ok {
		return o, true
	}
	key := nickKey(nick)
	for _, o := range r.occupants {
		if o.key == key {
			return o, true
		}
	}
	return nil, false
}

// nickKey is the comparison key of a valid nickname (the nickname itself
// if the profile refuses it, which validNick has ruled out).
func nickKey(n string) string {
	if k, err := precis.Nickname.CompareKey(n); err == nil {
		return k
	}
	return n
}

// available is an available presence from a user to room/nick.
func (r *Room) available(m *Module, st *router.Stanza, nick string, created bool) outbox {
	full, bare := st.From.String(), st.From.Bare()
	x := st.El.Child(NS, "x")
	if o := r.occupantAt(full); o != nil {
		if o.nick != nick {
			return r.changeNick(st, o, nick)
		}
		o.sessions[full], o.last = presencePayload(st.El), full
		if x != nil {
			// A join from a session the room thinks is in (its leave was
			// lost, a client restarted): it gets the room's state again.
			return r.enter(m, o, full, x, nil, false)
		}
		return r.broadcastPresence(o, nil, false)
	}
	errorBack := func(e *stanza.Error) outbox {
		return outbox{errorPresence(st, e)}
	}
	aff := r.affiliation(bare.String())
	switch {
	case r.locked && aff != Owner:
		return errorBack(stanza.ErrItemNotFound.WithText("the room is being set up by its owner"))
	case aff == Outcast:
		return errorBack(stanza.ErrForbidden.WithText("you are banned from this room"))
	case r.cfg.MembersOnly && aff == NoAff:
		return errorBack(stanza.ErrRegistrationRequired.WithText("this room is for its members only"))
	}
	if o, taken := r.nickTaken(nick); taken && (!o.bare.Equal(bare) || o.nick != nick) {
		return errorBack(stanza.ErrConflict.WithText("that nickname is in use in this room"))
	}
	if r.cfg.Password != "" && aff != Owner && (x == nil || x.ChildText(NS, "password") != r.cfg.Password) {
		return errorBack(stanza.ErrNotAuthorized.WithText("this room needs a password"))
	}
	o, same := r.occupants[nick]
	if !same && r.cfg.MaxOccupants > 0 && len(r.occupants) >= r.cfg.MaxOccupants && aff != Owner && aff != Admin {
		return errorBack(stanza.ErrServiceUnavailable.WithText("the room is full"))
	}
	if same && len(o.sessions) >= maxSessionsPerNick {
		return errorBack(stanza.ErrResourceConstraint.WithText("at most 5 sessions may share one nickname in a room"))
	}
	if !same {
		o = &occupant{nick: nick, key: nickKey(nick), bare: bare, sessions: map[string]*xml.Element{}, role: r.defaultRole(aff)}
		r.occupants[nick] = o
	}
	o.sessions[full], o.last = presencePayload(st.El), full
	r.byFull[full] = nick
	delete(r.invited, bare.String())
	var codes []string
	if created {
		codes = append(codes, "201")
	}
	return r.enter(m, o, full, x, codes, !same)
}

// enter gives session full of o the room's state (§7.2.3): the others'
// presence, its own (110, with codes), the history it asked for, the
// subject. all: o's presence goes to everyone (a new occupant), else only
// to full (another session of a nick the others already know).
func (r *Room) enter(m *Module, o *occupant, full string, x *xml.Element, codes []string, all bool) outbox {
	var out outbox
	for _, n := range r.sortedNicks() {
		if n == o.nick {
			continue
		}
		p := r.presenceOf(r.occupants[n], o, nil)
		p.SetAttr("to", full)
		out = append(out, p)
	}
	if r.nonAnonymous() {
		codes = append([]string{"100"}, codes...)
	}
	if all {
		out = append(out, r.broadcastPresence(o, codes, true)...)
	} else {
		p := r.presenceOf(o, o, append([]string{"110"}, codes...))
		p.SetAttr("to", full)
		out = append(out, p)
	}
	out = append(out, r.historyFor(full, x, m.now())...)
	return append(out, r.subjectFor(full))
}

// changeNick: an occupant asks for another nickname (§7.6): unavailable
// with 303 under the old one, then available under the new.
func (r *Room) changeNick(st *router.Stanza, o *occupant, nick string) outbox {
	if other, taken := r.nickTaken(nick); taken && other != o {
		return outbox{errorPresence(st, stanza.ErrConflict.WithText("that nickname is in use in this room"))}
	}
	if len(o.sessions) > 1 {
		return outbox{errorPresence(st, stanza.ErrNotAcceptable.WithText("close your other sessions in this room before changing the nickname"))}
	}
	var out outbox
	for _, n := range r.sortedNicks() {
		to := r.occupants[n]
		for full := range to.sessions {
			p := r.presenceOf(o, to, withSelf(to == o, "303"))
			p.SetAttr("type", "unavailable")
			p.Child(NSUser, "x").Child(NSUser, "item").SetAttr("nick", nick)
			p.SetAttr("to", full)
			out = append(out, p)
		}
	}
	delete(r.occupants, o.nick)
	o.nick, o.key = nick, nickKey(nick)
	r.occupants[nick] = o
	for full := range o.sessions {
		r.byFull[full] = nick
		o.sessions[full], o.last = presencePayload(st.El), full
	}
	return append(out, r.broadcastPresence(o, nil, false)...)
}

// leave is an unavailable presence from a session of an occupant
// (§7.14); it reports whether the room is to go (temporary and empty).
func (r *Room) leave(st *router.Stanza) (outbox, bool) {
	full := st.From.String()
	o := r.occupantAt(full)
	if o == nil {
		return nil, false
	}
	nick := o.nick
	delete(r.byFull, full)
	delete(o.sessions, full)
	// The leaving session hears it leave.
	self := r.presenceOf(o, o, []string{"110"})
	self.SetAttr("type", "unavailable")
	self.SetAttr("to", full)
	out := outbox{self}
	status := clip(st.El.ChildText(xml.NSClient, "status"), 1024)
	if status != "" {
		self.Append(xml.New(xml.NSClient, "status").SetText(status))
	}
	if len(o.sessions) > 0 {
		return out, false // the nick stays with its other sessions
	}
	delete(r.occupants, nick)
	for _, n := range r.sortedNicks() {
		to := r.occupants[n]
		for f := range to.sessions {
			p := r.presenceOf(o, to, nil)
			p.SetAttr("type", "unavailable")
			p.SetAttr("to", f)
			if status != "" {
				p.Append(xml.New(xml.NSClient, "status").SetText(status))
			}
			out = append(out, p)
		}
	}
	return out, len(r.occupants) == 0 && !r.cfg.Persistent
}

// broadcastPresence sends o's presence to every session in the room; o's
// own sessions get 110 and, if self, codes.
func (r *Room) broadcastPresence(o *occupant, codes []string, self bool) outbox {
	var out outbox
	for _, n := range r.sortedNicks() {
		to := r.occupants[n]
		for full := range to.sessions {
			var c []string
			if to == o {
				c = append([]string{"110"}, codes...)
			}
			p := r.presenceOf(o, to, c)
			p.SetAttr("to", full)
			out = append(out, p)
		}
	}
	_ = self
	return out
}

func withSelf(self bool, code string) []string {
	if self {
		return []string{"110", code}
	}
	return []string{code}
}

// presenceOf is o's presence as to sees it: from room/nick, its show and
// status, the muc#user item (the real JID for those who may see it), the
// status codes, the occupant-id.
func (r *Room) presenceOf(o, to *occupant, codes []string) *xml.Element {
	p := xml.New(xml.NSClient, "presence", "from", r.jid.String()+"/"+o.nick)
	// The session that spoke last (§7.2.9 leaves it to the room); the
	// greatest full JID if that one left.
	last, lastFull := o.sessions[o.last], o.last
	if last == nil {
		lastFull = ""
		for full, pres := range o.sessions {
			if last == nil || full > lastFull {
				last, lastFull = pres, full
			}
		}
	}
	if last != nil {
		for _, c := range last.Elements() {
			p.Append(c.Copy())
		}
	}
	x := xml.New(NSUser, "x")
	item := xml.New(NSUser, "item", "affiliation", r.affiliation(o.bare.String()), "role", o.role)
	if r.seesJIDs(to) && lastFull != "" {
		item.SetAttr("jid", lastFull)
	}
	x.Append(item)
	for _, c := range codes {
		x.Append(xml.New(NSUser, "status", "code", c))
	}
	p.Append(x, xml.New(NSOccupant, "occupant-id", "id", r.occupantID(o.bare)))
	return p
}

// presencePayload keeps what an occupant's presence says (show, status,
// priority, caps...) without what the room writes itself.
func presencePayload(el *xml.Element) *xml.Element {
	keep := xml.New(xml.NSClient, "presence")
	for _, c := range el.Elements() {
		if c.Space == NS || c.Space == NSUser || c.Space == NSOccupant {
			continue
		}
		if c.Name == "status" {
			c = c.Copy()
			c.SetText(clip(c.Text(), 1024))
		}
		keep.Append(c.Copy())
		if len(keep.Children) >= 16 {
			break
		}
	}
	return keep
}

// errorPresence refuses a join or a nick change as §7.2 shows it: the
// muc <x/> echoed, the error by the room.
func errorPresence(st *router.Stanza, e *stanza.Error) *xml.Element {
	p := xml.New(xml.NSClient, "presence", "from", st.To.String(), "to", st.From.String(), "type", "error")
	return p.Append(xml.New(NS, "x"), e.Element().SetAttr("by", st.To.Bare().String()))
}

// historyFor is the discussion history a newcomer asked for (§7.2.15),
// each message with the delay of when the room got it.
func (r *Room) historyFor(full string, x *xml.Element, now time.Time) outbox {
	items := r.history
	var h *xml.Element
	if x != nil {
		h = x.Child(NS, "history")
	}
	if h != nil {
		if v, err := strconv.Atoi(h.Attr("maxstanzas")); err == nil && v >= 0 && v < len(items) {
			items = items[len(items)-v:]
		}
		if v, err := strconv.Atoi(h.Attr("seconds")); err == nil && v >= 0 {
			for len(items) > 0 && now.Sub(items[0].at) > time.Duration(v)*time.Second {
				items = items[1:]
			}
		}
		if t, err := time.Parse(time.RFC3339Nano, h.Attr("since")); err == nil {
			for len(items) > 0 && items[0].at.Before(t) {
				items = items[1:]
			}
		}
		if v, err := strconv.Atoi(h.Attr("maxchars")); err == nil && v >= 0 {
			total, i := 0, len(items)
			for i > 0 && total+items[i-1].n <= v {
				total += items[i-1].n
				i--
			}
			items = items[i:]
		}
	}
	var out outbox
	for _, it := range items {
		m := it.msg.Copy()
		m.SetAttr("to", full)
		m.Append(xml.New(NSDelay, "delay", "from", r.jid.String(), "stamp", it.at.UTC().Format("2006-01-02T15:04:05.000Z")))
		out = append(out, m)
	}
	return out
}

// subjectFor is the subject message a newcomer gets last (§7.2.16): the
// last subject, or an empty one.
func (r *Room) subjectFor(full string) *xml.Element {
	if r.subject != nil {
		m := r.subject.Copy()
		m.SetAttr("to", full)
		return m
	}
	return xml.New(xml.NSClient, "message", "from", r.jid.String(), "to", full, "type", "groupchat").Append(xml.New(xml.NSClient, "subject"))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
