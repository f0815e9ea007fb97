package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

var trackStmts = dialect.Tracking()

type tracking struct{ s *Store }

func (t tracking) Add(ctx context.Context, quota int, entries []storage.Tracked) ([]bool, error) {
	stored, _, err := t.Apply(ctx, quota, entries, nil)
	return stored, err
}

func (t tracking) Complete(ctx context.Context, keys []storage.TrackKey) ([]bool, error) {
	_, done, err := t.Apply(ctx, 0, nil, keys)
	return done, err
}

// Apply sends the batch in one round trip and one transaction. The quota
// is checked per statement without an owner lock: concurrent batches of
// one owner may pass it by a batch at most (it bounds a user's entries,
// it is no exact count).
func (t tracking) Apply(ctx context.Context, quota int, add []storage.Tracked, complete []storage.TrackKey) ([]bool, []bool, error) {
	stored, done := make([]bool, len(add)), make([]bool, len(complete))
	if len(add) == 0 && len(complete) == 0 {
		return stored, done, nil
	}
	err := t.s.inTx(ctx, "track messages", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range add {
			if quota > 0 {
				b.Queue(trackStmts.Insert, e.Owner, e.ID, e.Recipient, e.Sender, e.Deadline.UTC(), quota)
			} else {
				b.Queue(trackStmts.Upsert, e.Owner, e.ID, e.Recipient, e.Sender, e.Deadline.UTC())
			}
		}
		for _, k := range complete {
			b.Queue(trackStmts.Complete, k.Owner, k.ID, k.Recipient)
		}
		br := tx.SendBatch(ctx, b)
		for i := range len(add) + len(complete) {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			if i < len(add) {
				stored[i] = tag.RowsAffected() > 0
			} else {
				done[i-len(add)] = tag.RowsAffected() > 0
			}
		}
		return br.Close()
	})
	if err != nil {
		return nil, nil, err
	}
	return stored, done, nil
}

func (t tracking) Due(ctx context.Context, now time.Time, limit int) ([]storage.Tracked, error) {
	lim := schema.DueLimit
	if limit > 0 {
		lim = int64(limit)
	}
	rows, _ := t.s.pool.Query(ctx, trackStmts.Due, now.UTC(), lim)
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (storage.Tracked, error) {
		var e storage.Tracked
		err := r.Scan(&e.Owner, &e.ID, &e.Recipient, &e.Sender, &e.Deadline)
		e.Deadline = e.Deadline.UTC()
		return e, err
	})
	if err != nil {
		return nil, wrap(err, "list due tracked messages")
	}
	return out, nil
}

func (t tracking) Count(ctx context.Context, owner string) (int, error) {
	var n int
	err := t.s.pool.QueryRow(ctx, trackStmts.Count, owner).Scan(&n)
	return n, wrap(err, "count tracked messages of %s", owner)
}

func (t tracking) DeleteOwner(ctx context.Context, owner string) error {
	_, err := t.s.pool.Exec(ctx, trackStmts.DeleteOwner, owner)
	return wrap(err, "delete tracked messages of %s", owner)
}
