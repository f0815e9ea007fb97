package router

import (
	"context"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Undelivered takes stanzas a session of owner was given but its client
// never acknowledged (XEP-0198) and treats them as undelivered (RFC 6120
// §10.4.3 as XEP-0198 §4 asks): messages go again to the owner's bare JID
// (other resources, or offline storage), iq requests are answered with
// service-unavailable, the rest is dropped.
func (r *Router) Undelivered(ctx context.Context, owner jid.JID, els []*xml.Element) {
	bare := owner.Bare()
	for _, el := range els {
		st, serr := NewStanza(el)
		if serr != nil {
			continue
		}
		switch st.Kind {
		case stanza.Message:
			switch {
			case st.Type == "error" || st.Type == "groupchat" || st.Type == "headline":
				continue // none of these is stored or redirected (RFC 6121 §8.5)
			case st.From.Equal(bare) || st.From.IsZero():
				continue // a copy the server made (carbons), or made for this session: the original went elsewhere
			case st.El.Child("urn:xmpp:mam:2", "result") != nil:
				continue // an archive query's result (a room's has its 'from'): the archive still has it
			}
			again := st.Readdress(bare, st.From)
			again.Rerouted = true // its copies, if any, went out the first time
			r.Route(ctx, again)
		case stanza.IQ:
			if st.Type == "get" || st.Type == "set" {
				r.ReplyError(ctx, st, stanza.ErrServiceUnavailable.WithText("the recipient's connection was lost"))
			}
		}
	}
}
