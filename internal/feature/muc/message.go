package muc

import (
	"context"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// message handles a message to the room (groupchat, §7.4; a subject
// change, §8.1) or to an occupant (a private message, §7.5).
func (r *Room) message(ctx context.Context, m *Module, st *router.Stanza) {
	if st.Type == "error" {
		return
	}
	var out outbox
	var e *stanza.Error
	var save bool
	func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.ended {
			e = stanza.ErrItemNotFound.WithText("this room was just removed")
			return
		}
		out, e = r.messageLocked(m, st)
		subject := e == nil && st.To.Resource() == "" && st.El.Child(xml.NSClient, "subject") != nil && st.El.Child(xml.NSClient, "body") == nil
		save = r.cfg.Persistent && (subject || r.dirty)
		r.dirty = false
	}()
	if e != nil {
		m.r.ReplyError(ctx, st, e)
		return
	}
	if save {
		m.persist(ctx, r, false)
	}
	for _, el := range out {
		m.send(ctx, el)
	}
}

func (r *Room) messageLocked(m *Module, st *router.Stanza) (outbox, *stanza.Error) {
	if amp := isNotice(st); amp != nil {
		return r.relayNotice(st, amp), nil
	}
	if x := st.El.Child(NSUser, "x"); x != nil && st.To.Resource() == "" {
		if d := x.Child(NSUser, "decline"); d != nil {
			return r.decline(st, d)
		}
		if inv := x.Child(NSUser, "invite"); inv != nil {
			return r.invite(st, x, m.now())
		}
	}
	if f := requestForm(st); f != nil && st.To.Resource() == "" {
		return r.voice(st, f)
	}
	from := r.occupantAt(st.From.String())
	if from == nil {
		return nil, stanza.ErrNotAcceptable.WithText("only occupants may send messages to the room; join it first")
	}
	nick := from.nick
	if st.To.Resource() != "" {
		return r.private(st, from)
	}
	if st.Type != "groupchat" {
		return nil, stanza.ErrBadRequest.WithText("a message to the room must be of type groupchat")
	}
	if from.role == Visitor {
		return nil, stanza.ErrForbidden.WithText("visitors of a moderated room may not speak; ask for voice")
	}
	subject := st.El.Child(xml.NSClient, "subject")
	body := st.El.Child(xml.NSClient, "body")
	if subject != nil && body == nil {
		if from.role != Moderator && !r.cfg.ChangeSubject {
			return nil, stanza.ErrForbidden.WithText("only moderators may change the subject of this room")
		}
		if len(subject.Text()) > m.cfg.MaxSubject {
			return nil, stanza.ErrNotAcceptable.WithText("the subject is too long")
		}
	}
	// One message for all: 'to' set per session as it is sent.
	msg := xml.New(xml.NSClient, "message", "from", r.jid.String()+"/"+nick, "type", "groupchat")
	if id := st.El.Attr("id"); id != "" {
		msg.SetAttr("id", id)
	}
	for _, c := range st.El.Elements() {
		if roomsToSay(c) {
			continue
		}
		msg.Append(c.Copy())
	}
	msg.Append(xml.New(NSOccupant, "occupant-id", "id", r.occupantID(from.bare)))
	now := m.now()
	switch {
	case subject != nil && body == nil:
		r.subject = msg
	case body != nil:
		if id := m.archiveMessage(r, from, st, msg, now); id != "" {
			msg.Append(xml.New(NSSID, "stanza-id", "by", r.jid.String(), "id", id))
		}
		r.addHistory(msg, now)
	}
	var out outbox
	for _, n := range r.sortedNicks() {
		for full := range r.occupants[n].sessions {
			c := msg.Copy()
			c.SetAttr("to", full)
			out = append(out, c)
		}
	}
	return out, nil
}

// private relays a message between occupants (§7.5), from room/nick.
func (r *Room) private(st *router.Stanza, from *occupant) (outbox, *stanza.Error) {
	to, ok := r.nickTaken(st.To.Resource())
	if !ok {
		return nil, stanza.ErrItemNotFound.WithText("no occupant of that nickname")
	}
	if st.Type == "groupchat" {
		return nil, stanza.ErrBadRequest.WithText("a private message is not of type groupchat")
	}
	switch r.cfg.AllowPM {
	case "none":
		return nil, stanza.ErrNotAllowed.WithText("private messages are off in this room")
	case "moderators":
		if from.role != Moderator {
			return nil, stanza.ErrForbidden.WithText("only moderators may send private messages in this room")
		}
	case "participants":
		if from.role == Visitor {
			return nil, stanza.ErrForbidden.WithText("visitors may not send private messages in this room")
		}
	}
	var out outbox
	clean := st.El.Copy()
	keep := clean.Children[:0]
	for _, n := range clean.Children {
		if e, ok := n.(*xml.Element); ok && roomsToSay(e) {
			continue
		}
		keep = append(keep, n)
	}
	clean.Children = keep
	for full := range to.sessions {
		c := clean.Copy()
		c.SetAttr("from", r.jid.String()+"/"+from.nick)
		c.SetAttr("to", full)
		c.Append(xml.New(NSUser, "x"))
		out = append(out, c)
	}
	return out, nil
}

// maxInvites bounds the invitations of one message.
const maxInvites = 20

// invite relays mediated invitations (§7.8.2) from an occupant: each
// invitee gets the room's message naming the inviter; in a members-only
// room the invitee becomes a member, when the inviter may grant that (an
// admin or owner, or a member if the room lets members invite).
func (r *Room) invite(st *router.Stanza, x *xml.Element, now time.Time) (outbox, *stanza.Error) {
	o := r.occupantAt(st.From.String())
	if o == nil {
		return nil, stanza.ErrNotAcceptable.WithText("only occupants may invite to the room")
	}
	aff := r.affiliation(o.bare.String())
	if r.cfg.MembersOnly && affRank[aff] < affRank[Admin] && !(r.cfg.AllowInvites && aff == Member) {
		return nil, stanza.ErrForbidden.WithText("only admins and owners invite to this members-only room")
	}
	var out outbox
	n := 0
	for _, inv := range x.Elements() {
		if inv.Name != "invite" {
			continue
		}
		if n++; n > maxInvites {
			return nil, stanza.ErrPolicyViolation.WithText("at most 20 invitations in one message")
		}
		to, err := jid.Parse(inv.Attr("to"))
		if err != nil {
			return nil, stanza.ErrJIDMalformed.WithText("an invitation names the invitee's jid")
		}
		if r.cfg.MembersOnly && r.affiliation(to.Bare().String()) == NoAff {
			r.affs[to.Bare().String()] = Member
			r.dirty = true
		}
		r.remember(to.Bare().String(), st.From.String(), now)
		ux := xml.New(NSUser, "x")
		i := xml.New(NSUser, "invite", "from", st.From.String())
		if reason := inv.ChildText(NSUser, "reason"); reason != "" {
			i.Append(xml.New(NSUser, "reason").SetText(clip(reason, 1024)))
		}
		ux.Append(i)
		if r.cfg.Password != "" {
			ux.Append(xml.New(NSUser, "password").SetText(r.cfg.Password))
		}
		m := xml.New(xml.NSClient, "message", "from", r.jid.String(), "to", to.String())
		if id := st.El.Attr("id"); id != "" {
			m.SetAttr("id", id)
		}
		out = append(out, m.Append(ux))
	}
	return out, nil
}

// decline passes an invitee's refusal to the inviter (§7.8.2): only to
// the one who invited it, else the room would carry anyone's text to
// anyone.
func (r *Room) decline(st *router.Stanza, d *xml.Element) (outbox, *stanza.Error) {
	if _, err := jid.Parse(d.Attr("to")); err != nil {
		return nil, stanza.ErrJIDMalformed.WithText("a decline names the inviter's jid")
	}
	inv, ok := r.invited[st.From.Bare().String()]
	inviter := inv.by
	if !ok || time.Since(inv.at) > invitationLife {
		return nil, stanza.ErrItemNotFound.WithText("no invitation of yours to this room is pending")
	}
	delete(r.invited, st.From.Bare().String())
	dx := xml.New(NSUser, "decline", "from", st.From.Bare().String())
	if reason := d.ChildText(NSUser, "reason"); reason != "" {
		dx.Append(xml.New(NSUser, "reason").SetText(clip(reason, 1024)))
	}
	m := xml.New(xml.NSClient, "message", "from", r.jid.String(), "to", inviter).Append(xml.New(NSUser, "x").Append(dx))
	return outbox{m}, nil
}

// roomsToSay: what only the room may put in the messages it sends (the
// occupant-id, XEP-0421 §4; its own muc#user statuses; delays, which are
// the room's history's; stanza-ids, XEP-0359 §4, the room's archive's):
// an occupant's own is removed.
func roomsToSay(c *xml.Element) bool {
	return c.Space == NSOccupant || c.Space == NSUser || c.Space == NSDelay || c.Space == NSSID && c.Name == "stanza-id"
}
