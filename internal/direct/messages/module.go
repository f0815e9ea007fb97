package messages

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Keys gives a local address's private keys (kept sealed in storage).
type Keys interface {
	// Signer is the address's own signing certificate and key, else its
	// domain's.
	Signer(ctx context.Context, address string) (smime.Signer, error)
	// Recipients are the address's certificates with keys, then its domain's.
	Recipients(ctx context.Context, address string) ([]smime.Recipient, error)
}

// Module sends and receives Direct messages for the Direct domains.
type Module struct {
	Direct   func(domain string) bool
	Keys     Keys
	Discover func(ctx context.Context, local, address string, purpose trust.Purpose) (*discovery.Report, error)
	// Verify checks a signer's chain for the sender, for the receiving
	// domain's circles.
	Verify    func(ctx context.Context, local, sender string, chain []*x509.Certificate) (*trust.Result, error)
	InlineMax int
	Options   smime.Options
	Audit     *audit.Log      // nil: no audit trail
	Pending   storage.Archive // where sent messages await their notification; nil: not tracked

	// files keeps received documents for their recipient and gives the
	// files users uploaded (the upload module, when it serves); nil: none.
	files    Files
	inflight sync.Map // recipient|Message-ID -> *inflight

	cfg              Config
	processedTimeout time.Duration
	fetchTimeout     time.Duration
	fetcher          *fetcher
	heavy            chan struct{} // fetches and in-memory seals of large documents under way
	r                *router.Router
	log              *slog.Logger
}

// Config is the [directmessages] section.
type Config struct {
	// ProcessedTimeout is how long a sent message waits for its
	// "processed" notification before its sender is told it failed.
	ProcessedTimeout string `toml:"processed_timeout"`
	// MaxMessageBytes bounds a Direct message sent or accepted by
	// reference (above the inline limit; needs [upload]).
	MaxMessageBytes int64 `toml:"max_message_bytes"`
	// FetchTimeout bounds the fetch of a message sent by reference.
	FetchTimeout string `toml:"fetch_timeout"`
	// FetchCA names PEM files of roots trusted for those fetches, beside
	// the system's and the receiving domain's circles' anchors.
	FetchCA []string `toml:"fetch_ca"`
	// FetchPrivate lets fetches reach loopback and private addresses
	// (labs and tests only: a sender could aim them inside the network).
	FetchPrivate bool `toml:"fetch_private"`
	// Cipher and KeyTransport are what messages are sealed with: every AS
	// 1.2 receiver reads the defaults (aes128-cbc, rsa); aes256-cbc,
	// aes128-gcm, aes256-gcm and rsa-oaep need AS 1.3 receivers.
	Cipher       string `toml:"cipher"`
	KeyTransport string `toml:"key_transport"`
}

// Validate checks the section (at start-up and by tern check).
func (c *Config) Validate() error {
	for _, d := range []struct{ key, v, eg string }{{"processed_timeout", c.ProcessedTimeout, "1h"}, {"fetch_timeout", c.FetchTimeout, "2m"}} {
		if v, err := time.ParseDuration(d.v); err != nil || v <= 0 {
			return fmt.Errorf("[directmessages] %s = %q: not a positive duration with a unit, such as %q", d.key, d.v, d.eg)
		}
	}
	if c.MaxMessageBytes < DefaultInlineMax {
		return fmt.Errorf("[directmessages] max_message_bytes = %d: at least the inline limit (%d)", c.MaxMessageBytes, DefaultInlineMax)
	}
	switch smime.Cipher(c.Cipher) {
	case smime.AES128CBC, smime.AES256CBC, smime.AES128GCM, smime.AES256GCM:
	default:
		return fmt.Errorf("[directmessages] cipher = %q: one of aes128-cbc (every receiver), aes256-cbc, aes128-gcm, aes256-gcm", c.Cipher)
	}
	switch smime.KeyTransport(c.KeyTransport) {
	case smime.RSAPKCS1, smime.RSAOAEP:
	default:
		return fmt.Errorf("[directmessages] key_transport = %q: rsa (every receiver) or rsa-oaep", c.KeyTransport)
	}
	for _, f := range c.FetchCA {
		if _, err := os.Stat(f); err != nil {
			return fmt.Errorf("[directmessages] fetch_ca %s: %w", f, err)
		}
	}
	return nil
}

// New returns the module with its default configuration.
func New() *Module {
	return &Module{cfg: Config{ProcessedTimeout: "1h", MaxMessageBytes: 64 << 20, FetchTimeout: "2m", FetchCA: []string{},
		Cipher: string(smime.AES128CBC), KeyTransport: string(smime.RSAPKCS1)}}
}

// Name implements module.Module.
func (*Module) Name() string { return "directmessages" }

// Config implements module.Configurable.
func (m *Module) Config() any { return &m.cfg }

// Register implements module.Module.
func (m *Module) Register(h *module.Host) error {
	if m.Direct == nil {
		m.Direct = func(string) bool { return false }
	}
	if m.InlineMax <= 0 {
		m.InlineMax = DefaultInlineMax
	}
	if err := m.cfg.Validate(); err != nil {
		return err
	}
	m.processedTimeout, _ = time.ParseDuration(m.cfg.ProcessedTimeout)
	m.fetchTimeout, _ = time.ParseDuration(m.cfg.FetchTimeout)
	var err error
	if m.fetcher, err = newFetcher(m.cfg, m.fetchTimeout); err != nil {
		return err
	}
	m.heavy = make(chan struct{}, maxHeavy)
	if m.Options.Cipher == "" && m.Options.KeyTransport == "" {
		m.Options.Cipher, m.Options.KeyTransport = smime.Cipher(m.cfg.Cipher), smime.KeyTransport(m.cfg.KeyTransport)
	}
	m.r, m.log = h.Router, h.Log
	h.Hook(router.EvStanzaIn, 50, m.incoming)
	if f, err := module.Depend[Files](h, "upload"); err == nil && f.Serving() {
		m.files = f
		h.Hook(router.EvStanzaOut, 50, m.uploaded)
	}
	var domains []string
	for _, host := range h.Router.Hosts() {
		if m.Direct(host) {
			domains = append(domains, host)
		}
	}
	if m.Pending != nil && len(domains) > 0 {
		go m.scanner(domains)
		// Dispatched notifications: only where a Direct domain is served
		// (this hook sees every delivered message).
		h.Hook(router.EvMessageDelivered, 50, m.delivered)
		h.Hook(router.EvMessageFetched, 50, m.delivered)
		h.Hook(router.EvStanzaRemote, 50, m.undelivered)
	}
	return nil
}

// record appends to the audit trail of address's domain; a failure is
// logged (the message itself has gone its way).
func (m *Module) record(address string, r audit.Record) {
	if m.Audit == nil {
		return
	}
	r.Address = address
	_, domain, _ := strings.Cut(address, "@")
	if len(r.Reason) > 2000 {
		r.Reason = r.Reason[:2000]
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := m.Audit.Append(ctx, domain, r); err != nil {
		m.log.Error("Direct audit trail not written: check the storage", "address", address, "event", r.Event, "err", err)
	}
}

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

// RuleUnknownRecipient: the message is for no account of this server.
const RuleUnknownRecipient smime.Rule = "recipient-unknown"

// check runs the receive path on a held message, then delivers the
// verified summary in its place or refuses it naming the rule.
func (m *Module) check(held *router.Held, el *xml.Element, to, from jid.JID, id string) {
	var (
		raw  []byte
		perr error
	)
	uctx, ucancel := context.WithTimeout(context.Background(), 10*time.Second)
	exists := m.r.UserExists(uctx, to)
	ucancel()
	if !exists {
		perr = errUnknown // nothing fetched for nobody
	} else {
		raw, perr = m.payload(el, from) // its own time bound (fetch_timeout)
	}
	// The receive path's time starts once the bytes are here.
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout)
	defer cancel()
	rec := audit.Record{Peer: from.String(), MessageID: el.Attr("message-id")}
	if perr == nil {
		rec.Digest = audit.Digest(raw)
	}
	var (
		chat *router.Stanza
		op   *smime.Opened
		rule smime.Rule
		err  error
	)
	switch {
	case perr == errUnknown:
		// Not decrypted with the domain's keys, kept or answered: RFC 6120
		// §10.5.4 for an unknown account, naming the rule.
		rule, err = RuleUnknownRecipient, fmt.Errorf("%s: there is no account %s here", RuleUnknownRecipient, to)
	case perr != nil:
		rule, err = smime.RuleMalformed, perr
		var fe *fetchError
		if errors.As(perr, &fe) {
			rule = RuleFetchFailed
		}
	default:
		chat, op, rule, err = m.open(ctx, el, raw, to, from, id)
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
		if rule == RuleUnknownRecipient {
			e = stanza.ErrServiceUnavailable.WithText("direct: " + err.Error())
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
	m.links(to, chat, op)
	// What is owed once a client has it, before the client can have it.
	v := chat.El.Child(NS, "verified")
	if dispatchRequested(op.Message) {
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
	if err := m.keep(ctx, to.String(), from.String(), op.MessageID, raw, v); err != nil {
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

func (m *Module) open(ctx context.Context, el *xml.Element, raw []byte, to, from jid.JID, id string) (*router.Stanza, *smime.Opened, smime.Rule, error) {
	rcpts, err := m.Keys.Recipients(ctx, to.String())
	if err != nil || len(rcpts) == 0 {
		return nil, nil, smime.RuleNotForUs, fmt.Errorf("%s has no certificate with a key here (tern direct cert add): %v", to, err)
	}
	op, err := smime.Open(ctx, raw, rcpts, func(ctx context.Context, sender string, chain []*x509.Certificate) (*trust.Result, error) {
		return m.Verify(ctx, to.Domain(), sender, chain)
	})
	if err != nil {
		rule := smime.RuleMalformed
		if rej, ok := err.(*smime.Rejection); ok {
			rule = rej.Rule
		}
		return nil, nil, rule, err
	}
	if op.From != from.String() {
		return nil, nil, smime.RuleHeaderMismatch, fmt.Errorf("%s: signed by %s but sent by %s", smime.RuleHeaderMismatch, op.From, from)
	}
	// The Message-ID the notifications quote is the signed one; the
	// stanza's attribute must name it.
	if op.MessageID == "" {
		return nil, nil, smime.RuleMalformed, errors.New("the message has no Message-ID: a Direct message needs one for its notifications")
	}
	if a := el.Attr("message-id"); a != op.MessageID {
		return nil, nil, smime.RuleHeaderMismatch, fmt.Errorf("%s: the stanza names message %q, the signed message is %q", smime.RuleHeaderMismatch, a, op.MessageID)
	}
	n, err := readNotification(op.Message)
	if err != nil {
		return nil, nil, smime.RuleMalformed, err
	}
	if n != nil {
		return m.notified(n, to, from), op, "", errIsNotification
	}
	body, parts, subject := summary(op)
	msg := xml.New(xml.NSClient, "message", "from", from.String(), "to", to.String(), "type", "chat", "id", id)
	msg.Append(xml.New(xml.NSClient, "body").SetText(body))
	v := xml.New(NS, "verified", "message-id", op.MessageID, "from", op.From, "signer", op.Signer.Subject.String(), "signer-sha256", audit.Fingerprint(op.Signer),
		"bound", string(op.Trust.Bound), "cipher", op.Cipher, "digest", op.Digest, "subject", subject)
	for _, p := range parts {
		v.Append(xml.New(NS, "part", "name", p.name, "type", p.ctype, "size", fmt.Sprint(p.size)))
	}
	msg.Append(v)
	chat, serr := router.NewStanza(msg)
	if serr != nil {
		return nil, nil, smime.RuleMalformed, serr
	}
	return chat, op, "", nil
}

type partInfo struct {
	name, ctype string
	size        int
	text        string
	data        []byte
}

// summary is what the recipient's client shows: who signed, that it was
// verified, the parts, and the message's text.
func summary(op *smime.Opened) (string, []partInfo, string) {
	subject := ""
	var parts []partInfo
	if m, err := mail.ReadMessage(bytes.NewReader(op.Message)); err == nil {
		subject, _ = new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		parts = readParts(m.Header.Get("Content-Type"), m.Header.Get("Content-Transfer-Encoding"), m.Header.Get("Content-Disposition"), m.Body)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Direct message %q from %s: signature and trust verified (signed by %s, %s-bound; %s, %s).",
		subject, op.From, op.Signer.Subject.CommonName, op.Trust.Bound, op.Cipher, op.Digest)
	for _, p := range parts {
		if p.name != "" {
			fmt.Fprintf(&b, "\nAttachment: %s (%s, %d bytes)", p.name, p.ctype, p.size)
		}
	}
	for _, p := range parts {
		if p.name == "" && p.text != "" {
			b.WriteString("\n\n" + p.text)
			break
		}
	}
	return b.String(), parts, subject
}

// maxTextShown bounds the message text copied into the chat body.
const maxTextShown = 16 << 10

func readParts(ctype, cte, disposition string, body io.Reader) []partInfo {
	mt, params, err := mime.ParseMediaType(ctype)
	if err != nil {
		mt = "text/plain"
	}
	if !strings.HasPrefix(mt, "multipart/") {
		data := decodeCTE(cte, body)
		p := partInfo{ctype: mt, size: len(data), data: data}
		if _, dp, err := mime.ParseMediaType(disposition); err == nil {
			p.name = dp["filename"] // a message that is one attachment
		}
		if p.name == "" && strings.HasPrefix(mt, "text/") {
			p.text = string(data[:min(len(data), maxTextShown)])
		}
		return []partInfo{p}
	}
	var out []partInfo
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return out
		}
		data := decodeCTE(p.Header.Get("Content-Transfer-Encoding"), p)
		pt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
		info := partInfo{name: p.FileName(), ctype: pt, size: len(data), data: data}
		if info.name == "" && strings.HasPrefix(pt, "text/") {
			info.text = string(data[:min(len(data), maxTextShown)])
		}
		out = append(out, info)
	}
}

// decodeCTE reads a part's body (at most 64 MiB) and undoes base64
// (mime/multipart undoes quoted-printable itself); what does not decode is
// shown as it came.
func decodeCTE(cte string, r io.Reader) []byte {
	data, _ := io.ReadAll(io.LimitReader(r, 64<<20))
	if out, err := smime.DecodeBody(cte, data); err == nil {
		return out
	}
	return data
}

// MaxMessageBytes is the largest Direct message sent or accepted by reference.
func (m *Module) MaxMessageBytes() int64 { return m.cfg.MaxMessageBytes }

// Outcome is what became of one recipient.
type Outcome struct {
	Recipient string
	Sent      bool
	Detail    string // certificates used, or why nothing was sent
}

// Send seals msg for each recipient (to every usable certificate
// discovery finds for it) and sends it from msg.From over XMPP. A
// recipient without a usable certificate gets nothing (Direct: never send
// in the clear) and its outcome says why; the others go on.
func (m *Module) Send(ctx context.Context, msg smime.Message) []Outcome {
	from, err := jid.Parse(msg.From)
	ours := err == nil && from.Local() != "" && m.r.IsLocal(from.Domain()) && m.Direct(from.Domain())
	var out []Outcome
	fail := func(rcpt, format string, a ...any) {
		o := Outcome{Recipient: rcpt, Detail: fmt.Sprintf(format, a...)}
		out = append(out, o)
		if ours {
			m.record(from.String(), audit.Record{Event: audit.Failed, Peer: rcpt, Reason: o.Detail})
		}
	}
	if !ours {
		for _, r := range msg.To {
			fail(r, "%s is not an address of a Direct domain of this server", msg.From)
		}
		return out
	}
	signer, err := m.Keys.Signer(ctx, from.String())
	if err != nil {
		for _, r := range msg.To {
			fail(r, "no signing certificate with a key for %s or its domain (tern direct cert add %s --cert ... --key ...): %v", from, from, err)
		}
		return out
	}
	for _, rcpt := range msg.To {
		to, err := jid.Parse(rcpt)
		if err != nil || to.Local() == "" || to.Resource() != "" {
			fail(rcpt, "not a Direct address (user@domain)")
			continue
		}
		rep, err := m.Discover(ctx, from.Domain(), to.String(), trust.PurposeEncrypt)
		if err != nil {
			fail(rcpt, "discovery: %v", err)
			continue
		}
		certs := encryptable(rep)
		if len(certs) == 0 {
			fail(rcpt, "no trusted certificate to encrypt to (tried: %s)", strings.Join(rep.Tried, "; "))
			continue
		}
		one := msg
		one.To = []string{to.String()}
		one.MessageID = ""
		// Timely and reliable: processed, then dispatched once a client has it.
		one.Headers = map[string]string{"Disposition-Notification-To": from.String(), optionsHeader: optionsValue}
		for k, v := range msg.Headers {
			one.Headers[k] = v
		}
		sl, err := m.seal(&one, signer, certs)
		if err != nil {
			fail(rcpt, "sealing: %v", err)
			continue
		}
		if !m.sendSealed(ctx, sl, &one, from, to, rcpt, fail) {
			continue
		}
		fps := []string{audit.Fingerprint(signer.Cert)}
		for _, c := range certs {
			fps = append(fps, audit.Fingerprint(c))
		}
		m.record(from.String(), audit.Record{Event: audit.Sent, Peer: to.String(), MessageID: one.MessageID, Digest: hex.EncodeToString(sl.sum[:]), Certs: fps})
		out = append(out, Outcome{Recipient: to.String(), Sent: true,
			Detail: fmt.Sprintf("sent %s, encrypted to %d certificate(s) (%s)", one.MessageID, len(certs), certSources(rep.Usable))})
	}
	return out
}

// encryptable are the usable certificates a message can be encrypted to:
// RSA (key transport) and EC P-256/P-384 (ECDH key agreement).
func encryptable(rep *discovery.Report) []*x509.Certificate {
	var certs []*x509.Certificate
	for _, c := range rep.Usable {
		switch k := c.Cert.PublicKey.(type) {
		case *rsa.PublicKey:
			certs = append(certs, c.Cert)
		case *ecdsa.PublicKey:
			if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
				certs = append(certs, c.Cert)
			}
		}
	}
	return certs
}

func certSources(cs []discovery.Candidate) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Source+" "+c.Where)
	}
	return strings.Join(s, ", ")
}
