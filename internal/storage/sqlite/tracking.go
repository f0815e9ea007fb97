package sqlite

import (
	"context"
	"database/sql"

	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

var trackStmts = dialect.Tracking()

type tracking struct{ s *Store }

// Add writes the batch in one transaction of the single writer: one commit
// for every entry.
func (t tracking) Add(ctx context.Context, quota int, entries []storage.Tracked) ([]bool, error) {
	stored := make([]bool, len(entries))
	if len(entries) == 0 {
		return stored, nil
	}
	err := t.s.writeTx(ctx, "track messages", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, trackStmts.Insert)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, e := range entries {
			res, err := st.ExecContext(ctx, e.Owner, e.ID, e.Recipient, e.Sender, clampNanos(e.Deadline), quota)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			stored[i] = n > 0
		}
		return nil
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
	err := t.s.writeTx(ctx, "complete tracked messages", func(tx *sql.Tx) error {
		st, err := tx.PrepareContext(ctx, trackStmts.Complete)
		if err != nil {
			return err
		}
		defer st.Close()
		for i, k := range keys {
			res, err := st.ExecContext(ctx, k.Owner, k.ID, k.Recipient)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			done[i] = n > 0
		}
		return nil
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
	rows, err := t.s.r.QueryContext(ctx, trackStmts.Due, clampNanos(now), lim)
	if err != nil {
		return nil, wrap(err, "list due tracked messages")
	}
	defer rows.Close()
	var out []storage.Tracked
	for rows.Next() {
		var e storage.Tracked
		var d int64
		if err := rows.Scan(&e.Owner, &e.ID, &e.Recipient, &e.Sender, &d); err != nil {
			return nil, wrap(err, "list due tracked messages")
		}
		e.Deadline = fromNanos(d)
		out = append(out, e)
	}
	return out, wrap(rows.Err(), "list due tracked messages")
}

func (t tracking) Count(ctx context.Context, owner string) (int, error) {
	var n int
	err := t.s.r.QueryRowContext(ctx, trackStmts.Count, owner).Scan(&n)
	return n, wrap(err, "count tracked messages of %s", owner)
}

func (t tracking) DeleteOwner(ctx context.Context, owner string) error {
	_, err := t.s.w.ExecContext(ctx, trackStmts.DeleteOwner, owner)
	return wrap(err, "delete tracked messages of %s", owner)
}
