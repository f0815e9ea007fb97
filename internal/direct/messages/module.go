package messages

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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
	// Dir holds messages fetched by reference while they are checked
	// (tmp/) and the inbox's large messages (inbox/); "": under the
	// system's temporary directory.
	Dir string

	// files keeps received documents for their recipient and gives the
	// files users uploaded (the upload module, when it serves); nil: none.
	files    Files
	inflight sync.Map // recipient|Message-ID -> *inflight

	cfg              Config
	processedTimeout time.Duration
	fetchTimeout     time.Duration
	fetcher          *fetcher
	tmp              string        // this process's tmp/ under Dir
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
	return &Module{cfg: Config{ProcessedTimeout: "1h", MaxMessageBytes: 128 << 20, FetchTimeout: "2m", FetchCA: []string{},
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
	if m.Dir == "" {
		d, err := os.MkdirTemp("", "tern-direct-")
		if err != nil {
			return fmt.Errorf("directmessages: %w", err)
		}
		m.Dir = d
		m.log.Warn("no data directory for Direct messages: those by reference, and the large ones the inbox keeps, go to a temporary directory", "dir", d)
	}
	// Each process its own tmp/ (a cluster may share the directory); what
	// a kill -9 left, never delivered, goes once a day old.
	removeStale(filepath.Join(m.Dir, "tmp"), 24*time.Hour)
	var b [8]byte
	rand.Read(b[:])
	m.tmp = filepath.Join(m.Dir, "tmp", hex.EncodeToString(b[:]))
	for _, d := range []string{m.tmp, InboxDir(m.Dir)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("directmessages: %w (the data directory must be writable)", err)
		}
	}
	h.Hook(router.EvAccountDeleting, 0, func(ev *router.Event) bool {
		if err := os.RemoveAll(AccountInboxDir(m.Dir, ev.Account.String())); err != nil {
			m.log.Error("the inbox files of a deleted account were not removed: remove them by hand", "account", ev.Account.String(), "err", err)
		}
		return false
	})
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

// tmpDir is this process's directory for messages being checked (made
// again if something removed it).
func (m *Module) tmpDir() string {
	os.MkdirAll(m.tmp, 0o700)
	return m.tmp
}

// removeStale removes the entries of dir last changed before age ago.
func removeStale(dir string, age time.Duration) {
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if info, err := e.Info(); err == nil && time.Since(info.ModTime()) > age {
			os.RemoveAll(filepath.Join(dir, e.Name()))
		}
	}
}

// MaxMessageBytes is the largest Direct message sent or accepted by reference.
func (m *Module) MaxMessageBytes() int64 { return m.cfg.MaxMessageBytes }

// Outcome is what became of one recipient.
type Outcome struct {
	Recipient string
	Sent      bool
	Detail    string // certificates used, or why nothing was sent
	MessageID string `json:",omitempty"` // when sent
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
		out = append(out, Outcome{Recipient: to.String(), Sent: true, MessageID: one.MessageID,
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
