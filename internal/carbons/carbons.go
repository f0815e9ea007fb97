// Package carbons implements Message Carbons (XEP-0280): a user's other
// resources that enabled carbons get copies of the chat messages it sends
// ("sent") and receives ("received"), and forged carbons from outside are
// dropped (§11: only the user's own server may send them).
package carbons

import (
	"github.com/tern-xmpp/tern/internal/jid"
	"github.com/tern-xmpp/tern/internal/router"
	"github.com/tern-xmpp/tern/internal/xml"
)

// Namespaces used.
const (
	NS        = "urn:xmpp:carbons:2"
	NSForward = "urn:xmpp:forward:0"
	NSHints   = "urn:xmpp:hints"
)

// Register installs the handlers and hooks.
func Register(r *router.Router) {
	// §3: clients ask the server (not their account) whether carbons are supported.
	r.AddFeature(router.Host, NS)
	r.HandleIQ(router.Self, "set", NS, func(iq *router.IQ) (*xml.Element, error) {
		if iq.Origin != nil {
			iq.Origin.SetCarbons(iq.Payload().Name == "enable")
		}
		return nil, nil
	})
	r.Hook(router.EvMessageOut, 10, func(ev *router.Event) bool {
		if eligible(ev.Stanza.El, ev.Stanza.Type) {
			copyTo(r, ev.Stanza.From.Bare(), ev.Stanza.El, "sent", func(res *router.Resource) bool { return res == ev.Origin })
		}
		return false
	})
	r.Hook(router.EvMessageDelivered, 0, func(ev *router.Event) bool {
		st := ev.Stanza
		if st.NoCopy || !eligible(st.El, st.Type) {
			return false
		}
		got := map[*router.Resource]bool{}
		for _, t := range ev.Targets {
			got[t] = true
		}
		copyTo(r, st.To.Bare(), st.El, "received", func(res *router.Resource) bool { return got[res] })
		return false
	})
	// Drop carbons that did not come from the user's own account, and take
	// <private/> off messages for local users.
	r.Hook(router.EvStanzaIn, 100, func(ev *router.Event) bool {
		st := ev.Stanza
		if st.Kind != "message" {
			return false
		}
		if st.El.Child(NS, "private") != nil {
			// §6: the receiving server SHOULD remove <private/> before
			// delivering; NoCopy keeps the "received" copies off.
			st.El.RemoveChildren(NS, "private")
			st.NoCopy = true
		}
		if st.El.Child(NS, "sent") == nil && st.El.Child(NS, "received") == nil {
			return false
		}
		if !st.From.Equal(st.To.Bare()) {
			r.Log().Warn("forged carbon dropped", "from", st.From.String(), "to", st.To.String())
			return true
		}
		return false
	})
}

// eligible: XEP-0280 §6: chat messages, and normal ones with a body;
// never errors, groupchat, <private/> or <no-copy/>.
func eligible(el *xml.Element, typ string) bool {
	if el.Child(NS, "private") != nil || el.Child(NSHints, "no-copy") != nil {
		return false
	}
	if el.Child(NS, "sent") != nil || el.Child(NS, "received") != nil {
		return false
	}
	switch typ {
	case "chat":
		return true
	case "", "normal":
		return el.Child("", "body") != nil
	}
	return false
}

func copyTo(r *router.Router, owner jid.JID, msg *xml.Element, kind string, skip func(*router.Resource) bool) {
	for _, res := range r.Resources(owner) {
		if skip(res) || !res.Carbons() {
			continue
		}
		w := xml.New(xml.NSClient, "message", "from", owner.String(), "to", res.JID.String(), "type", msgType(msg))
		w.Append(xml.New(NS, kind).Append(xml.New(NSForward, "forwarded").Append(msg)))
		r.DeliverTo(res, w)
	}
}

func msgType(el *xml.Element) string {
	if t := el.Attr("type"); t != "" {
		return t
	}
	return "normal"
}
