package messages

import (
	"context"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// errIsNotification: the message opened is a disposition notification,
// handled as such (never answered with another).
var errIsNotification = errors.New("a disposition notification")

// openTimeout bounds the receive path of one message (CRL and AIA fetches
// included).
const openTimeout = 30 * time.Second

// incoming takes a Direct message for a local user of a Direct domain
// before delivery: opened and checked, it is replaced by a chat message
// saying what was verified; refused, it is bounced with the rule.
func (m *Module) incoming(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message {
		return false
	}
	if !ours.OfStanza(st) && stripForeign(st.El) {
		m.log.Info("elements of the Direct message namespace removed from a message tern did not make", "from", st.From.String(), "to", st.To.String())
	}
	el := st.El.Child(NS, "direct")
	if el == nil || !m.Direct(st.To.Domain()) {
		return false
	}
	if st.Type == "error" {
		return m.refused(ev, el)
	}
	wait := openTimeout + 5*time.Second
	if el.Attr("url") != "" {
		wait += m.fetchTimeout
	}
	held := ev.Hold(wait, stanza.ErrRemoteServerTimeout.WithText("the Direct message could not be checked in time"))
	if held == nil {
		return false
	}
	to, from, id := st.To.Bare(), st.From.Bare(), st.ID
	go m.check(held, el, to, from, id)
	return false
}

// maxHeavy bounds the fetches of messages by reference and the in-memory
// work on large documents at a time (each may hold max_message_bytes).
const maxHeavy = 4

// RuleLocal: the receiving server could not process the message (its
// disk, its load): nothing is wrong with the message.
const RuleLocal smime.Rule = "temporary-failure"

// RuleUnknownRecipient: the message is for no account of this server.
const RuleUnknownRecipient smime.Rule = "recipient-unknown"

// check runs the receive path on a held message, then delivers the
// verified summary in its place or refuses it naming the rule.
func (m *Module) check(held *router.Held, el *xml.Element, to, from jid.JID, id string) {
	var (
		pl   *payload
		perr error
	)
	uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
	exists := m.r.UserExists(uctx, to)
	ucancel()
	if exists && el.Attr("url") != "" {
		// A bounded number of messages by reference at a time, from the
		// fetch to the last copy of their documents (disk, bandwidth, and
		// the AES-GCM ones opened in memory).
		select {
		case m.heavy <- struct{}{}:
			defer func() { <-m.heavy }()
		case <-time.After(m.fetchTimeout):
			perr = fmt.Errorf("%w: too many messages by reference under way", smime.ErrLocal)
		}
	}
	switch {
	case !exists:
		perr = errUnknown // nothing fetched for nobody
	case perr == nil:
		pl, perr = m.payload(el, from) // its own time bound (fetch_timeout)
	}
	if pl != nil {
		defer pl.done()
	}
	// The receive path's time starts once the bytes are here.
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	rec := audit.Record{Peer: from.String(), MessageID: el.Attr("message-id")}
	if perr == nil {
		rec.Digest = hex.EncodeToString(pl.sum)
	}
	var (
		chat  *router.Stanza
		op    *smime.Opened
		parts []partInfo
		rule  smime.Rule
		err   error
	)
	switch {
	case perr == errUnknown:
		// Not decrypted with the domain's keys, kept or answered: RFC 6120
		// §10.5.4 for an unknown account, naming the rule.
		rule, err = RuleUnknownRecipient, fmt.Errorf("%s: there is no account %s here", RuleUnknownRecipient, to)
	case errors.Is(perr, smime.ErrLocal):
		rule, err = RuleLocal, perr
	case perr != nil:
		rule, err = smime.RuleMalformed, perr
		var fe *fetchError
		if errors.As(perr, &fe) {
			rule = RuleFetchFailed
		}
	default:
		chat, op, parts, rule, err = m.open(ctx, el, pl, to, from, id)
	}
	if op != nil {
		defer op.Close() // the decrypted message and its documents, once kept
	}
	if err != nil && err != errIsNotification {
		rec.Event, rec.Rule, rec.Reason = audit.Rejected, string(rule), err.Error()
		m.record(to.String(), rec)
		m.log.Warn("Direct message refused", "from", from.String(), "to", to.String(), "id", id, "rule", rule, "err", err)
		if !held.Take() {
			return // timed out: the sender has had its error
		}
		// The error goes back without the S/MIME bytes (RFC 6120 §8.3.1
		// lets it leave them out), naming the message and the rule; what
		// was learnt of unauthenticated plaintext, or of a fetch, stays here
		// (no padding oracle, no probe of what the server can reach).
		var rej *smime.Rejection
		if errors.As(err, &rej) && (rej.Unauthenticated || rej.Rule == smime.RuleDecryptFailed) {
			rule, err = smime.RuleDecryptFailed, errors.New("decrypt-failed: the message could not be decrypted and verified with the recipient's keys")
		}
		if rule == RuleFetchFailed {
			err = errors.New("fetch-failed: the message could not be fetched as the stanza describes it (see the receiving server's log)")
		}
		e := stanza.ErrNotAcceptable.WithText("direct: " + err.Error())
		switch rule {
		case RuleUnknownRecipient:
			e = stanza.ErrServiceUnavailable.WithText("direct: " + err.Error())
		case RuleLocal:
			// This server's trouble (its disk), not the message's: said as
			// such, without its details, and worth sending again.
			e = stanza.ErrResourceConstraint.WithText("direct: " + string(RuleLocal) + ": the receiving server could not take the message now; send it again later")
		}
		reply := xml.New(xml.NSClient, "message", "from", to.String(), "to", from.String(), "type", "error", "id", id)
		reply.Append(xml.New(NS, "direct", "message-id", el.Attr("message-id"), "rule", string(rule)))
		reply.Append(e.Element())
		if st, serr := router.NewStanza(reply); serr == nil {
			m.send(context.Background(), st)
		}
		return
	}
	// Delivered once the hold is ours, before anything slower (the
	// inbox, the notification) could let the hold time out.
	if !held.Take() {
		m.log.Warn("Direct message checked after its hold timed out: not delivered, the sender was told", "from", from.String(), "to", to.String(), "id", id)
		return
	}
	if err == errIsNotification { // recorded by notified
		if chat != nil {
			m.send(context.Background(), chat)
		}
		return
	}
	m.links(to, chat, parts)
	// What is owed once a client has it, before the client can have it.
	v := chat.El.Child(NS, "verified")
	if dispatchRequested(op.Reader()) {
		if err := m.owe(ctx, to.String(), from.String(), op.MessageID, v.Attr("subject")); err != nil {
			m.log.Error("dispatched notification not owed: check the storage", "to", to.String(), "err", err)
		}
	}
	key := to.String() + "|" + op.MessageID
	fl := &inflight{}
	m.inflight.Store(key, fl)
	m.send(context.Background(), chat) // local delivery runs its hooks before it returns
	m.inflight.Delete(key)
	rec.Event, rec.MessageID = audit.Received, op.MessageID
	if err := m.keep(ctx, to.String(), from.String(), op.MessageID, pl, v); err != nil {
		// Delivered anyway: the client has the text; the documents are in
		// the message the sender can send again.
		m.log.Error("received Direct message not kept in the inbox: check the storage", "to", to.String(), "id", id, "err", err)
	}
	rec.Certs = []string{v.Attr("signer-sha256")}
	m.record(to.String(), rec)
	m.log.Info("Direct message accepted", "from", from.String(), "to", to.String(), "id", id)
	m.answer(to, from, op.MessageID, v.Attr("subject"), "processed", "")
	switch {
	case fl.get() != "":
		m.settle(context.Background(), to.String(), op.MessageID)
		m.answer(to, from, op.MessageID, v.Attr("subject"), "failed", fl.get())
	case fl.taken():
		m.dispatch(to, from.String(), op.MessageID) // after processed, as senders expect
	}
}

// refused turns the recipient's server's refusal of a message a local user
// sent into a notice for that user's clients. Only a refusal of a message
// awaiting its notification counts (its Message-ID is random and its
// recipient is who answers); any other error passes unchanged.
func (m *Module) refused(ev *router.Event, el *xml.Element) bool {
	st := ev.Stanza
	sender, rcpt, mid := st.To.Bare(), st.From.Bare(), el.Attr("message-id")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ok, err := m.complete(ctx, sender.String(), rcpt.String(), mid)
	if err != nil {
		m.log.Error("a refusal of a Direct message could not be matched with its pending entry: check the storage", "message_id", mid, "err", err)
	}
	if !ok {
		return false
	}
	why := "refused"
	if e := stanza.ParseError(st.El); e != nil {
		why = e.Error()
	}
	rule := el.Attr("rule")
	if len(rule) > 64 {
		rule = rule[:64]
	}
	m.log.Warn("Direct message refused by the recipient's server", "from", sender.String(), "to", rcpt.String(),
		"message_id", mid, "rule", rule, "error", why)
	m.record(sender.String(), audit.Record{Event: audit.RefusedByPeer, Peer: rcpt.String(), MessageID: mid, Rule: rule, Reason: why})
	// From the sender's own server, type normal: a notice, not a chat line
	// that delivery tracking would answer (TIM+ AMP) as if the recipient wrote it.
	notice := xml.New(xml.NSClient, "message", "from", st.To.Domain(), "to", sender.String(), "type", "normal", "id", st.ID+"-refused")
	notice.Append(xml.New(xml.NSClient, "body").SetText(fmt.Sprintf("Your Direct message %s to %s was refused by its server: %s",
		mid, rcpt, why)))
	notice.Append(xml.New(NS, "refused", "message-id", mid, "rule", rule))
	if n, serr := router.NewStanza(notice); serr == nil {
		ours.SetStanza(n, true)
		ev.Stanza = n // delivered in the error's place
	}
	return false
}

// open runs the receive path on a message's bytes, in memory when they
// came inline, from the file they were fetched into otherwise; the
// Opened, when there is one, is the caller's to close.
func (m *Module) open(ctx context.Context, el *xml.Element, pl *payload, to, from jid.JID, id string) (chat *router.Stanza, op *smime.Opened, parts []partInfo, rule smime.Rule, err error) {
	rcpts, err := m.Keys.Recipients(ctx, to.String())
	if err != nil || len(rcpts) == 0 {
		return nil, nil, nil, smime.RuleNotForUs, fmt.Errorf("%s has no certificate with a key here (tern direct cert add): %v", to, err)
	}
	verify := func(ctx context.Context, sender string, chain []*x509.Certificate) (*trust.Result, error) {
		return m.Verify(ctx, to.Domain(), sender, chain)
	}
	if pl.path != "" {
		op, err = smime.OpenFile(ctx, pl.path, rcpts, verify, m.tmpDir())
	} else {
		op, err = smime.Open(ctx, pl.raw, rcpts, verify)
	}
	if err != nil {
		rule := smime.RuleMalformed
		if rej, ok := err.(*smime.Rejection); ok {
			rule = rej.Rule
		} else {
			rule = RuleLocal // not a verdict on the message: a file, a time-out here
		}
		return nil, nil, nil, rule, err
	}
	defer func() {
		if err != nil && err != errIsNotification {
			op.Close()
			op = nil
		}
	}()
	if op.From != from.String() {
		return nil, nil, nil, smime.RuleHeaderMismatch, fmt.Errorf("%s: signed by %s but sent by %s", smime.RuleHeaderMismatch, op.From, from)
	}
	// The Message-ID the notifications quote is the signed one; the
	// stanza's attribute must name it.
	if op.MessageID == "" {
		return nil, nil, nil, smime.RuleMalformed, errors.New("the message has no Message-ID: a Direct message needs one for its notifications")
	}
	if a := el.Attr("message-id"); a != op.MessageID {
		return nil, nil, nil, smime.RuleHeaderMismatch, fmt.Errorf("%s: the stanza names message %q, the signed message is %q", smime.RuleHeaderMismatch, a, op.MessageID)
	}
	n, err := readNotification(op.Reader())
	if err != nil {
		return nil, nil, nil, smime.RuleMalformed, err
	}
	if n != nil {
		return m.notified(n, to, from), op, nil, "", errIsNotification
	}
	body, parts, subject := summary(op)
	msg := xml.New(xml.NSClient, "message", "from", from.String(), "to", to.String(), "type", "chat", "id", id)
	msg.Append(xml.New(xml.NSClient, "body").SetText(body))
	v := xml.New(NS, "verified", "message-id", op.MessageID, "from", op.From, "signer", op.Signer.Subject.String(), "signer-sha256", audit.Fingerprint(op.Signer),
		"bound", string(op.Trust.Bound), "cipher", op.Cipher, "digest", op.Digest, "subject", subject)
	for _, p := range parts {
		part := xml.New(NS, "part", "name", p.name, "type", p.ctype)
		if p.size >= 0 {
			part.SetAttr("size", fmt.Sprint(p.size))
		}
		v.Append(part)
	}
	msg.Append(v)
	chat, serr := router.NewStanza(msg)
	if serr != nil {
		return nil, nil, nil, smime.RuleMalformed, serr
	}
	return chat, op, parts, "", nil
}
