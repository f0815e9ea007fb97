package schema

// The tracking table holds the message monitor's pending entries: one row
// per (owner, id, recipient), with the sender's full JID and the
// deadline; an index on deadline serves the scan for due entries.

// TrackingStatements are the statements on the tracking table, bound for
// a dialect.
type TrackingStatements struct {
	// Insert adds or replaces one entry unless the owner's quota is
	// reached: owner, id, recipient, sender, deadline, quota (numbered).
	// No row affected means the quota was full.
	Insert string
	// Upsert adds or replaces one entry with no quota: owner, id,
	// recipient, sender, deadline. (SQLite evaluates Insert's count
	// even when the quota is 0.)
	Upsert string
	// Complete removes one entry: owner, id, recipient.
	Complete string
	// Due lists entries at or past a deadline, earliest first: deadline, limit.
	Due string
	// Count counts an owner's entries: owner.
	Count string
	// DeleteOwner removes an owner's entries: owner.
	DeleteOwner string
}

// Tracking returns the tracking statements of d.
func (d Dialect) Tracking() *TrackingStatements {
	return &TrackingStatements{
		Insert: d.Bind(`INSERT INTO tracking (owner, id, recipient, sender, deadline) SELECT ?1, ?2, ?3, ?4, ?5
	WHERE ?6 <= 0
		OR EXISTS (SELECT 1 FROM tracking WHERE owner = ?1 AND id = ?2 AND recipient = ?3)
		OR (SELECT count(*) FROM (SELECT 1 FROM tracking WHERE owner = ?1 LIMIT ?6) AS q) < ?6
	ON CONFLICT (owner, id, recipient) DO UPDATE SET sender = excluded.sender, deadline = excluded.deadline`),
		Upsert: d.Bind(`INSERT INTO tracking (owner, id, recipient, sender, deadline) VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (owner, id, recipient) DO UPDATE SET sender = excluded.sender, deadline = excluded.deadline`),
		Complete:    d.Bind(`DELETE FROM tracking WHERE owner = ? AND id = ? AND recipient = ?`),
		Due:         d.Bind(`SELECT owner, id, recipient, sender, deadline FROM tracking WHERE deadline <= ? ORDER BY deadline LIMIT ?`),
		Count:       d.Bind(`SELECT count(*) FROM tracking WHERE owner = ?`),
		DeleteOwner: d.Bind(`DELETE FROM tracking WHERE owner = ?`),
	}
}

// DueLimit is the LIMIT Due binds for "no limit".
const DueLimit = int64(1<<63 - 1)
