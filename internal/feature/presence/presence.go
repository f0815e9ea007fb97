package presence

import (
	"context"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Roster is what presence needs of the roster module.
type Roster interface {
	Items(ctx context.Context, owner string) ([]storage.RosterItem, error)
	CanSeePresence(ctx context.Context, owner, contact string) (bool, error)
}

// Service is the presence feature.
type Service struct {
	r      *router.Router
	roster Roster
	store  storage.Roster
	last   storage.LastActivity
	log    *slog.Logger
	now    func() time.Time
}

// Module is presence (RFC 6121 §4): broadcast, probes, directed presence,
// unavailable at the end of a session. It needs the roster module and
// provides *Service (DirectedTo) to the modules after it.
type Module struct{}

// Name implements module.Module.
func (Module) Name() string { return "presence" }

// Register implements module.Module.
func (Module) Register(h *module.Host) error {
	rs, err := module.Depend[Roster](h, "roster")
	if err != nil {
		return err
	}
	s := &Service{r: h.Router, roster: rs, store: h.Store.Roster(), last: h.Store.LastActivity(), log: h.Log, now: h.Now}
	h.Hook(router.EvPresenceBroadcast, 0, s.broadcast)
	h.Hook(router.EvPresenceDirected, 0, s.directed)
	h.Hook(router.EvProbeIn, 0, s.probe)
	h.Hook(router.EvUnavailable, 0, s.sessionEnded)
	h.Provide(s)
	return nil
}

// directedTo holds the full JIDs a resource sent directed presence to
// (RFC 6121 §4.6): they get its unavailable presence at the end.
var directedTo = router.NewKey[map[string]struct{}]("presence.directed")

// DirectedTo returns the JIDs res sent directed presence to, and no
// unavailable since (for blocking, XEP-0191 §5.3), sorted.
func (s *Service) DirectedTo(res *router.Resource) []string {
	m := directedTo.Of(res)
	out := make([]string, 0, len(m))
	for to := range m {
		out = append(out, to)
	}
	sort.Strings(out)
	return out
}

// priority reads <priority/> (RFC 6121 §4.7.2.3): -128..127, default 0.
func priority(el *xml.Element) (int, bool) {
	t := strings.TrimSpace(el.ChildText("", "priority"))
	if t == "" {
		return 0, true
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < -128 || n > 127 {
		return 0, false
	}
	return n, true
}

// broadcast handles presence without 'to' from a client (§4.2, §4.4, §4.5).
func (s *Service) broadcast(ev *router.Event) bool {
	res, st := ev.Origin, ev.Stanza
	owner := res.JID.Bare()
	if st.Type == "unavailable" {
		s.unavailable(ev.Ctx, res, st.El)
		return true
	}
	prio, ok := priority(st.El)
	if !ok {
		s.r.ReplyError(ev.Ctx, st, stanza.ErrBadRequest.WithText("priority must be an integer from -128 to 127"))
		return true
	}
	// Keep the element as broadcast: without 'to', from the full JID.
	p := st.Readdress(jid.JID{}, res.JID).El
	initial, nonNeg := res.SetPresence(p, prio)
	items, err := s.roster.Items(ev.Ctx, owner.String())
	if err != nil {
		s.log.Error("roster read failed; presence not broadcast", "jid", res.JID.String(), "err", err)
		return true
	}
	for _, it := range items {
		c, err := jid.Parse(it.Contact)
		if err != nil {
			continue
		}
		if initial && (it.Subscription == storage.SubTo || it.Subscription == storage.SubBoth) {
			// §4.2.2: probe the contacts we are subscribed to.
			el := xml.New(xml.NSClient, "presence", "to", c.String(), "from", owner.String(), "type", "probe")
			s.r.Route(ev.Ctx, &router.Stanza{El: el, Kind: "presence", Type: "probe", From: owner, To: c})
		}
		if it.Subscription == storage.SubFrom || it.Subscription == storage.SubBoth {
			s.r.Route(ev.Ctx, (&router.Stanza{El: p, Kind: "presence"}).Readdress(c, res.JID))
		}
	}
	// The user's own resources see each other (§4.2.2, §4.4.2).
	for _, o := range s.r.Resources(owner) {
		if o == res {
			continue
		}
		if o.Available() {
			s.r.DeliverTo(o, (&router.Stanza{El: p}).Readdress(o.JID, res.JID).El)
		}
		if initial {
			if op, _ := o.Presence(); op != nil {
				s.r.DeliverTo(res, (&router.Stanza{El: op}).Readdress(res.JID, o.JID).El)
			}
		}
	}
	// Its own presence back to itself (§4.2.2: the server sends the
	// initial presence to the user's own full JID as well).
	s.r.DeliverTo(res, (&router.Stanza{El: p}).Readdress(res.JID, res.JID).El)
	if initial {
		s.deliverPending(ev.Ctx, res)
	}
	if nonNeg {
		s.r.Fire(router.EvAvailable, &router.Event{Ctx: ev.Ctx, Origin: res})
	}
	return true
}

// deliverPending redelivers unanswered subscription requests (§3.1.3).
func (s *Service) deliverPending(ctx context.Context, res *router.Resource) {
	pend, err := s.store.PendingIns(ctx, res.JID.Bare().String())
	if err != nil {
		s.log.Error("pending subscription requests not delivered: storage failed", "jid", res.JID.String(), "err", err)
		return
	}
	for _, p := range pend {
		el := xml.New(xml.NSClient, "presence", "from", p.Contact, "to", res.JID.Bare().String(), "type", "subscribe")
		if p.Stanza != "" {
			if parsed, err := xml.Parse([]byte(p.Stanza)); err == nil && parsed.Name == "presence" {
				el = parsed
			}
		}
		s.r.DeliverTo(res, el)
	}
}

// unavailable broadcasts unavailable for a resource (§4.5.2) to subscribers,
// the user's other resources and every directed-presence target.
func (s *Service) unavailable(ctx context.Context, res *router.Resource, el *xml.Element) {
	owner := res.JID.Bare()
	wasAvailable := res.Available()
	res.SetPresence(nil, 0)
	if el == nil {
		el = xml.New(xml.NSClient, "presence", "type", "unavailable")
	}
	p := (&router.Stanza{El: el}).Readdress(jid.JID{}, res.JID).El
	sent := map[string]bool{}
	if wasAvailable {
		items, err := s.roster.Items(ctx, owner.String())
		if err != nil {
			s.log.Error("roster read failed; unavailable not broadcast", "jid", res.JID.String(), "err", err)
		}
		for _, it := range items {
			if it.Subscription != storage.SubFrom && it.Subscription != storage.SubBoth {
				continue
			}
			if c, err := jid.Parse(it.Contact); err == nil {
				sent[c.String()] = true
				s.r.Route(ctx, (&router.Stanza{El: p, Kind: "presence", Type: "unavailable"}).Readdress(c, res.JID))
			}
		}
		for _, o := range s.r.Resources(owner) {
			if o != res && o.Available() {
				s.r.DeliverTo(o, (&router.Stanza{El: p}).Readdress(o.JID, res.JID).El)
			}
		}
	}
	var targets map[string]struct{}
	directedTo.Update(res, func(m map[string]struct{}) map[string]struct{} { targets = m; return nil })
	for d := range targets {
		if sent[d] {
			continue
		}
		if c, err := jid.Parse(d); err == nil {
			s.r.Route(ctx, (&router.Stanza{El: p, Kind: "presence", Type: "unavailable"}).Readdress(c, res.JID))
		}
	}
	if wasAvailable && s.last != nil {
		online := false
		for _, o := range s.r.Resources(owner) {
			if o != res && o.Available() {
				online = true
			}
		}
		if !online && s.r.UserExists(ctx, owner) { // not for an account being deleted
			if err := s.last.SetLast(ctx, owner.String(), s.now(), el.ChildText("", "status")); err != nil {
				s.log.Warn("last activity not recorded", "jid", owner.String(), "err", err)
			}
		}
	}
}

// sessionEnded sends unavailable for a resource whose session ended
// without it (§4.6.3, pitfalls: dead clients must not stay online).
func (s *Service) sessionEnded(ev *router.Event) bool {
	s.unavailable(ev.Ctx, ev.Origin, nil)
	return false
}

// directed records directed presence (§4.6) and lets the router route it.
func (s *Service) directed(ev *router.Event) bool {
	res, st := ev.Origin, ev.Stanza
	target := st.To.String()
	// Only worth remembering for targets that do not get broadcasts
	// anyway; remembering all is simpler and just as correct.
	add := st.Type != "unavailable"
	if add && !res.Available() {
		return false
	}
	// Copy on write: DirectedTo reads the map without the resource's lock.
	directedTo.Update(res, func(old map[string]struct{}) map[string]struct{} {
		m := make(map[string]struct{}, len(old)+1)
		for k := range old {
			m[k] = struct{}{}
		}
		if add {
			m[target] = struct{}{}
		} else {
			delete(m, target)
		}
		return m
	})
	return false
}

// probe answers a presence probe for a local user (§4.3.2).
func (s *Service) probe(ev *router.Event) bool {
	st := ev.Stanza
	owner := st.To.Bare()
	if st.From.IsZero() {
		return true
	}
	prober := st.From.Bare()
	entitled := prober.Equal(owner)
	if !entitled {
		sees, err := s.roster.CanSeePresence(ev.Ctx, owner.String(), prober.String())
		if err != nil {
			s.log.Error("roster read failed; probe not answered", "jid", owner.String(), "err", err)
			return true
		}
		entitled = sees
	}
	if !entitled {
		el := xml.New(xml.NSClient, "presence", "to", prober.String(), "from", owner.String(), "type", "unsubscribed")
		s.r.Route(ev.Ctx, &router.Stanza{El: el, Kind: "presence", Type: "unsubscribed", From: owner, To: prober})
		return true
	}
	any := false
	for _, res := range s.r.Resources(owner) {
		if p, _ := res.Presence(); p != nil {
			any = true
			s.r.Route(ev.Ctx, (&router.Stanza{El: p, Kind: "presence"}).Readdress(st.From, res.JID))
		}
	}
	if !any {
		el := xml.New(xml.NSClient, "presence", "to", st.From.String(), "from", owner.String(), "type", "unavailable")
		if s.last != nil {
			if at, status, err := s.last.GetLast(ev.Ctx, owner.String()); err == nil {
				if status != "" {
					el.Append(xml.New(xml.NSClient, "status").SetText(status))
				}
				el.Append(xml.New("urn:xmpp:delay", "delay", "from", owner.Domain(), "stamp", at.UTC().Format("2006-01-02T15:04:05Z")))
			}
		}
		s.r.Route(ev.Ctx, &router.Stanza{El: el, Kind: "presence", Type: "unavailable", From: owner, To: st.From})
	}
	return true
}
