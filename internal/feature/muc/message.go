package muc

import (
	"context"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// message handles a message to the room (groupchat, §7.4; a subject
// change, §8.1) or to an occupant (a private message, §7.5).
func (r *Room) message(ctx context.Context, m *Module, st *router.Stanza) {
	if st.Type == "error" {
		return
	}
	r.mu.Lock()
	out, e := r.messageLocked(m, st)
	r.mu.Unlock()
	if e != nil {
		m.r.ReplyError(ctx, st, e)
		return
	}
	for _, el := range out {
		m.send(ctx, el)
	}
}

func (r *Room) messageLocked(m *Module, st *router.Stanza) (outbox, *stanza.Error) {
	nick, ok := r.byFull[st.From.String()]
	if !ok {
		return nil, stanza.ErrNotAcceptable.WithText("only occupants may send messages to the room; join it first")
	}
	from := r.occupants[nick]
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
		if c.Space == NSOccupant {
			continue // ours to say (XEP-0421 §4: a client's own is removed)
		}
		msg.Append(c.Copy())
	}
	msg.Append(xml.New(NSOccupant, "occupant-id", "id", r.occupantID(from.bare)))
	now := m.now()
	switch {
	case subject != nil && body == nil:
		r.subject = msg
	case body != nil:
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
	to, ok := r.occupants[st.To.Resource()]
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
	for full := range to.sessions {
		c := st.El.Copy()
		c.SetAttr("from", r.jid.String()+"/"+from.nick)
		c.SetAttr("to", full)
		c.Append(xml.New(NSUser, "x"))
		out = append(out, c)
	}
	return out, nil
}
