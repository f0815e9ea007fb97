package messages

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"net/textproto"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Disposition notifications (RFC 3798; Implementation Guide for Delivery
// Notification in Direct 1.0): the receiving side sends "processed" once
// the trust checks passed, signed and encrypted like any Direct message.
// A notification is never answered with another.

// Notification is a disposition notification read from a message.
type Notification struct {
	OriginalID  string // Original-Message-ID
	Disposition string // processed, dispatched, failed, ...
	Recipient   string // Final-Recipient's address
	// FinalDestination: the X-DIRECT-FINAL-DESTINATION-DELIVERY field is
	// there (a dispatched notification of timely and reliable delivery).
	FinalDestination bool
}

// readNotification returns the notification an opened message carries,
// or nil when it is not one (multipart/report; report-type=disposition-notification).
func readNotification(msg io.Reader) (*Notification, error) {
	m, err := mail.ReadMessage(msg)
	if err != nil {
		return nil, nil
	}
	mt, params, err := mime.ParseMediaType(m.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/report" || !strings.EqualFold(params["report-type"], "disposition-notification") {
		return nil, nil
	}
	mr := multipart.NewReader(m.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil, errors.New("a disposition notification report without its message/disposition-notification part")
		}
		if pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type")); pt != "message/disposition-notification" {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(p, 64<<10))
		h, err := textproto.NewReader(bufio.NewReader(bytes.NewReader(append(b, "\r\n"...)))).ReadMIMEHeader()
		if err != nil && len(h) == 0 {
			return nil, fmt.Errorf("the disposition fields: %v", err)
		}
		n := &Notification{OriginalID: strings.TrimSpace(h.Get("Original-Message-ID"))}
		// Disposition: automatic-action/MDN-sent-automatically;processed
		if _, d, ok := strings.Cut(h.Get("Disposition"), ";"); ok {
			n.Disposition = strings.ToLower(strings.TrimSpace(strings.SplitN(d, "/", 2)[0]))
		}
		_, n.FinalDestination = h[textproto.CanonicalMIMEHeaderKey(finalDelivery)]
		if _, a, ok := strings.Cut(h.Get("Final-Recipient"), ";"); ok {
			n.Recipient = strings.ToLower(strings.TrimSpace(a))
		}
		if n.OriginalID == "" || n.Disposition == "" {
			return nil, errors.New("a disposition notification without Original-Message-ID or Disposition")
		}
		if _, err := smime.CheckMessageID(n.OriginalID); err != nil {
			return nil, fmt.Errorf("the notification's Original-Message-ID: %v", err)
		}
		if !dispositions[n.Disposition] {
			return nil, fmt.Errorf("the notification's disposition %q is none of RFC 3798's (displayed, deleted, dispatched, processed, failed, denied)", n.Disposition)
		}
		return n, nil
	}
}

// dispositions are RFC 3798's disposition types and the Direct
// Implementation Guide's "dispatched".
var dispositions = map[string]bool{"displayed": true, "deleted": true, "dispatched": true, "processed": true, "failed": true, "denied": true}

// answer sends the notification with disposition (processed, failed)
// for a message accepted for rcpt from sender, signed by rcpt's
// certificate and encrypted to the sender's, found by discovery; failure
// is the Failure field of a failed one. Errors are logged and audited:
// the message itself was dealt with.
func (m *Module) answer(rcpt, sender jid.JID, originalID, subject, disposition, failure string) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := m.notify(ctx, rcpt, sender, originalID, subject, disposition, failure)
	if err != nil {
		m.log.Warn(disposition+" notification not sent", "from", rcpt.String(), "to", sender.String(), "original", originalID, "err", err)
		m.record(rcpt.String(), audit.Record{Event: audit.Failed, Peer: sender.String(), MessageID: originalID, Reason: disposition + " notification: " + err.Error()})
	}
}

func (m *Module) notify(ctx context.Context, rcpt, sender jid.JID, originalID, subject, disposition, failure string) error {
	if id, err := smime.CheckMessageID(originalID); err != nil || id == "" {
		return fmt.Errorf("no notification for Message-ID %q: not an RFC 5322 msg-id", originalID)
	}
	signer, err := m.Keys.Signer(ctx, rcpt.String())
	if err != nil {
		return fmt.Errorf("no signing certificate: %w", err)
	}
	rep, err := m.Discover(ctx, rcpt.Domain(), sender.String(), trust.PurposeEncrypt)
	if err != nil {
		return err
	}
	certs := encryptable(rep)
	if len(certs) == 0 {
		return fmt.Errorf("no trusted certificate of %s to encrypt to (tried: %s)", sender, strings.Join(rep.Tried, "; "))
	}
	fields := "Reporting-UA: " + rcpt.Domain() + "; tern\r\n" +
		"Final-Recipient: rfc822; " + rcpt.String() + "\r\n" +
		"Original-Message-ID: " + originalID + "\r\n" +
		"Disposition: automatic-action/MDN-sent-automatically;" + disposition + "\r\n"
	if disposition == "failed" {
		fields += "Failure: " + strings.Join(strings.Fields(failure), " ") + "\r\n" // RFC 3798 §3.2.7, one line
	}
	if disposition == "dispatched" {
		fields += finalDelivery + ":\r\n" // the extension field, empty, as the reference implementation writes it
	}
	msg := smime.Message{From: rcpt.String(), To: []string{sender.String()}, Subject: strings.ToUpper(disposition[:1]) + disposition[1:] + ": " + subject,
		Multipart: "report; report-type=disposition-notification",
		Parts: []smime.Part{{Data: []byte(humanText(disposition))},
			{ContentType: "message/disposition-notification", Data: []byte(fields)}}}
	raw, err := smime.Seal(&msg, signer, certs, m.Options)
	if err != nil {
		return err
	}
	id := strings.Trim(msg.MessageID, "<>")
	el := xml.New(xml.NSClient, "message", "from", rcpt.String(), "to", sender.String(), "type", "normal", "id", id)
	el.Append(element(msg.MessageID, raw))
	st, serr := router.NewStanza(el)
	if serr != nil {
		return serr
	}
	m.record(rcpt.String(), audit.Record{Event: audit.NotificationSent, Peer: sender.String(), MessageID: originalID, Digest: audit.Digest(raw), Rule: disposition})
	m.send(context.Background(), st)
	return nil
}

// notified handles a notification received for a local sender: recorded,
// and told to the sender's clients; never delivered as a message.
// "processed" completes the message's pending entry; a failure (failed,
// denied, deleted) completes it too, told as a failure; others are told.
func (m *Module) notified(n *Notification, to, from jid.JID) *router.Stanza {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	failed := n.Disposition == "failed" || n.Disposition == "denied" || n.Disposition == "deleted"
	final := failed || (n.Disposition == "dispatched" && n.FinalDestination)
	if n.Disposition == "processed" || final {
		if ok, err := m.progress(ctx, to.String(), from.String(), n.OriginalID, final); err != nil {
			m.log.Error("Direct message's pending entry not removed: its sender may be told it failed", "message_id", n.OriginalID, "err", err)
		} else if !ok {
			m.log.Info("a notification for no pending message (late, repeated, or for one sent before tracking)", "message_id", n.OriginalID, "from", from.String())
		}
	}
	m.record(to.String(), audit.Record{Event: audit.NotificationReceived, Peer: from.String(), MessageID: n.OriginalID, Rule: n.Disposition})
	m.log.Info("Direct notification received", "to", to.String(), "from", from.String(), "original", n.OriginalID, "disposition", n.Disposition)
	text := map[string]string{
		"processed":  "was accepted by its recipient's server (processed)",
		"dispatched": "was delivered to its recipient (dispatched)",
		"displayed":  "was displayed to its recipient",
	}[n.Disposition]
	if failed {
		text = "failed: its recipient's server reports it " + n.Disposition
	}
	notice := xml.New(xml.NSClient, "message", "from", to.Domain(), "to", to.String(), "type", "normal", "id", strings.Trim(n.OriginalID, "<>")+"-"+n.Disposition)
	notice.Append(xml.New(xml.NSClient, "body").SetText(fmt.Sprintf("Your Direct message %s to %s %s.", n.OriginalID, from, text)))
	disp := n.Disposition
	if failed {
		disp = "failed"
	}
	notice.Append(xml.New(NS, "notification", "message-id", n.OriginalID, "disposition", disp, "from", from.String()))
	st, err := router.NewStanza(notice)
	if err != nil { // cannot happen with these attributes; nothing to deliver then
		m.log.Error("notification notice not built", "err", err)
		return nil
	}
	return st
}

func humanText(disposition string) string {
	if disposition == "failed" {
		return "Your message could not be delivered to its recipient.\n"
	}
	return "Your message was successfully " + disposition + ".\n"
}
