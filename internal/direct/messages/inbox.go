package messages

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// The inbox keeps each accepted message for its recipient (the archive
// store, "direct-inbox", owner = the recipient, deleted with the account)
// as the S/MIME bytes that arrived, still encrypted to the recipient's
// certificate: at rest it is as protected as the recipient's sealed key.
// Beside them only what the listing needs without a key: who, when, the
// Message-ID and the verdict of the checks made at receipt.

// InboxArchive is the archive name of received Direct messages.
const InboxArchive = "direct-inbox"

// Kept is one inbox entry.
type Kept struct {
	ID        string    `json:"-"`
	MessageID string    `json:"message_id"`
	From      string    `json:"from"`
	Received  time.Time `json:"received"`
	Signer    string    `json:"signer"`
	SignerSHA string    `json:"signer_sha256"`
	Bound     string    `json:"bound"`
	Cipher    string    `json:"cipher"`
	Digest    string    `json:"digest"`
	SMIME     []byte    `json:"smime,omitempty"`
	// File: a message fetched by reference is kept as a file under the
	// inbox directory (InboxDir), named here relative to it.
	File string `json:"file,omitempty"`
}

// InboxDir is where the inbox keeps messages fetched by reference, under
// the module's Dir.
func InboxDir(dir string) string { return filepath.Join(dir, "inbox") }

// AccountInboxDir is where the inbox keeps an account's messages as files
// (under the module's Dir); removed with the account.
func AccountInboxDir(dir, owner string) string { return filepath.Join(InboxDir(dir), ownerDir(owner)) }

// ownerDir is an account's directory under InboxDir: a hash, so that no
// address makes a path.
func ownerDir(owner string) string {
	s := sha256.Sum256([]byte(owner))
	return hex.EncodeToString(s[:16])
}

func (m *Module) keep(ctx context.Context, to, from, messageID string, pl *payload, v *xml.Element) error {
	if m.Pending == nil { // the same archive store
		return nil
	}
	k := Kept{MessageID: messageID, From: from, Received: time.Now().UTC(), Signer: v.Attr("signer"), SignerSHA: v.Attr("signer-sha256"),
		Bound: v.Attr("bound"), Cipher: v.Attr("cipher"), Digest: v.Attr("digest"), SMIME: pl.raw}
	if pl.path != "" {
		// Large: a file beside the database, as it arrived (still encrypted).
		k.File = filepath.Join(ownerDir(to), hex.EncodeToString(pl.sum)+".p7m")
		dst := filepath.Join(InboxDir(m.Dir), k.File)
		if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
			return err
		}
		if err := os.Rename(pl.path, dst); err != nil {
			return err
		}
		pl.path = ""
	}
	b, err := json.Marshal(k)
	if err != nil {
		return err
	}
	_, err = m.Pending.Append(ctx, storage.Entry{Owner: to, Archive: InboxArchive, Time: k.Received, Peer: from, Payload: b}, 0)
	return err
}

// Inbox lists an address's kept messages, oldest first.
func Inbox(ctx context.Context, a storage.Archive, address string, q storage.Query) ([]Kept, error) {
	page, err := a.Query(ctx, address, InboxArchive, q)
	if err != nil {
		return nil, err
	}
	var out []Kept
	for _, e := range page.Entries {
		var k Kept
		if err := json.Unmarshal(e.Payload, &k); err != nil {
			return nil, fmt.Errorf("inbox entry %s does not parse: %w", e.ID, err)
		}
		k.ID = e.ID
		out = append(out, k)
	}
	return out, nil
}

// OpenKept decrypts a kept message again with the recipient's keys. The
// signature is verified again; the signer's trust is the verdict recorded
// at receipt (certificates expire, CRLs change: what counted is when it
// arrived). dir is the module's Dir (for messages kept as files); tmpDir
// holds what is decrypted until the Opened is closed.
func OpenKept(ctx context.Context, k Kept, keys Keys, address, dir, tmpDir string) (*smime.Opened, error) {
	rcpts, err := keys.Recipients(ctx, address)
	if err != nil {
		return nil, err
	}
	verify := func(_ context.Context, _ string, chain []*x509.Certificate) (*trust.Result, error) {
		// The verdict stands for the signer it was made for only.
		if len(chain) == 0 || audit.Fingerprint(chain[0]) != k.SignerSHA {
			return &trust.Result{Reason: trust.ReasonUntrustedAnchor}, nil
		}
		return &trust.Result{Trusted: true, Bound: trust.Bound(k.Bound)}, nil
	}
	var op *smime.Opened
	switch {
	case k.File == "":
		op, err = smime.Open(ctx, k.SMIME, rcpts, verify)
	case !filepath.IsLocal(k.File):
		return nil, fmt.Errorf("inbox entry %s names the file %q, outside the inbox directory", k.ID, k.File)
	default:
		op, err = smime.OpenFile(ctx, filepath.Join(InboxDir(dir), k.File), rcpts, verify, tmpDir)
	}
	if err != nil {
		return nil, fmt.Errorf("inbox entry %s: %w (it was signed by %s when it arrived)", k.ID, err, k.SignerSHA)
	}
	return op, nil
}

// Document is one part of an opened message.
type Document struct {
	Name string // the attachment's file name; "" for the text
	Type string
	Size int64  // -1: it could not be taken out of the message
	Data []byte // decoded (base64 and quoted-printable undone)
	// Path instead of Data: a large document of a message opened from a
	// file, under the Opened's Dir (removed when it is closed).
	Path string
	Text string // the start of a text part
}

// Documents returns the subject and the parts of an opened message.
func Documents(op *smime.Opened) (string, []Document) {
	_, parts, subject := summary(op)
	var out []Document
	for _, p := range parts {
		out = append(out, Document{Name: p.name, Type: p.ctype, Size: p.size, Data: p.data, Path: p.path, Text: p.text})
	}
	return subject, out
}
