package sqlite

import (
	"context"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

type offline struct{ s *Store }

// Store is one autocommit statement on the writer: the quota check and the
// insert are atomic without an explicit transaction, which keeps the hot
// path at a single round trip into SQLite. In WAL mode with synchronous
// NORMAL the commit is in the WAL file (the OS page cache) when Exec
// returns, so it survives kill -9.
func (o offline) Store(ctx context.Context, owner string, stanza []byte, quota int) error {
	now := time.Now().UnixNano()
	var q string
	var args []any
	if quota > 0 {
		q = `INSERT INTO offline (owner, stanza, stored) SELECT ?, ?, ?
			WHERE (SELECT count(*) FROM offline WHERE owner = ?) < ?`
		args = []any{owner, nonNil(stanza), now, owner, quota}
	} else {
		q = `INSERT INTO offline (owner, stanza, stored) VALUES (?, ?, ?)`
		args = []any{owner, nonNil(stanza), now}
	}
	res, err := o.s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return wrap(err, "store offline message for %s", owner)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(err, "store offline message for %s", owner)
	}
	if n == 0 {
		return storage.ErrQuotaExceeded
	}
	return nil
}

func (o offline) Fetch(ctx context.Context, owner string, limit int) ([]storage.OfflineMessage, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := o.s.r.QueryContext(ctx, `SELECT id, stanza, stored FROM offline WHERE owner = ? ORDER BY id LIMIT ?`,
		owner, limit)
	if err != nil {
		return nil, wrap(err, "fetch offline messages of %s", owner)
	}
	defer rows.Close()
	var out []storage.OfflineMessage
	for rows.Next() {
		var m storage.OfflineMessage
		var stored int64
		if err := rows.Scan(&m.ID, &m.Stanza, &stored); err != nil {
			return nil, wrap(err, "fetch offline messages of %s", owner)
		}
		m.Stored = fromNanos(stored)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "fetch offline messages of %s", owner)
	}
	return out, nil
}

func (o offline) Delete(ctx context.Context, owner string, upTo int64) error {
	_, err := o.s.w.ExecContext(ctx, `DELETE FROM offline WHERE owner = ? AND id <= ?`, owner, upTo)
	return wrap(err, "delete offline messages of %s", owner)
}

func (o offline) Count(ctx context.Context, owner string) (int, error) {
	var n int
	err := o.s.r.QueryRowContext(ctx, `SELECT count(*) FROM offline WHERE owner = ?`, owner).Scan(&n)
	return n, wrap(err, "count offline messages of %s", owner)
}
