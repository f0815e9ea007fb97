package muc

import (
	"maps"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// The moderator, admin and owner use cases of muc#admin (§8, §9, §10):
// roles by nick (kick, voice, moderator), affiliations by JID (ban,
// membership, admin, owner), and the lists of both.

var (
	affRank  = map[string]int{Outcast: 0, NoAff: 1, Member: 2, Admin: 3, Owner: 4}
	roleRank = map[string]int{Visitor: 0, Participant: 1, Moderator: 2}
)

// admin answers a muc#admin get or set from st's sender.
func (r *Room) admin(st *router.Stanza, p *xml.Element) (*xml.Element, outbox, *stanza.Error) {
	actor := r.occupantAt(st.From.String())
	actorAff := r.affiliation(st.From.Bare().String())
	items := p.Elements()
	if len(items) == 0 {
		return nil, nil, stanza.ErrBadRequest.WithText("a muc#admin query needs an <item/>")
	}
	if st.Type == "get" {
		return r.list(items[0], actor, actorAff)
	}
	// All or nothing: an item refused undoes those before it, which
	// nobody was told of (their presences are not sent).
	undo := r.mark()
	var out outbox
	for _, it := range items {
		o, e := r.change(it, actor, actorAff, st.From.Bare())
		if e != nil {
			r.rollback(undo)
			return nil, nil, e
		}
		out = append(out, o...)
	}
	return nil, out, nil
}

// roomMark is what a muc#admin set may change: affiliations, who is in
// the room, roles.
type roomMark struct {
	affs      map[string]string
	occupants map[string]*occupant
	byFull    map[string]string
	roles     map[*occupant]string
}

func (r *Room) mark() roomMark {
	m := roomMark{affs: maps.Clone(r.affs), occupants: maps.Clone(r.occupants), byFull: maps.Clone(r.byFull), roles: map[*occupant]string{}}
	for _, o := range r.occupants {
		m.roles[o] = o.role
	}
	return m
}

func (r *Room) rollback(m roomMark) {
	r.affs, r.occupants, r.byFull = m.affs, m.occupants, m.byFull
	for o, role := range m.roles {
		o.role = role
	}
}

// list is the occupants of a role or the JIDs of an affiliation (§8.5, §9.5, §10.5).
func (r *Room) list(it *xml.Element, actor *occupant, actorAff string) (*xml.Element, outbox, *stanza.Error) {
	q := xml.New(NSAdmin, "query")
	switch {
	case it.Attr("role") != "":
		if actor == nil || actor.role != Moderator {
			return nil, nil, stanza.ErrForbidden.WithText("only moderators may list roles")
		}
		for _, n := range r.sortedNicks() {
			if o := r.occupants[n]; o.role == it.Attr("role") {
				q.Append(xml.New(NSAdmin, "item", "nick", n, "role", o.role, "affiliation", r.affiliation(o.bare.String()), "jid", o.bare.String()))
			}
		}
	case it.Attr("affiliation") != "":
		want := it.Attr("affiliation")
		if _, ok := affRank[want]; !ok || want == NoAff {
			return nil, nil, stanza.ErrBadRequest.WithText("list an affiliation: owner, admin, member or outcast")
		}
		if affRank[actorAff] < affRank[Admin] && !(want == Member && r.cfg.MembersOnly && actor != nil) {
			return nil, nil, stanza.ErrForbidden.WithText("only admins and owners may list affiliations")
		}
		for j, a := range r.affs {
			if a == want {
				q.Append(xml.New(NSAdmin, "item", "jid", j, "affiliation", a))
			}
		}
	default:
		return nil, nil, stanza.ErrBadRequest.WithText("an <item/> names a role or an affiliation")
	}
	return q, nil, nil
}

// change carries out one item of a set: a role by nick, or an
// affiliation by JID, with the presence the room then sends.
func (r *Room) change(it *xml.Element, actor *occupant, actorAff string, actorBare jid.JID) (outbox, *stanza.Error) {
	reason := it.ChildText(NSAdmin, "reason")
	if role := it.Attr("role"); role != "" {
		o, ok := r.nickTaken(it.Attr("nick")) // (under the Nickname profile: "bob" is Bob)
		if !ok {
			return nil, stanza.ErrItemNotFound.WithText("no occupant of that nickname")
		}
		if actor == nil || actor.role != Moderator {
			return nil, stanza.ErrForbidden.WithText("only moderators may change roles")
		}
		targetAff := r.affiliation(o.bare.String())
		switch role {
		case "none", Visitor:
			// §8.2: not an occupant of an affiliation at or above the actor's, nor an admin or owner.
			if affRank[targetAff] >= affRank[Admin] || affRank[targetAff] > affRank[actorAff] {
				return nil, stanza.ErrNotAllowed.WithText("an occupant of that affiliation keeps its role")
			}
		case Participant:
			if o.role == Moderator && affRank[actorAff] < affRank[Admin] {
				return nil, stanza.ErrNotAllowed.WithText("only admins and owners revoke moderation")
			}
			if o.role == Moderator && affRank[targetAff] >= affRank[Admin] && actorAff != Owner {
				return nil, stanza.ErrNotAllowed.WithText("an admin does not revoke the moderation of an admin or owner (§9.7)")
			}
		case Moderator:
			if affRank[actorAff] < affRank[Admin] {
				return nil, stanza.ErrNotAllowed.WithText("only admins and owners grant moderation")
			}
		default:
			return nil, stanza.ErrBadRequest.WithText("role is none, visitor, participant or moderator")
		}
		if role == "none" {
			return r.remove(o, "307", reason), nil
		}
		o.role = role
		return r.broadcastPresence(o, nil, false), nil
	}
	aff := it.Attr("affiliation")
	if _, ok := affRank[aff]; !ok {
		return nil, stanza.ErrBadRequest.WithText("an <item/> sets a role (by nick) or an affiliation (by jid)")
	}
	target, err := jid.Parse(it.Attr("jid"))
	if err != nil || target.Local() == "" && target.Domain() == "" {
		return nil, stanza.ErrJIDMalformed.WithText("an affiliation is given to a jid")
	}
	bare := target.Bare().String()
	cur := r.affiliation(bare)
	switch {
	case affRank[actorAff] < affRank[Admin]:
		return nil, stanza.ErrForbidden.WithText("only admins and owners change affiliations")
	case actorAff == Admin && (affRank[cur] >= affRank[Admin] || affRank[aff] >= affRank[Admin]):
		return nil, stanza.ErrNotAllowed.WithText("an admin changes the affiliations of members, outcasts and others only")
	case cur == Owner && aff != Owner && r.owners() == 1:
		return nil, stanza.ErrConflict.WithText("the room would have no owner left")
	}
	if aff == NoAff {
		delete(r.affs, bare)
	} else {
		r.affs[bare] = aff
	}
	// Occupants of that JID: banned (301), removed from a members-only
	// room (321), or their new standing told.
	var out outbox
	for _, n := range r.sortedNicks() {
		o := r.occupants[n]
		if o.bare.String() != bare {
			continue
		}
		switch {
		case aff == Outcast:
			out = append(out, r.remove(o, "301", reason)...)
		case aff == NoAff && r.cfg.MembersOnly:
			out = append(out, r.remove(o, "321", reason)...)
		default:
			// The role follows the new affiliation (§9.3: a member gets
			// voice, an admin moderation), or falls with it.
			if nr := r.defaultRole(aff); roleRank[nr] > roleRank[o.role] || affRank[aff] < affRank[cur] {
				o.role = nr
			}
			out = append(out, r.broadcastPresence(o, nil, false)...)
		}
	}
	return out, nil
}

func (r *Room) owners() int {
	n := 0
	for _, a := range r.affs {
		if a == Owner {
			n++
		}
	}
	return n
}

// removed is o's unavailable presence, role none, to session full of to,
// with the status codes of why o is out.
func (r *Room) removed(o, to *occupant, full string, codes []string) *xml.Element {
	p := r.presenceOf(o, to, codes)
	p.SetAttr("type", "unavailable")
	p.SetAttr("to", full)
	p.Child(NSUser, "x").Child(NSUser, "item").SetAttr("role", "none")
	return p
}

// remove takes an occupant out of the room with a status code (307 kick,
// 301 ban, 321 membership lost): every session of it hears it (with 110),
// then the others.
func (r *Room) remove(o *occupant, code, reason string) outbox {
	var out outbox
	for _, n := range r.sortedNicks() {
		to := r.occupants[n]
		for full := range to.sessions {
			c := []string{code}
			if to == o {
				c = []string{"110", code}
			}
			p := r.removed(o, to, full, c)
			if reason != "" {
				p.Child(NSUser, "x").Child(NSUser, "item").Append(xml.New(NSUser, "reason").SetText(clip(reason, 1024)))
			}
			out = append(out, p)
		}
	}
	for full := range o.sessions {
		delete(r.byFull, full)
	}
	delete(r.occupants, o.nick)
	return out
}
