package muc

import (
	"strings"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Voice requests (XEP-0045 §7.13, §8.6): a visitor of a moderated room
// submits the muc#request form to the room, which sends it as a form to
// every moderator; a moderator who submits it back with
// muc#request_allow true gives the occupant voice (participant), as a
// muc#admin role change would.

// NSRequest is the FORM_TYPE of a voice request.
const NSRequest = "http://jabber.org/protocol/muc#request"

// requestForm returns the form of a message to the room if it is a voice
// request (or its approval): its fields by var.
func requestForm(st *router.Stanza) map[string]string {
	x := st.El.Child(NSData, "x")
	if x == nil || x.Attr("type") != "submit" {
		return nil
	}
	fields := map[string]string{}
	for _, f := range x.Elements() {
		if f.Name == "field" {
			fields[f.Attr("var")] = strings.TrimSpace(f.ChildText(NSData, "value"))
		}
	}
	if fields["FORM_TYPE"] != NSRequest {
		return nil
	}
	return fields
}

// voice handles a voice request or a moderator's answer to one.
func (r *Room) voice(st *router.Stanza, fields map[string]string) (outbox, *stanza.Error) {
	from := r.occupantAt(st.From.String())
	if from == nil {
		return nil, stanza.ErrNotAcceptable.WithText("only occupants may ask for voice; join the room first")
	}
	nick := from.nick
	if _, answer := fields["muc#request_allow"]; answer {
		if from.role != Moderator {
			return nil, stanza.ErrForbidden.WithText("only moderators answer voice requests")
		}
		if v := fields["muc#request_allow"]; v != "true" && v != "1" {
			return nil, nil // denied: nothing to tell (§8.6)
		}
		// The form names a visitor by nick and JID: an approval that comes
		// late acts only on that same visitor.
		target, ok := r.occupants[fields["muc#roomnick"]]
		if !ok || target.role != Visitor || fields["muc#jid"] != "" && fields["muc#jid"] != target.bare.String() {
			return nil, nil
		}
		it := xml.New(NSAdmin, "item", "nick", fields["muc#roomnick"], "role", Participant)
		return r.change(it, from, r.affiliation(st.From.Bare().String()), st.From.Bare())
	}
	if role := fields["muc#role"]; role != "" && role != Participant {
		return nil, stanza.ErrBadRequest.WithText("a voice request asks for the participant role")
	}
	if from.role != Visitor {
		return nil, nil // has voice already
	}
	var out outbox
	for _, n := range r.sortedNicks() {
		mod := r.occupants[n]
		if mod.role != Moderator {
			continue
		}
		for full := range mod.sessions {
			out = append(out, voiceForm(r, full, nick, from))
		}
	}
	return out, nil
}

// voiceForm is the approval form sent to a moderator (§8.6, example 94).
func voiceForm(r *Room, to, nick string, o *occupant) *xml.Element {
	x := xml.New(NSData, "x", "type", "form")
	x.Append(xml.New(NSData, "title").SetText("Voice request"))
	x.Append(xml.New(NSData, "instructions").SetText("To approve this request for voice, select the \"Grant voice to this person?\" checkbox and click OK. To skip this request, click the cancel button."))
	field := func(v, typ, label, val string) {
		f := xml.New(NSData, "field", "var", v, "type", typ)
		if label != "" {
			f.SetAttr("label", label)
		}
		x.Append(f.Append(xml.New(NSData, "value").SetText(val)))
	}
	field("FORM_TYPE", "hidden", "", NSRequest)
	field("muc#role", "list-single", "Requested role", Participant)
	field("muc#jid", "jid-single", "User ID", o.bare.String()) // moderators see real JIDs
	field("muc#roomnick", "text-single", "Room Nickname", nick)
	field("muc#request_allow", "boolean", "Grant voice to this person?", "false")
	return xml.New(xml.NSClient, "message", "from", r.jid.String(), "to", to).Append(x)
}
