package router

import (
	"context"
	"fmt"
	"sort"

	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Target says which addresses an IQ handler answers for.
type Target int

const (
	// Host: the server itself (to = a served domain).
	Host Target = 1 << iota
	// Self: a user's own account (no 'to', or 'to' = the sender's bare JID).
	Self
	// Account: a local account addressed by someone else (to = bare JID).
	Account
)

// IQ is what an IQ handler receives.
type IQ struct {
	*Stanza
	Ctx    context.Context
	Origin *Resource // local sender, nil when from federation
	Router *Router
}

// IQFunc answers an iq get/set: a payload for the result (nil for an empty
// result) or a *stanza.Error.
type IQFunc func(iq *IQ) (*xml.Element, error)

type iqKey struct {
	typ, ns string
	target  Target
}

// HandleIQ registers fn for iq of type typ ("get" or "set") whose payload is
// in namespace ns, for each target in targets. The namespace is advertised
// in service discovery for those targets. A key registered twice is an
// error (the second would silently win): nothing is registered then.
func (r *Router) HandleIQ(targets Target, typ, ns string, fn IQFunc) error {
	return r.HandleIQOn(targets, typ, ns, nil, fn)
}

// HandleIQOn is HandleIQ for a feature some domains offer: disco#info
// lists ns only on the domains on reports true for (nil: all). fn still
// receives the iq on every domain and answers for the others itself.
func (r *Router) HandleIQOn(targets Target, typ, ns string, on func(domain string) bool, fn IQFunc) error {
	for t := Host; t <= Account; t <<= 1 {
		if targets&t != 0 && r.iqs[iqKey{typ, ns, t}] != nil {
			return fmt.Errorf("iq %s %s for %s is handled twice", typ, ns, t)
		}
	}
	for t := Host; t <= Account; t <<= 1 {
		if targets&t != 0 {
			r.iqs[iqKey{typ, ns, t}] = fn
			r.AddFeature(t, ns)
		}
	}
	if on != nil {
		if r.featureOn == nil {
			r.featureOn = map[string]func(string) bool{}
		}
		r.featureOn[ns] = on
	}
	return nil
}

func (t Target) String() string {
	switch t {
	case Host:
		return "the server"
	case Self:
		return "the user's own account"
	case Account:
		return "other accounts"
	}
	return "several targets"
}

// AddFeature advertises a disco#info feature for a target, for features
// that are not an IQ namespace (receipts, carbons' sub-features...).
func (r *Router) AddFeature(t Target, ns string) {
	if t&Self != 0 || t&Account != 0 {
		t = Account // disco on an account shows the same features to everyone
	}
	for _, f := range r.features[t] {
		if f == ns {
			return
		}
	}
	r.features[t] = append(r.features[t], ns)
	sort.Strings(r.features[t])
}

// Features returns the disco features for the host or for accounts.
func (r *Router) Features(t Target) []string {
	if t != Host {
		t = Account
	}
	return r.features[t]
}

// FeaturesOn returns the disco features of the host or of accounts at a
// domain: Features without those HandleIQOn keeps to other domains.
func (r *Router) FeaturesOn(t Target, domain string) []string {
	all := r.Features(t)
	if len(r.featureOn) == 0 {
		return all
	}
	out := make([]string, 0, len(all))
	for _, f := range all {
		if on := r.featureOn[f]; on == nil || on(domain) {
			out = append(out, f)
		}
	}
	return out
}

// Identity is a disco identity (XEP-0030 §3.1).
type Identity struct{ Category, Type, Name string }

// AddIdentity adds a disco identity for the host or for accounts.
func (r *Router) AddIdentity(t Target, id Identity) {
	if t != Host {
		t = Account
	}
	r.identities[t] = append(r.identities[t], id)
}

// Identities returns the disco identities of a target.
func (r *Router) Identities(t Target) []Identity {
	if t != Host {
		t = Account
	}
	return r.identities[t]
}

// FormFunc returns extended info forms (XEP-0128) for a host.
type FormFunc func(host string) *xml.Element

// AddInfoForm registers an extended disco#info form for hosts (XEP-0157).
func (r *Router) AddInfoForm(fn FormFunc) { r.infoForms = append(r.infoForms, fn) }

// InfoForms returns the extended info forms for a host.
func (r *Router) InfoForms(host string) []*xml.Element {
	var out []*xml.Element
	for _, f := range r.infoForms {
		if el := f(host); el != nil {
			out = append(out, el)
		}
	}
	return out
}

// handleIQ runs the handler for the iq and sends the reply; it reports
// whether a handler existed.
func (r *Router) handleIQ(ctx context.Context, origin *Resource, st *Stanza, t Target) bool {
	if st.Type != "get" && st.Type != "set" {
		return false
	}
	p := st.Payload()
	if p == nil {
		r.ReplyError(ctx, st, stanza.ErrBadRequest.WithText("an iq get/set needs one payload element"))
		return true
	}
	fn := r.iqs[iqKey{st.Type, p.Space, t}]
	if fn == nil {
		return false
	}
	iq := &IQ{Stanza: st, Ctx: ctx, Origin: origin, Router: r}
	payload, err := fn(iq)
	if err != ErrLater {
		iq.reply(ctx, payload, err)
	}
	return true
}
