package muc

import (
	"context"
	"strconv"
	"strings"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// serviceIQ answers the service itself: disco#items lists the public
// rooms (§6.3); disco#info is the service's identity (the router's).
func (m *Module) serviceIQ(ctx context.Context, service string, st *router.Stanza) bool {
	if st.Kind != "iq" || st.Type != "get" {
		return false
	}
	p := st.Payload()
	if p == nil || p.Space != NSItems || p.Attr("node") != "" {
		return false
	}
	q := xml.New(NSItems, "query")
	m.mu.Lock()
	var rooms []*Room
	for _, r := range m.rooms {
		if r.jid.Domain() == service {
			rooms = append(rooms, r)
		}
	}
	m.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		if r.cfg.Public && !r.locked {
			q.Append(xml.New(NSItems, "item", "jid", r.jid.String(), "name", r.displayName()))
		}
		r.mu.Unlock()
	}
	m.reply(ctx, st, q)
	return true
}

func (m *Module) reply(ctx context.Context, st *router.Stanza, payload *xml.Element) {
	el := stanza.Result(st.El, payload)
	m.send(ctx, el)
}

func (r *Room) displayName() string {
	if r.cfg.Name != "" {
		return r.cfg.Name
	}
	return r.jid.Local()
}

// iq answers the room (disco, the owner's configuration, §10) and its
// occupants (self-ping, XEP-0410).
func (r *Room) iq(ctx context.Context, m *Module, st *router.Stanza) {
	if st.Type != "get" && st.Type != "set" {
		return
	}
	p := st.Payload()
	if p == nil {
		m.r.ReplyError(ctx, st, stanza.ErrBadRequest)
		return
	}
	if st.To.Resource() != "" {
		r.mu.Lock()
		nick, in := r.byFull[st.From.String()]
		r.mu.Unlock()
		switch {
		case p.Space == NSPing && in && nick == st.To.Resource():
			m.reply(ctx, st, nil) // XEP-0410: still joined
		case !in:
			m.r.ReplyError(ctx, st, stanza.ErrNotAcceptable.WithText("you are not an occupant of this room"))
		default:
			m.r.ReplyError(ctx, st, stanza.ErrFeatureNotImplemented.WithText("iq to an occupant is not relayed by this room"))
		}
		return
	}
	var (
		payload *xml.Element
		e       *stanza.Error
		out     outbox
		gone    bool
	)
	answered := false
	func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		switch {
		case r.ended:
			e = stanza.ErrItemNotFound.WithText("this room was just removed")
		case p.Space == NSDiscoInfo && st.Type == "get":
			payload = r.info(m.w != nil)
		case p.Space == NSItems && st.Type == "get":
			payload = xml.New(NSItems, "query")
			if r.cfg.Public {
				for _, n := range r.sortedNicks() {
					payload.Append(xml.New(NSItems, "item", "jid", r.jid.String()+"/"+n))
				}
			}
		case p.Space == NSOwner:
			payload, out, gone, e = r.owner(st, p)
		case p.Space == NSAdmin:
			payload, out, e = r.admin(st, p)
		case p.Space == NSMAM && p.Name == "query":
			if e = r.archiveQuery(ctx, m, st, p); e == nil {
				answered = true // by archiveQuery
			}
		default:
			e = stanza.ErrFeatureNotImplemented
		}
	}()
	if answered {
		return
	}
	if gone {
		m.drop(r)
	}
	if e == nil && st.Type == "set" && (p.Space == NSOwner || p.Space == NSAdmin) {
		m.persist(ctx, r, gone) // before the answer: a restart after it keeps the change
	}
	if e != nil {
		m.r.ReplyError(ctx, st, e)
	} else {
		m.reply(ctx, st, payload)
	}
	for _, el := range out {
		m.send(ctx, el)
	}
}

// info is the room's disco#info (§6.4) with the muc#roominfo form.
func (r *Room) info(archived bool) *xml.Element {
	q := xml.New(NSDiscoInfo, "query")
	q.Append(xml.New(NSDiscoInfo, "identity", "category", "conference", "type", "text", "name", r.displayName()))
	feats := []string{NS, NSOccupant, "urn:xmpp:ping",
		pick(r.cfg.Public, "muc_public", "muc_hidden"), pick(r.cfg.Persistent, "muc_persistent", "muc_temporary"),
		pick(r.cfg.MembersOnly, "muc_membersonly", "muc_open"), pick(r.cfg.Moderated, "muc_moderated", "muc_unmoderated"),
		pick(r.nonAnonymous(), "muc_nonanonymous", "muc_semianonymous"), pick(r.cfg.Password != "", "muc_passwordprotected", "muc_unsecured")}
	if archived {
		feats = append(feats, NSMAM, NSSID)
	}
	for _, f := range feats {
		q.Append(xml.New(NSDiscoInfo, "feature", "var", f))
	}
	x := xml.New(NSData, "x", "type", "result")
	field := func(v, val string) {
		x.Append(xml.New(NSData, "field", "var", v).Append(xml.New(NSData, "value").SetText(val)))
	}
	x.Append(xml.New(NSData, "field", "var", "FORM_TYPE", "type", "hidden").Append(xml.New(NSData, "value").SetText(NSRoomInfo)))
	field("muc#roominfo_description", r.cfg.Description)
	field("muc#roominfo_occupants", strconv.Itoa(len(r.occupants)))
	if r.subject != nil {
		field("muc#roominfo_subject", r.subject.ChildText(xml.NSClient, "subject"))
	}
	field("muc#roominfo_changesubject", strconv.FormatBool(r.cfg.ChangeSubject))
	return q.Append(x)
}

func pick(b bool, yes, no string) string {
	if b {
		return yes
	}
	return no
}

// owner is the owner's use cases (§10): the configuration form, an
// instant room (the default accepted), a cancelled creation, destroying
// the room.
func (r *Room) owner(st *router.Stanza, p *xml.Element) (*xml.Element, outbox, bool, *stanza.Error) {
	if r.affiliation(st.From.Bare().String()) != Owner {
		return nil, nil, false, stanza.ErrForbidden.WithText("only an owner of the room may configure it")
	}
	if d := p.Child(NSOwner, "destroy"); d != nil && st.Type == "set" {
		return nil, r.destroy(d), true, nil
	}
	x := p.Child(NSData, "x")
	switch {
	case st.Type == "get":
		return xml.New(NSOwner, "query").Append(r.configForm()), nil, false, nil
	case x != nil && x.Attr("type") == "cancel":
		if r.locked {
			return nil, r.destroy(nil), true, nil // §10.1.3: the creation is cancelled
		}
		return nil, nil, false, nil
	case x != nil && x.Attr("type") == "submit":
		old, wasLocked := r.cfg, r.locked
		if e := r.applyConfig(x); e != nil {
			return nil, nil, false, e
		}
		r.locked = false
		var out outbox
		if !wasLocked {
			out = r.configNotice(old)
		}
		if r.cfg.MembersOnly && !old.MembersOnly {
			for _, n := range r.sortedNicks() {
				if o := r.occupants[n]; o != nil && r.affiliation(o.bare.String()) == NoAff {
					out = append(out, r.remove(o, "322", "")...)
				}
			}
		}
		return nil, out, false, nil
	}
	return nil, nil, false, stanza.ErrBadRequest.WithText("send the configuration form (submit or cancel) or <destroy/>")
}

// What a configuration form may set (a saved room is held to it too).
const (
	maxNameLen       = 256
	maxDescLen       = 1024
	maxSecretLen     = 256
	maxHistoryLength = 500
)

func validAllowPM(v string) bool {
	switch v {
	case "anyone", "participants", "moderators", "none":
		return true
	}
	return false
}

// configNotice tells every occupant that the configuration changed
// (§10.2.1): 172 or 173 when real JIDs are now shown to all or no longer,
// 104 for any other change.
func (r *Room) configNotice(old Config) outbox {
	var codes []string
	switch {
	case old.WhoIs != "anyone" && r.cfg.WhoIs == "anyone":
		codes = append(codes, "172")
	case old.WhoIs == "anyone" && r.cfg.WhoIs != "anyone":
		codes = append(codes, "173")
	}
	rest, now := old, r.cfg
	rest.WhoIs, now.WhoIs = "", ""
	if rest != now {
		codes = append(codes, "104")
	}
	if len(codes) == 0 {
		return nil
	}
	var out outbox
	for _, n := range r.sortedNicks() {
		for full := range r.occupants[n].sessions {
			x := xml.New(NSUser, "x")
			for _, c := range codes {
				x.Append(xml.New(NSUser, "status", "code", c))
			}
			out = append(out, xml.New(xml.NSClient, "message", "from", r.jid.String(), "to", full, "type", "groupchat").Append(x))
		}
	}
	return out
}

// configForm is muc#roomconfig (§15.5.3) with the room's values.
func (r *Room) configForm() *xml.Element {
	x := xml.New(NSData, "x", "type", "form")
	x.Append(xml.New(NSData, "title").SetText("Configuration of " + r.jid.String()))
	x.Append(xml.New(NSData, "field", "var", "FORM_TYPE", "type", "hidden").Append(xml.New(NSData, "value").SetText(NSRoomConf)))
	add := func(v, typ, label, val string, options ...string) {
		f := xml.New(NSData, "field", "var", v, "type", typ, "label", label)
		for _, o := range options {
			f.Append(xml.New(NSData, "option").Append(xml.New(NSData, "value").SetText(o)))
		}
		x.Append(f.Append(xml.New(NSData, "value").SetText(val)))
	}
	b := strconv.FormatBool
	add("muc#roomconfig_roomname", "text-single", "Name", r.cfg.Name)
	add("muc#roomconfig_roomdesc", "text-single", "Description", r.cfg.Description)
	add("muc#roomconfig_persistentroom", "boolean", "Persistent", b(r.cfg.Persistent))
	add("muc#roomconfig_publicroom", "boolean", "Listed in the directory", b(r.cfg.Public))
	add("muc#roomconfig_membersonly", "boolean", "Members only", b(r.cfg.MembersOnly))
	add("muc#roomconfig_moderatedroom", "boolean", "Moderated", b(r.cfg.Moderated))
	add("muc#roomconfig_passwordprotectedroom", "boolean", "Needs a password", b(r.cfg.Password != ""))
	add("muc#roomconfig_roomsecret", "text-private", "Password", r.cfg.Password)
	add("muc#roomconfig_maxusers", "list-single", "Most occupants", strconv.Itoa(r.cfg.MaxOccupants))
	add("muc#roomconfig_whois", "list-single", "Who may see real JIDs", r.cfg.WhoIs, "moderators", "anyone")
	add("muc#roomconfig_changesubject", "boolean", "Participants may change the subject", b(r.cfg.ChangeSubject))
	add("muc#roomconfig_allowinvites", "boolean", "Members may invite", b(r.cfg.AllowInvites))
	add("muc#roomconfig_allowpm", "list-single", "Who may send private messages", r.cfg.AllowPM, "anyone", "participants", "moderators", "none")
	add("muc#roomconfig_historylength", "text-single", "Messages of history", strconv.Itoa(r.cfg.HistoryLength))
	return x
}

// applyConfig takes a submitted configuration form.
func (r *Room) applyConfig(x *xml.Element) *stanza.Error {
	c := r.cfg
	protected, secret := (*bool)(nil), (*string)(nil)
	for _, f := range x.Elements() {
		if f.Space != NSData || f.Name != "field" {
			continue
		}
		v := strings.TrimSpace(f.ChildText(NSData, "value"))
		bool_ := v == "1" || v == "true"
		switch f.Attr("var") {
		case "FORM_TYPE":
			if v != NSRoomConf {
				return stanza.ErrBadRequest.WithText("FORM_TYPE must be " + NSRoomConf)
			}
		case "muc#roomconfig_roomname":
			c.Name = clip(v, maxNameLen)
		case "muc#roomconfig_roomdesc":
			c.Description = clip(v, maxDescLen)
		case "muc#roomconfig_persistentroom":
			c.Persistent = bool_
		case "muc#roomconfig_publicroom":
			c.Public = bool_
		case "muc#roomconfig_membersonly":
			c.MembersOnly = bool_
		case "muc#roomconfig_moderatedroom":
			c.Moderated = bool_
		case "muc#roomconfig_passwordprotectedroom":
			protected = &bool_
		case "muc#roomconfig_roomsecret":
			s := clip(v, maxSecretLen)
			secret = &s
		case "muc#roomconfig_maxusers":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return stanza.ErrNotAcceptable.WithText("muc#roomconfig_maxusers must be a number, 1 or more")
			}
			c.MaxOccupants = min(n, r.limit) // lowered before, it may go up again to the service's limit
		case "muc#roomconfig_whois":
			if v != "anyone" && v != "moderators" {
				return stanza.ErrNotAcceptable.WithText("muc#roomconfig_whois is anyone or moderators")
			}
			if r.cfg.WhoIs == "anyone" && v != "anyone" && r.directRoom() {
				return stanza.ErrNotAcceptable.WithText("rooms of a Direct domain are non-anonymous (TIM+): whois stays anyone")
			}
			c.WhoIs = v
		case "muc#roomconfig_changesubject":
			c.ChangeSubject = bool_
		case "muc#roomconfig_allowinvites":
			c.AllowInvites = bool_
		case "muc#roomconfig_allowpm":
			if !validAllowPM(v) {
				return stanza.ErrNotAcceptable.WithText("muc#roomconfig_allowpm is anyone, participants, moderators or none")
			}
			c.AllowPM = v
		case "muc#roomconfig_historylength":
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxHistoryLength {
				return stanza.ErrNotAcceptable.WithText("muc#roomconfig_historylength must be 0 to 500")
			}
			c.HistoryLength = n
		}
	}
	if secret != nil {
		c.Password = *secret
	}
	switch {
	case protected != nil && !*protected:
		c.Password = ""
	case protected != nil && *protected && c.Password == "":
		return stanza.ErrNotAcceptable.WithText("a password-protected room needs muc#roomconfig_roomsecret")
	}
	r.cfg = c
	r.trimHistory()
	return nil
}

// directRoom: a room of a Direct domain's groupchat service.
func (r *Room) directRoom() bool { return strings.HasPrefix(r.jid.Domain(), "groupchat.") }

// destroy tells every occupant the room is gone (§10.9), with the
// alternate venue and reason of d.
func (r *Room) destroy(d *xml.Element) outbox {
	var out outbox
	for _, n := range r.sortedNicks() {
		o := r.occupants[n]
		for full := range o.sessions {
			p := xml.New(xml.NSClient, "presence", "from", r.jid.String()+"/"+n, "to", full, "type", "unavailable")
			x := xml.New(NSUser, "x").Append(xml.New(NSUser, "item", "affiliation", NoAff, "role", "none"))
			if d != nil {
				ud := xml.New(NSUser, "destroy")
				if j := d.Attr("jid"); j != "" {
					ud.SetAttr("jid", j)
				}
				if rs := d.ChildText(NSOwner, "reason"); rs != "" {
					ud.Append(xml.New(NSUser, "reason").SetText(clip(rs, 1024)))
				}
				x.Append(ud)
			} else {
				x.Append(xml.New(NSUser, "destroy"))
			}
			out = append(out, p.Append(x))
		}
	}
	r.occupants, r.byFull = map[string]*occupant{}, map[string]string{}
	r.ended = true
	return out
}
