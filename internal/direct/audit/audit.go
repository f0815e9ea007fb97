// Package audit is the Direct audit trail: every Direct message sent,
// received, refused or failed, per local domain, append-only and
// hash-chained so that a changed or removed entry is detectable (Verify,
// `tern direct log --verify`). It records who, what (Message-ID, the
// SHA-256 of the S/MIME bytes, the certificates' fingerprints) and the
// decision with its rule; never document content. Entries live in the
// archive store (storage.Archive "direct-audit", owner = the domain), so
// they are kept with the rest of the data on every backend and survive
// account deletion.
package audit

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// Archive is the archive name of the trail.
const Archive = "direct-audit"

// Events recorded.
const (
	Sent          = "sent"            // sealed and sent to a recipient
	Failed        = "failed"          // not sent to a recipient (no trusted certificate...)
	Received      = "received"        // accepted for a local recipient
	Rejected      = "rejected"        // refused for a local recipient, with the rule
	RefusedByPeer = "refused-by-peer" // the recipient's server refused what we sent
	// Disposition notifications (RFC 3798), the disposition in Rule.
	NotificationSent     = "mdn-sent"     // we notified a sender
	NotificationReceived = "mdn-received" // a recipient's server notified us
)

// Record is one entry. Prev and Hash chain it: Hash is the SHA-256 of the
// record's JSON with Hash empty and Prev the previous entry's Hash (""
// for the first).
type Record struct {
	Time      time.Time `json:"time"`
	Event     string    `json:"event"`
	Address   string    `json:"address"` // the local address concerned
	Peer      string    `json:"peer,omitempty"`
	MessageID string    `json:"message_id,omitempty"`
	Digest    string    `json:"sha256,omitempty"` // of the S/MIME bytes
	Certs     []string  `json:"certs,omitempty"`  // SHA-256 fingerprints: signer first, then recipients
	Rule      string    `json:"rule,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Prev      string    `json:"prev"`
	Hash      string    `json:"hash"`

	ID string `json:"-"` // the archive id, when read
}

// Fingerprint is a certificate's SHA-256, hex.
func Fingerprint(c *x509.Certificate) string {
	s := sha256.Sum256(c.Raw)
	return hex.EncodeToString(s[:])
}

// Digest is the SHA-256 of b, hex.
func Digest(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func (r Record) hash() string {
	r.Hash, r.ID = "", ""
	r.Time = r.Time.UTC()
	b, _ := json.Marshal(r) // field order is the struct's: deterministic
	return Digest(b)
}

// Log appends to the trail of each domain. One Log per process: appends of
// a domain are serialised so each links to the one before.
type Log struct {
	Store storage.Archive
	Now   func() time.Time

	mu   sync.Mutex
	last map[string]string // domain -> hash of its last entry
}

// Append records r in domain's trail, chained to the entry before.
func (l *Log) Append(ctx context.Context, domain string, r Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev, ok := l.last[domain]
	if !ok {
		page, err := l.Store.Query(ctx, domain, Archive, storage.Query{Max: 1, Last: true})
		if err != nil {
			return fmt.Errorf("audit: the last entry of %s: %w", domain, err)
		}
		if len(page.Entries) == 1 {
			var lr Record
			if err := json.Unmarshal(page.Entries[0].Payload, &lr); err != nil {
				return fmt.Errorf("audit: the last entry of %s does not parse: %w", domain, err)
			}
			prev = lr.Hash
		}
	}
	if r.Time.IsZero() {
		now := time.Now
		if l.Now != nil {
			now = l.Now
		}
		r.Time = now()
	}
	r.Time = r.Time.UTC()
	r.Prev = prev
	r.Hash = r.hash()
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if _, err := l.Store.Append(ctx, storage.Entry{Owner: domain, Archive: Archive, Time: r.Time, Peer: r.Address, Payload: b}, 0); err != nil {
		delete(l.last, domain) // unknown now: read it again next time
		return fmt.Errorf("audit: %w", err)
	}
	if l.last == nil {
		l.last = map[string]string{}
	}
	l.last[domain] = r.Hash
	return nil
}

// Read returns a domain's entries matching q (q.Peer: one address), in
// order.
func Read(ctx context.Context, a storage.Archive, domain string, q storage.Query) ([]Record, error) {
	page, err := a.Query(ctx, domain, Archive, q)
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(page.Entries))
	for _, e := range page.Entries {
		var r Record
		if err := json.Unmarshal(e.Payload, &r); err != nil {
			return nil, fmt.Errorf("audit entry %s does not parse: %w", e.ID, err)
		}
		r.ID = e.ID
		out = append(out, r)
	}
	return out, nil
}

// ErrBroken: the chain does not hold.
var ErrBroken = errors.New("the audit trail's hash chain is broken")

// Verify walks a domain's whole trail from its first entry and checks that
// each entry's hash is its own and links to the one before. It returns
// how many entries it checked and the last hash (keep it elsewhere to
// detect a truncated tail, which a chain alone cannot show).
func Verify(ctx context.Context, a storage.Archive, domain string) (int, string, error) {
	prev, n, after := "", 0, ""
	for {
		page, err := a.Query(ctx, domain, Archive, storage.Query{AfterID: after, Max: 1000})
		if err != nil {
			return n, prev, err
		}
		for _, e := range page.Entries {
			var r Record
			if err := json.Unmarshal(e.Payload, &r); err != nil {
				return n, prev, fmt.Errorf("%w: entry %d (%s) does not parse: %v", ErrBroken, n+1, e.ID, err)
			}
			if r.Prev != prev {
				return n, prev, fmt.Errorf("%w at entry %d (%s, %s): it links to %.16s, the entry before is %.16s (an entry was removed or changed)", ErrBroken, n+1, r.Time.Format(time.RFC3339), r.Event, r.Prev, prev)
			}
			if h := r.hash(); h != r.Hash {
				return n, prev, fmt.Errorf("%w at entry %d (%s, %s): its content does not match its hash (changed after it was written)", ErrBroken, n+1, r.Time.Format(time.RFC3339), r.Event)
			}
			prev = r.Hash
			n++
			after = e.ID
		}
		if page.Complete || len(page.Entries) == 0 {
			return n, prev, nil
		}
	}
}
