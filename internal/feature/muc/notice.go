package muc

import (
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Delivery notices in a room (TIM+ "Chat and delivery status" for group
// chat, XEP-0079): each occupant's server tells the sender's address of a
// delivery, and the room's copies come from room/nick, so the notices
// reach the room. It passes each one on to the sender's real bare JID:
// one notice per occupant, naming the occupant by real JID to a sender
// who may see real JIDs, by room/nick otherwise.

// NSAMP is XEP-0079's namespace.
const NSAMP = "http://jabber.org/protocol/amp"

// isNotice: an AMP notify to the room itself.
func isNotice(st *router.Stanza) *xml.Element {
	if st.To.Resource() != "" {
		return nil
	}
	if amp := st.El.Child(NSAMP, "amp"); amp != nil && amp.Attr("status") == "notify" {
		return amp
	}
	return nil
}

// relayNotice passes a notice on to the sender of the message it is
// about; one from a stranger, or about a sender who left, is dropped.
func (r *Room) relayNotice(st *router.Stanza, amp *xml.Element) outbox {
	recipient, in := r.byFull[st.From.String()]
	orig, err := jid.Parse(amp.Attr("from"))
	if !in || err != nil || !orig.Bare().Equal(r.jid) {
		return nil
	}
	sender, ok := r.occupants[orig.Resource()]
	if !ok {
		return nil
	}
	about := r.jid.String() + "/" + recipient
	if r.seesJIDs(sender) {
		about = st.From.Bare().String()
	}
	m := xml.New(xml.NSClient, "message", "from", r.jid.String(), "to", sender.bare.String())
	if id := st.El.Attr("id"); id != "" {
		m.SetAttr("id", id)
	}
	n := xml.New(NSAMP, "amp", "status", "notify", "to", about, "from", orig.String())
	for _, rule := range amp.Elements() {
		if rule.Space == NSAMP && rule.Name == "rule" {
			n.Append(rule.Copy())
		}
	}
	return outbox{m.Append(n)}
}
