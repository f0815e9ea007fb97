// Package carbons implements Message Carbons (XEP-0280): a user's other
// resources that enabled carbons get copies of the chat messages it sends
// ("sent") and receives ("received"), and forged carbons from outside are
// dropped (§11: only the user's own server may send them).
package carbons

import (
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces used.
const (
	NS        = "urn:xmpp:carbons:2"
	NSForward = "urn:xmpp:forward:0"
	NSHints   = "urn:xmpp:hints"
)

// Slots: a resource that enabled carbons (§4), and a stanza whose
// <private/> the receiving server took off (§6): no "received" copies.
var (
	enabled = router.NewKey[bool]("carbons.enabled")
	private = router.NewKey[bool]("carbons.private")
)

// Module is message carbons.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "carbons" }

// Register implements module.Module.
func (Module) Register(h *module.Host) error {
	r := h.Router
	// §3: clients ask the server (not their account) whether carbons are supported.
	h.AddFeature(router.Host, NS)
	h.HandleIQ(router.Self, "set", NS, func(iq *router.IQ) (*xml.Element, error) {
		if iq.Origin != nil {
			enabled.Set(iq.Origin, iq.Payload().Name == "enable")
		}
		return nil, nil
	})
	h.Hook(router.EvMessageOut, 10, func(ev *router.Event) bool {
		if eligible(ev.Stanza.El, ev.Stanza.Type) {
			copyTo(r, ev.Stanza.From.Bare(), ev.Stanza.El, "sent", func(res *router.Resource) bool { return res == ev.Origin })
		}
		return false
	})
	h.Hook(router.EvMessageDelivered, 0, func(ev *router.Event) bool {
		st := ev.Stanza
		if st.Rerouted || private.OfStanza(st) || !eligible(st.El, st.Type) {
			return false // a re-route's copies went out at its first delivery
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
	h.Hook(router.EvStanzaIn, 100, func(ev *router.Event) bool {
		st := ev.Stanza
		if st.Kind != "message" {
			return false
		}
		if st.El.Child(NS, "private") != nil {
			// §6: the receiving server SHOULD remove <private/> before
			// delivering; the slot keeps the "received" copies off.
			st.El.RemoveChildren(NS, "private")
			private.SetStanza(st, true)
		}
		if st.El.Child(NS, "sent") == nil && st.El.Child(NS, "received") == nil {
			return false
		}
		if !st.From.Equal(st.To.Bare()) {
			h.Log.Warn("forged carbon dropped", "from", st.From.String(), "to", st.To.String())
			return true
		}
		return false
	})
	return nil
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
	var buf [8]*router.Resource
	for _, res := range r.AppendResources(buf[:0], owner) {
		if skip(res) || !enabled.Of(res) {
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
