// Package offline stores messages for users who are not online and
// delivers them, oldest first, at their next available presence with
// non-negative priority (XEP-0160, RFC 6121 §8.5.2.1.1), stamped with
// XEP-0203 delay. A message is acknowledged only once stored durably;
// when the quota is full the sender gets service-unavailable, never silence.
package offline

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces used.
const (
	NSDelay      = "urn:xmpp:delay"
	NSHints      = "urn:xmpp:hints"
	NSChatStates = "http://jabber.org/protocol/chatstates"
	NSOffline    = "msgoffline"
)

// Service is the offline feature.
type Service struct {
	r     *router.Router
	store storage.Offline
	quota int
	log   *slog.Logger
	now   func() time.Time
}

// Module is offline storage; Quota is limits.offline_quota (0: none).
type Module struct{ Quota int }

// Name implements module.Module.
func (Module) Name() string { return "offline" }

// Register implements module.Module.
func (m Module) Register(h *module.Host) error {
	s := &Service{r: h.Router, store: h.Store.Offline(), quota: m.Quota, log: h.Log, now: h.Now}
	h.AddFeature(router.Host, NSOffline)
	h.Hook(router.EvMessageOffline, 0, s.storeMessage)
	h.Hook(router.EvAvailable, 0, s.deliver)
	return nil
}

// worthStoring: XEP-0160 §3 and XEP-0334 hints. Chat-state-only messages
// and <no-store/> are not kept; a <store/> hint forces storage.
func worthStoring(el *xml.Element) bool {
	if el.Child(NSHints, "store") != nil {
		return true
	}
	if el.Child(NSHints, "no-store") != nil {
		return false
	}
	for _, c := range el.Elements() {
		if c.Space != NSChatStates && c.Space != NSHints && c.Space != NSDelay {
			return true
		}
	}
	return false
}

func (s *Service) storeMessage(ev *router.Event) bool {
	st := ev.Stanza
	if st.Type != "" && st.Type != "normal" && st.Type != "chat" {
		return true
	}
	if !worthStoring(st.El) {
		return true
	}
	el := st.El.Copy()
	el.RemoveChildren(NSDelay, "delay") // a sender's own delay stamp is not ours to keep
	el.Append(xml.New(NSDelay, "delay", "from", st.To.Domain(), "stamp", s.now().UTC().Format("2006-01-02T15:04:05.000Z")).SetText("Offline Storage"))
	owner := st.To.Bare().String()
	err := s.store.Store(ev.Ctx, owner, xml.Append(nil, el, el.Space), s.quota)
	if err == nil {
		// The archive's copy (written behind) is durable too before the
		// message counts as stored: a client syncing with MAM after a
		// crash finds what was stored offline.
		sctx, cancel := context.WithTimeout(ev.Ctx, 10*time.Second)
		serr := s.r.Sync(sctx)
		cancel()
		if serr != nil {
			s.log.Warn("archive not synced after an offline store", "to", owner, "err", serr)
		}
	}
	switch {
	case err == nil:
		s.r.Fire(router.EvMessageStored, &router.Event{Ctx: ev.Ctx, Stanza: st})
	case errors.Is(err, storage.ErrQuotaExceeded):
		s.r.ReplyError(ev.Ctx, st, stanza.ErrServiceUnavailable.WithText("the recipient's offline storage is full"))
	case err != nil:
		s.log.Error("offline message not stored; the sender gets an error", "to", owner, "err", err)
		s.r.ReplyError(ev.Ctx, st, stanza.ErrInternalServerError.WithText("message could not be stored"))
	}
	return true
}

// batch is how many stored messages go out at a time: each batch waits
// until the session has written it before it is deleted and the next read.
const batch = 100

// deliver sends stored messages to a resource that just became available:
// the first batch now, each next one once the session has written the
// previous (NotifyDrained), so the hook never waits and a slow reader
// never holds more than a batch in memory.
func (s *Service) deliver(ev *router.Event) bool {
	s.sendBatch(router.Detach(ev.Ctx), ev.Origin)
	return false
}

func (s *Service) sendBatch(ctx context.Context, res *router.Resource) {
	owner := res.JID.Bare().String()
	msgs, err := s.store.Fetch(ctx, owner, batch)
	if err != nil {
		s.log.Error("offline messages not delivered: storage failed; they stay stored", "jid", owner, "err", err)
		return
	}
	if len(msgs) == 0 {
		return
	}
	fetched := s.r.Hooked(router.EvMessageFetched)
	var sent []*xml.Element
	for _, m := range msgs {
		el, err := xml.Parse(m.Stanza)
		if err != nil {
			s.log.Error("stored offline message unreadable; skipped", "jid", owner, "id", m.ID, "err", err)
			continue
		}
		if !s.r.DeliverTo(res, el) {
			// The session is gone (or cut off for not reading): keep
			// the batch; it is delivered again at the next login.
			return
		}
		if fetched {
			sent = append(sent, el)
		}
	}
	last, more := msgs[len(msgs)-1].ID, len(msgs) == batch
	res.Session.NotifyDrained(func(written bool) {
		if !written {
			return // closed before the batch was surely written: it stays stored
		}
		// On its own goroutine: the callback may run on the session's
		// flusher, which must not wait for storage.
		go func() {
			if err := s.store.Delete(context.WithoutCancel(ctx), owner, last); err != nil {
				s.log.Error("offline messages delivered but not deleted; they may be delivered again", "jid", owner, "err", err)
				return
			}
			for _, el := range sent {
				if st, serr := router.NewStanza(el); serr == nil {
					s.r.Fire(router.EvMessageFetched, &router.Event{Ctx: ctx, Stanza: st, Targets: []*router.Resource{res}})
				}
			}
			if more {
				s.sendBatch(ctx, res)
			}
		}()
	})
}
