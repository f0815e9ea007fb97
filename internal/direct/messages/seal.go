package messages

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"io"
	"os"
	"strings"
	"sync"

	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

var gcmOnce sync.Once

// sealed is a message sealed for one recipient: in memory, or, when its
// documents are files, streamed into a temporary file.
type sealed struct {
	raw  []byte // nil when only in file
	file string // the temporary file, removed by done
	size int64
	sum  [sha256.Size]byte
}

func (s *sealed) done() {
	if s.file != "" {
		os.Remove(s.file)
	}
}

// seal seals one recipient's message: in memory (smime.Seal) unless a
// part is a file, then streamed (smime.SealStream, AES-CBC: a GCM choice
// becomes CBC of the same key size), never holding the document.
func (m *Module) seal(one *smime.Message, signer smime.Signer, certs []*x509.Certificate) (*sealed, error) {
	files := false
	for _, p := range one.Parts {
		files = files || p.Path != ""
	}
	if !files {
		raw, err := smime.Seal(one, signer, certs, m.Options)
		if err != nil {
			return nil, err
		}
		return &sealed{raw: raw, size: int64(len(raw)), sum: sha256.Sum256(raw)}, nil
	}
	o := m.Options
	switch o.Cipher {
	case smime.AES128GCM, smime.AES256GCM:
		// A GCM tag needs the whole content: documents sealed from files go
		// AES-CBC of the same key size (said once a run, in the log).
		gcmOnce.Do(func() {
			m.log.Warn("[directmessages] cipher is AES-GCM, but messages with documents sealed from files (large ones, shared uploads) go AES-CBC: GCM does not stream", "cipher", o.Cipher)
		})
		o.Cipher = map[smime.Cipher]smime.Cipher{smime.AES128GCM: smime.AES128CBC, smime.AES256GCM: smime.AES256CBC}[o.Cipher]
	}
	f, err := os.CreateTemp("", "tern-direct-*.p7m")
	if err != nil {
		return nil, err
	}
	s := &sealed{file: f.Name()}
	h := sha256.New()
	n, err := smime.SealStream(io.MultiWriter(f, h), one, signer, certs, o, "")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.done()
		return nil, err
	}
	s.size = n
	copy(s.sum[:], h.Sum(nil))
	if n <= int64(m.InlineMax) {
		s.raw, err = os.ReadFile(s.file)
		s.done()
		s.file = ""
	}
	return s, err
}

// sendSealed sends a sealed message inline or by reference, tracked; false
// (the outcome failed with why) when it cannot.
func (m *Module) sendSealed(ctx context.Context, sl *sealed, one *smime.Message, from, to jid.JID, rcpt string, fail func(rcpt, format string, a ...any)) bool {
	defer sl.done()
	ref := ""
	if sl.size > int64(m.InlineMax) {
		// By reference: the sealed bytes (encrypted to the recipient) wait
		// on this server's upload service under a random URL.
		var err error
		switch {
		case sl.size > m.cfg.MaxMessageBytes:
			fail(rcpt, "the message is %d bytes sealed; [directmessages] max_message_bytes is %d", sl.size, m.cfg.MaxMessageBytes)
			return false
		case m.files == nil:
			fail(rcpt, "the message is %d bytes sealed, above the %d bytes a stanza carries: turn on HTTP file upload ([upload] listen) to send it by reference", sl.size, m.InlineMax)
			return false
		case sl.file != "":
			ref, err = m.files.KeepFile(from.String(), from.Domain(), "message.p7m", "application/pkcs7-mime", sl.file)
		default:
			ref, err = m.files.Keep(from.String(), from.Domain(), "message.p7m", "application/pkcs7-mime", sl.raw)
		}
		if err != nil {
			fail(rcpt, "not sent: the sealed message could not be stored for its recipient to fetch: %v", err)
			return false
		}
	}
	if err := m.track(ctx, from.String(), to.String(), one.MessageID, true, ref); err != nil {
		m.unshare(ref)
		fail(rcpt, "not sent: its entry awaiting the processed notification could not be stored: %v", err)
		return false
	}
	id := strings.Trim(one.MessageID, "<>")
	el := xml.New(xml.NSClient, "message", "from", from.String(), "to", to.String(), "type", "normal", "id", id)
	el.Append(xml.New(xml.NSClient, "body").SetText("A Direct message (S/MIME); your server shows it once it is verified."))
	if ref != "" {
		el.Append(referenceElement(one.MessageID, ref, sl.size, sl.sum[:]))
	} else {
		el.Append(element(one.MessageID, sl.raw))
	}
	st, serr := router.NewStanza(el)
	if serr != nil {
		m.unshare(ref)
		fail(rcpt, "%v", serr)
		return false
	}
	m.send(context.Background(), st)
	return true
}
