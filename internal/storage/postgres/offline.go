package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
)

type offline struct{ s *Store }

// offlineLockClass is the first key of the two-key advisory lock taken per
// owner by Store (the two-key space does not overlap the migration lock).
const offlineLockClass = 0x6f66666c // "offl"

// Store serialises the owner's stores with a transaction-scoped advisory
// lock. Besides making the quota exact, this keeps ids in commit order per
// owner: without it a message could commit with an id below one already
// fetched, and the Delete(upTo) for that fetch would drop it undelivered.
// Lock and insert go in one batch, which pgx runs as one implicit
// transaction in a single round trip.
func (o offline) Store(ctx context.Context, owner string, stanza []byte, quota int) error {
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(offlineLockClass), owner)
	inserted := false
	b.Queue(`INSERT INTO offline (owner, stanza) SELECT $1, $2
		WHERE $3 <= 0 OR (SELECT count(*) FROM (SELECT FROM offline WHERE owner = $1 LIMIT $3) q) < $3
		RETURNING id`, owner, nonNil(stanza), quota).
		QueryRow(func(row pgx.Row) error {
			var id int64
			err := row.Scan(&id)
			if notFound(err) {
				return nil
			}
			inserted = err == nil
			return err
		})
	if err := o.s.pool.SendBatch(ctx, b).Close(); err != nil {
		return wrap(err, "store offline message for %s", owner)
	}
	if !inserted {
		return storage.ErrQuotaExceeded
	}
	return nil
}

func (o offline) Fetch(ctx context.Context, owner string, limit int) ([]storage.OfflineMessage, error) {
	var lim *int // NULL: LIMIT ALL
	if limit > 0 {
		lim = &limit
	}
	rows, _ := o.s.pool.Query(ctx, `SELECT id, stanza, stored FROM offline WHERE owner = $1 ORDER BY id LIMIT $2`,
		owner, lim)
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.OfflineMessage, error) {
		var m storage.OfflineMessage
		err := row.Scan(&m.ID, &m.Stanza, &m.Stored)
		m.Stored = m.Stored.UTC()
		return m, err
	})
	if err != nil {
		return nil, wrap(err, "fetch offline messages of %s", owner)
	}
	return msgs, nil
}

func (o offline) Delete(ctx context.Context, owner string, upTo int64) error {
	_, err := o.s.pool.Exec(ctx, `DELETE FROM offline WHERE owner = $1 AND id <= $2`, owner, upTo)
	return wrap(err, "delete offline messages of %s", owner)
}

func (o offline) Count(ctx context.Context, owner string) (int, error) {
	var n int
	err := o.s.pool.QueryRow(ctx, `SELECT count(*) FROM offline WHERE owner = $1`, owner).Scan(&n)
	return n, wrap(err, "count offline messages of %s", owner)
}
