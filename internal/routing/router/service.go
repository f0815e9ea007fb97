package router

import (
	"context"
	"fmt"

	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Service is an entity on a domain of its own beside the accounts'
// domains (conference.example, upload.example, groupchat.example on a
// Direct domain): the server routes every stanza to the domain, or to a JID
// at it, to Handle, and lists it in disco#items of its Parent (XEP-0030
// §4). disco#info to the bare domain is answered from Identities and
// Features when Handle leaves it.
type Service struct {
	Domain     string
	Parent     string // a served domain
	Name       string // for disco#items
	Identities []Identity
	Features   []string
	Forms      []*xml.Element // XEP-0128 extended information (jabber:x:data result forms)
	// Handle reports whether it took the stanza; one it leaves is answered
	// service-unavailable (iq get/set, messages) or dropped.
	Handle func(ctx context.Context, st *Stanza) bool
}

// NSDiscoInfo is disco#info (XEP-0030), answered for services.
const NSDiscoInfo = "http://jabber.org/protocol/disco#info"

// AddService hosts a service. Its domain must not be served already, and
// its parent must be.
func (r *Router) AddService(s Service) error {
	switch {
	case s.Domain == "" || s.Handle == nil:
		return fmt.Errorf("a service needs a domain and a handler")
	case r.hosts[s.Domain]:
		return fmt.Errorf("service domain %s is a served domain already", s.Domain)
	case r.services[s.Domain] != nil:
		return fmt.Errorf("service domain %s is hosted twice", s.Domain)
	case !r.hosts[s.Parent]:
		return fmt.Errorf("service %s: parent %s is not a served domain", s.Domain, s.Parent)
	}
	r.services[s.Domain] = &s
	r.serviceOrder = append(r.serviceOrder, s.Domain)
	return nil
}

// Services returns the services whose parent is host, in the order added.
func (r *Router) Services(host string) []Service {
	var out []Service
	for _, d := range r.serviceOrder {
		if s := r.services[d]; s.Parent == host {
			out = append(out, *s)
		}
	}
	return out
}

// Serves reports whether domain is served here: an accounts' domain or a
// service's.
func (r *Router) Serves(domain string) bool { return r.hosts[domain] || r.services[domain] != nil }

// toService hands st to the service of its domain.
func (r *Router) toService(ctx context.Context, s *Service, st *Stanza) {
	if s.Handle(ctx, st) {
		return
	}
	if st.Kind == stanza.IQ && st.Type == "get" && st.To.Local() == "" && st.To.Resource() == "" {
		if p := st.Payload(); p != nil && p.Space == NSDiscoInfo && p.Attr("node") == "" {
			q := xml.New(NSDiscoInfo, "query")
			for _, id := range s.Identities {
				e := xml.New(NSDiscoInfo, "identity", "category", id.Category, "type", id.Type)
				e.SetAttr("name", id.Name)
				q.Append(e)
			}
			for _, f := range s.Features {
				q.Append(xml.New(NSDiscoInfo, "feature", "var", f))
			}
			for _, f := range s.Forms {
				q.Append(f)
			}
			r.route(ctx, &Stanza{El: stanza.Result(st.El, q), Kind: stanza.IQ, Type: "result", ID: st.ID, From: st.To, To: st.From})
			return
		}
	}
	switch {
	case st.Kind == stanza.IQ && (st.Type == "get" || st.Type == "set"),
		st.Kind == stanza.Message && st.Type != "error":
		r.ReplyError(ctx, st, stanza.ErrServiceUnavailable)
	}
}
