package storage

import (
	"context"
	"time"
)

// Tracked is one outgoing message awaiting a delivery notice from one
// recipient (the TIM+ message monitor, XEP-0079 deliver notices): keyed
// by (Owner, ID, Recipient).
type Tracked struct {
	Owner     string    // the sender's bare JID: whose entry it is
	ID        string    // the message id
	Recipient string    // the recipient's bare JID
	Sender    string    // the sender's full JID: where the time-out error goes
	Deadline  time.Time // when a missing notice becomes an error
}

// Key returns the entry's key.
func (t Tracked) Key() TrackKey { return TrackKey{t.Owner, t.ID, t.Recipient} }

// TrackKey names one tracked entry.
type TrackKey struct{ Owner, ID, Recipient string }

// Tracking holds the pending entries of the message monitor. Writes return
// once durable (they survive kill -9) and take a batch, in one transaction,
// so a busy server commits many messages at once.
type Tracking interface {
	// Apply adds the entries and completes the keys in one transaction
	// (adds first), with the results of Add and Complete: the module's
	// writer commits what waits at one moment with one commit.
	Apply(ctx context.Context, quota int, add []Tracked, complete []TrackKey) (stored, done []bool, err error)
	// Add stores the entries. An entry whose owner already holds quota
	// pending entries is not stored (0: no limit); stored[i] reports
	// entry i. An entry with the key of a pending one replaces it (its
	// deadline and sender are the new ones) and counts as stored.
	Add(ctx context.Context, quota int, entries []Tracked) (stored []bool, err error)
	// Complete removes the entries with the given keys; done[i] reports
	// whether key i was pending.
	Complete(ctx context.Context, keys []TrackKey) (done []bool, err error)
	// Due returns up to limit (0: all) entries whose deadline is at or
	// before now, earliest first.
	Due(ctx context.Context, now time.Time, limit int) ([]Tracked, error)
	// Count returns how many entries owner has pending.
	Count(ctx context.Context, owner string) (int, error)
	// DeleteOwner removes owner's entries (DeleteUser does it too).
	DeleteOwner(ctx context.Context, owner string) error
}
