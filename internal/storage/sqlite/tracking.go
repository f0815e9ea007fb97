package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

var trackStmts = dialect.Tracking()

type tracking struct{ s *Store }

// trackPrepared are the write statements, prepared once on the writer
// connection (preparing the insert costs more than running it).
type trackPrepared struct{ insert, upsert, complete *sql.Stmt }

func prepareTracking(ctx context.Context, w *sql.DB) (*trackPrepared, error) {
	ins, err := w.PrepareContext(ctx, trackStmts.Insert)
	if err != nil {
		return nil, err
	}
	up, err := w.PrepareContext(ctx, trackStmts.Upsert)
	if err != nil {
		ins.Close()
		return nil, err
	}
	done, err := w.PrepareContext(ctx, trackStmts.Complete)
	if err != nil {
		ins.Close()
		up.Close()
		return nil, err
	}
	return &trackPrepared{ins, up, done}, nil
}

func (p *trackPrepared) close() error {
	return errors.Join(p.insert.Close(), p.upsert.Close(), p.complete.Close())
}

func (t tracking) Add(ctx context.Context, quota int, entries []storage.Tracked) ([]bool, error) {
	stored, _, err := t.Apply(ctx, quota, entries, nil)
	return stored, err
}

func (t tracking) Complete(ctx context.Context, keys []storage.TrackKey) ([]bool, error) {
	_, done, err := t.Apply(ctx, 0, nil, keys)
	return done, err
}

// Apply writes the batch in one transaction of the single writer: one
// commit for every entry and key.
func (t tracking) Apply(ctx context.Context, quota int, add []storage.Tracked, complete []storage.TrackKey) ([]bool, []bool, error) {
	stored, done := make([]bool, len(add)), make([]bool, len(complete))
	if len(add) == 0 && len(complete) == 0 {
		return stored, done, nil
	}
	err := t.s.writeTx(ctx, "track messages", func(tx *sql.Tx) error {
		if len(add) > 0 {
			var st *sql.Stmt
			args := []any{nil, nil, nil, nil, nil}
			if quota > 0 {
				st, args = tx.StmtContext(ctx, t.s.track.insert), append(args, quota)
			} else {
				st = tx.StmtContext(ctx, t.s.track.upsert)
			}
			for i, e := range add {
				args[0], args[1], args[2], args[3], args[4] = e.Owner, e.ID, e.Recipient, e.Sender, clampNanos(e.Deadline)
				res, err := st.ExecContext(ctx, args...)
				if err != nil {
					return err
				}
				n, err := res.RowsAffected()
				if err != nil {
					return err
				}
				stored[i] = n > 0
			}
		}
		if len(complete) > 0 {
			st := tx.StmtContext(ctx, t.s.track.complete)
			for i, k := range complete {
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
		}
		return nil
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
