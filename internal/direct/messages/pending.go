package messages

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// The sender's side keeps each (Message-ID, recipient) sent until its
// "processed" notification comes, in the archive store ("direct-pending",
// owner = the sender's domain, entry time = the deadline), so it survives
// restarts and kill -9; past the deadline the sender is told it failed.

// PendingArchive is the archive name of the messages awaiting their notification.
const PendingArchive = "direct-pending"

type pending struct {
	MessageID string    `json:"message_id"`
	Sender    string    `json:"sender"`
	Recipient string    `json:"recipient"`
	Deadline  time.Time `json:"deadline"`
	// Reliable: the sender asked for a dispatched notification (timely
	// and reliable): processed alone does not complete it.
	Reliable  bool `json:"reliable,omitempty"`
	Processed bool `json:"processed,omitempty"`
	// URL is where a message sent by reference waits to be fetched; it
	// is deleted once the message is answered or timed out.
	URL string `json:"url,omitempty"`
}

// pendingKey is a pending entry's peer: the sender, the recipient and the
// Message-ID, so that an answer finds its entry by index, however many
// the domain has pending.
func pendingKey(sender, rcpt, messageID string) string {
	return sender + " " + strings.ToLower(rcpt) + " " + messageID
}

// track stores a sent message's entry before the message leaves.
func (m *Module) track(ctx context.Context, sender, rcpt, messageID string, reliable bool, url string) error {
	if m.Pending == nil {
		return nil
	}
	p := pending{MessageID: messageID, Sender: sender, Recipient: rcpt, Deadline: time.Now().Add(m.processedTimeout).UTC(), Reliable: reliable, URL: url}
	b, _ := json.Marshal(p)
	_, domain, _ := strings.Cut(sender, "@")
	_, err := m.Pending.Append(ctx, storage.Entry{Owner: domain, Archive: PendingArchive, Time: p.Deadline, Peer: pendingKey(sender, rcpt, messageID), Payload: b}, 0)
	return err
}

// complete removes the entry of a message that got its final answer;
// false when none was pending (a late or repeated answer).
func (m *Module) complete(ctx context.Context, sender, rcpt, messageID string) (bool, error) {
	return m.progress(ctx, sender, rcpt, messageID, true)
}

// progress records an answer for a pending message: a final one (or
// processed, when no dispatched was asked for) removes the entry;
// processed for a reliable message marks it, the deadline unchanged.
func (m *Module) progress(ctx context.Context, sender, rcpt, messageID string, final bool) (bool, error) {
	if m.Pending == nil {
		return false, nil
	}
	_, domain, _ := strings.Cut(sender, "@")
	// ByTime: read through the (owner, archive, peer, at) index; the
	// order of a key's few entries does not matter.
	page, err := m.Pending.Query(ctx, domain, PendingArchive, storage.Query{Peer: pendingKey(sender, rcpt, messageID), ByTime: true})
	if err == nil && len(page.Entries) == 0 {
		// Entries written before the key had the recipient and Message-ID.
		page, err = m.Pending.Query(ctx, domain, PendingArchive, storage.Query{Peer: sender, ByTime: true})
	}
	if err != nil {
		return false, err
	}
	var ids []string
	var marked []pending
	for _, e := range page.Entries {
		var p pending
		if json.Unmarshal(e.Payload, &p) != nil || p.MessageID != messageID || !strings.EqualFold(p.Recipient, rcpt) {
			continue
		}
		if !final && p.Reliable {
			if p.Processed {
				continue // a repeated processed
			}
			p.Processed = true
			marked = append(marked, p)
		} else {
			m.unshare(p.URL)
		}
		ids = append(ids, e.ID)
	}
	if len(ids) == 0 {
		return false, nil
	}
	for _, p := range marked { // the marked entry first: a crash between leaves two, never none
		b, _ := json.Marshal(p)
		if _, err := m.Pending.Append(ctx, storage.Entry{Owner: domain, Archive: PendingArchive, Time: p.Deadline, Peer: pendingKey(p.Sender, p.Recipient, p.MessageID), Payload: b}, 0); err != nil {
			return true, err
		}
	}
	return true, m.Pending.Delete(ctx, domain, PendingArchive, ids)
}

// expire tells the senders of the messages past their deadline, once.
func (m *Module) expire(ctx context.Context, domains []string, now time.Time) {
	for _, d := range domains {
		page, err := m.Pending.Query(ctx, d, PendingArchive, storage.Query{End: now, Max: 500})
		if err != nil {
			m.log.Error("Direct messages awaiting notification not read; retried at the next scan", "domain", d, "err", err)
			continue
		}
		var ids []string
		for _, e := range page.Entries {
			ids = append(ids, e.ID)
			var p pending
			if err := json.Unmarshal(e.Payload, &p); err != nil {
				continue
			}
			why := fmt.Sprintf("no processed notification from %s within %s: the message may not have reached its recipient", p.Recipient, m.processedTimeout)
			if p.Processed {
				why = fmt.Sprintf("processed by the server of %s, but no dispatched notification within %s: the message may not have reached its recipient's client", p.Recipient, m.processedTimeout)
			}
			m.log.Warn("Direct message not confirmed in time", "from", p.Sender, "to", p.Recipient, "message_id", p.MessageID)
			m.record(p.Sender, audit.Record{Event: audit.Failed, Peer: p.Recipient, MessageID: p.MessageID, Rule: "timeout", Reason: why})
			m.unshare(p.URL)
			notice := xml.New(xml.NSClient, "message", "from", d, "to", p.Sender, "type", "normal", "id", strings.Trim(p.MessageID, "<>")+"-timeout")
			notice.Append(xml.New(xml.NSClient, "body").SetText("Your Direct message " + p.MessageID + " to " + p.Recipient + " failed: " + why + "."))
			notice.Append(xml.New(NS, "notification", "message-id", p.MessageID, "disposition", "failed", "from", p.Recipient, "reason", "timeout"))
			if st, serr := router.NewStanza(notice); serr == nil {
				m.send(ctx, st)
			}
		}
		if len(ids) > 0 {
			if err := m.Pending.Delete(ctx, d, PendingArchive, ids); err != nil {
				m.log.Error("expired Direct messages not removed; their senders may be told again", "domain", d, "err", err)
			}
		}
	}
}

// owedFor bounds how long a dispatched notification stays owed for a
// message its recipient never fetched: past it, no sender still waits.
const owedFor = 7 * 24 * time.Hour

// scanner expires on a timer for the process's life; its first pass at
// start-up catches what fell due while the server was down.
func (m *Module) scanner(domains []string) {
	every := min(max(m.processedTimeout/10, time.Second), time.Minute)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), every)
		m.expire(ctx, domains, time.Now())
		if i%60 == 0 {
			m.forgetOwed(ctx, time.Now())
		}
		cancel()
		time.Sleep(every)
	}
}

// forgetOwed drops the dispatched notifications owed for longer than owedFor.
func (m *Module) forgetOwed(ctx context.Context, now time.Time) {
	n, err := m.Pending.Expire(ctx, DispatchArchive, storage.Retention{Before: now.Add(-owedFor)})
	switch {
	case err != nil:
		m.log.Error("old dispatched notifications owed not removed; retried later", "err", err)
	case n > 0:
		m.log.Info("dispatched notifications owed for messages not fetched within a week forgotten", "count", n)
	}
}

// unshare deletes a message sent by reference from the upload service.
func (m *Module) unshare(url string) {
	if url == "" || m.files == nil {
		return
	}
	if err := m.files.Delete(url); err != nil {
		m.log.Warn("a Direct message sent by reference was not deleted; it expires with [upload] expire", "url", url, "err", err)
	}
}
