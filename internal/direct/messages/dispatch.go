package messages

import (
	"context"
	"encoding/json"
	"io"
	"net/mail"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// "Timely and reliable" delivery (Implementation Guide for Delivery
// Notification in Direct 1.0): a sender that asks with
// Disposition-Notification-Options: X-DIRECT-FINAL-DESTINATION-DELIVERY=optional,true
// gets a "dispatched" notification, carrying that field, once the message
// reached the recipient's client: a session took it, or, for a recipient
// offline, fetched it at login. The receiving side keeps what it owes in
// the archive store ("direct-dispatch", owner = the recipient) from the
// processed notification on, so a restart does not forget it.

// DispatchArchive is the archive name of the dispatched notifications owed.
const DispatchArchive = "direct-dispatch"

// Headers a tern sender writes to ask for it.
const (
	optionsHeader = "Disposition-Notification-Options"
	finalDelivery = "X-DIRECT-FINAL-DESTINATION-DELIVERY"
	optionsValue  = finalDelivery + "=optional,true"
)

// dispatchRequested reports whether the signed message asks for final
// delivery notification; a garbled option counts as not asked (ETT MT 40:
// processed only).
func dispatchRequested(msg io.Reader) bool {
	m, err := mail.ReadMessage(msg)
	if err != nil {
		return false
	}
	for _, v := range m.Header[optionsHeader] {
		for _, opt := range strings.Split(v, ";") { // RFC 3798 §2.2: parameters separated by ";"
			attr, val, ok := strings.Cut(opt, "=")
			if !ok || !strings.EqualFold(strings.TrimSpace(attr), finalDelivery) {
				continue
			}
			imp, rest, _ := strings.Cut(val, ",")
			imp = strings.ToLower(strings.TrimSpace(imp))
			if (imp == "optional" || imp == "required") && strings.EqualFold(strings.TrimSpace(rest), "true") {
				return true
			}
		}
	}
	return false
}

// ours marks the stanzas this module makes: only those may carry its
// elements (verified, refused, notification, sent) to a client.
var ours = router.NewKey[bool]("directmessages.ours")

func (m *Module) send(ctx context.Context, st *router.Stanza) {
	ours.SetStanza(st, true)
	m.r.Route(ctx, st)
}

// stripForeign removes this namespace's elements other than <direct/>
// from a message tern did not make: a sender cannot make a client believe
// its server verified anything.
func stripForeign(el *xml.Element) bool {
	found := false
	for _, c := range el.Children {
		if e, ok := c.(*xml.Element); ok && e.Space == NS && e.Name != "direct" {
			found = true
			break
		}
	}
	if !found {
		return false
	}
	kept := el.Children[:0:0]
	for _, c := range el.Children {
		if e, ok := c.(*xml.Element); ok && e.Space == NS && e.Name != "direct" {
			continue
		}
		kept = append(kept, c)
	}
	el.Children = kept
	return true
}

type owed struct {
	MessageID string `json:"message_id"`
	Sender    string `json:"sender"`
	Subject   string `json:"subject"`
}

// owe records that rcpt owes sender a dispatched notification.
func (m *Module) owe(ctx context.Context, rcpt, sender, messageID, subject string) error {
	if m.Pending == nil {
		return nil
	}
	b, _ := json.Marshal(owed{MessageID: messageID, Sender: sender, Subject: subject})
	_, err := m.Pending.Append(ctx, storage.Entry{Owner: rcpt, Archive: DispatchArchive, Time: time.Now().UTC(), Peer: sender, Payload: b}, 0)
	return err
}

// delivered sends the dispatched notification owed for a verified Direct
// message a session took (EvMessageDelivered) or fetched (EvMessageFetched).
func (m *Module) delivered(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message || st.Type != "chat" || !m.Direct(st.To.Domain()) {
		return false
	}
	v := st.El.Child(NS, "verified")
	if v == nil || v.Attr("message-id") == "" {
		return false
	}
	rcpt, mid, sender := st.To.Bare(), v.Attr("message-id"), st.From.Bare().String()
	if f, ok := m.inflight.Load(rcpt.String() + "|" + mid); ok {
		f.(*inflight).took() // check sends it, after processed
		return false
	}
	go m.dispatch(rcpt, sender, mid)
	return false
}

// dispatch sends the dispatched notification rcpt owes sender for mid, if
// it owes one (an entry made when the message was accepted).
func (m *Module) dispatch(rcpt jid.JID, sender, mid string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	page, err := m.Pending.Query(ctx, rcpt.String(), DispatchArchive, storage.Query{Peer: sender, ByTime: true})
	if err != nil {
		m.log.Error("dispatched notifications owed not read: check the storage", "to", rcpt.String(), "err", err)
		return
	}
	for _, e := range page.Entries {
		var o owed
		if json.Unmarshal(e.Payload, &o) != nil || o.MessageID != mid || o.Sender != sender {
			continue
		}
		// Deleted first: a second session taking it sends no second one.
		if err := m.Pending.Delete(ctx, rcpt.String(), DispatchArchive, []string{e.ID}); err != nil {
			m.log.Error("dispatched notification owed not removed: check the storage", "to", rcpt.String(), "err", err)
			return
		}
		to, err := jid.Parse(o.Sender)
		if err != nil {
			return
		}
		if err := m.notify(ctx, rcpt, to, mid, o.Subject, "dispatched", ""); err != nil {
			m.log.Warn("dispatched notification not sent", "from", rcpt.String(), "to", o.Sender, "original", mid, "err", err)
			m.record(rcpt.String(), audit.Record{Event: audit.Failed, Peer: o.Sender, MessageID: mid, Reason: "dispatched notification: " + err.Error()})
		}
		return
	}
}

// settle forgets the dispatched notification rcpt owes for messageID (the
// message was not delivered after all).
func (m *Module) settle(ctx context.Context, rcpt, messageID string) {
	if m.Pending == nil {
		return
	}
	page, err := m.Pending.Query(ctx, rcpt, DispatchArchive, storage.Query{})
	if err != nil {
		return
	}
	for _, e := range page.Entries {
		var o owed
		if json.Unmarshal(e.Payload, &o) == nil && o.MessageID == messageID {
			m.Pending.Delete(ctx, rcpt, DispatchArchive, []string{e.ID})
		}
	}
}

// inflight is a verified message being delivered: a failure seen on the
// way (undelivered) is told after the processed notification.
type inflight struct {
	mu         sync.Mutex
	why        string
	dispatched bool // a session took it: dispatched goes after processed
}

func (f *inflight) set(why string) { f.mu.Lock(); f.why = why; f.mu.Unlock() }
func (f *inflight) get() string    { f.mu.Lock(); defer f.mu.Unlock(); return f.why }

func (f *inflight) took() { f.mu.Lock(); f.dispatched = true; f.mu.Unlock() }
func (f *inflight) taken() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.dispatched
}

// undelivered catches the error a verified message got on its way to the
// recipient (offline storage full): that error, which carries the
// message's text, does not leave for the sender; a signed "failed"
// notification does (Implementation Guide: delivery failed after
// processed), after the processed one. Only an error the router made
// (no client sent it) about a message being delivered right now
// (inflight) counts: nobody can have the server sign a notification by
// sending it an error. Elements of this namespace in anything else a
// client sends to another server are removed.
func (m *Module) undelivered(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message || ours.OfStanza(st) {
		return false
	}
	v := st.El.Child(NS, "verified")
	if st.Type != "error" || v == nil || ev.Origin != nil {
		if stripForeign(st.El) {
			m.log.Info("elements of the Direct message namespace removed from a message for another server", "from", st.From.String(), "to", st.To.String())
		}
		return false
	}
	// A server-made error carrying a verified message: never sent on.
	held := ev.Hold(time.Second, nil)
	if held == nil {
		return false
	}
	held.Drop()
	rcpt, mid := st.From.Bare(), v.Attr("message-id")
	f, ok := m.inflight.Load(rcpt.String() + "|" + mid)
	if !ok {
		m.log.Warn("an error about a verified Direct message, for none being delivered, dropped (it carried the message's text)", "from", rcpt.String(), "to", st.To.String())
		return false
	}
	why := "delivery to the recipient failed"
	if e := stanza.ParseError(st.El); e != nil {
		why = "delivery to the recipient failed: " + e.Error()
	}
	m.log.Warn("verified Direct message not delivered; the sender gets a failed notification", "to", rcpt.String(), "from", st.To.Bare().String(), "message_id", mid, "why", why)
	f.(*inflight).set(why) // told after processed, by check
	return false
}
