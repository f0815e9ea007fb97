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

// Add sends the batch in one round trip and one transaction. The quota
// is checked per statement without an owner lock: concurrent batches of
// one owner may pass it by a batch at most (it bounds a user's entries,
// it is no exact count).
func (t tracking) Add(ctx context.Context, quota int, entries []storage.Tracked) ([]bool, error) {
	stored := make([]bool, len(entries))
	if len(entries) == 0 {
		return stored, nil
	}
	err := t.s.inTx(ctx, "track messages", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, e := range entries {
			b.Queue(trackStmts.Insert, e.Owner, e.ID, e.Recipient, e.Sender, e.Deadline.UTC(), quota)
		}
		br := tx.SendBatch(ctx, b)
		for i := range entries {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			stored[i] = tag.RowsAffected() > 0
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	return stored, nil
}

func (t tracking) Complete(ctx context.Context, keys []storage.TrackKey) ([]bool, error) {
	done := make([]bool, len(keys))
	if len(keys) == 0 {
		return done, nil
	}
	err := t.s.inTx(ctx, "complete tracked messages", func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		for _, k := range keys {
			b.Queue(trackStmts.Complete, k.Owner, k.ID, k.Recipient)
		}
		br := tx.SendBatch(ctx, b)
		for i := range keys {
			tag, err := br.Exec()
			if err != nil {
				br.Close()
				return err
			}
			done[i] = tag.RowsAffected() > 0
		}
		return br.Close()
	})
	if err != nil {
		return nil, err
	}
	return done, nil
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
