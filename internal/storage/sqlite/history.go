package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

type history struct{ s *Store }

var historyStmts = dialect.History()

// Write inserts the entries' chunks in one transaction on the writer
// connection (the archive committer shares it, one transaction at a time).
func (h history) Write(ctx context.Context, entries []storage.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	tx, err := h.s.w.BeginTx(ctx, nil)
	if err != nil {
		return wrap(err, "write history")
	}
	defer tx.Rollback()
	ins, err := tx.PrepareContext(ctx, historyStmts.Insert)
	if err != nil {
		return wrap(err, "write history")
	}
	defer ins.Close()
	var ref *sql.Stmt
	chunks, done := schema.Chunks(entries)
	defer done()
	for _, c := range chunks {
		first, err := nanos(c.First)
		if err != nil {
			return wrap(err, "write history of %s", c.Owner)
		}
		last, err := nanos(c.Last)
		if err != nil {
			return wrap(err, "write history of %s", c.Owner)
		}
		res, err := ins.ExecContext(ctx, c.Owner, c.Archive, c.Peer, first, last, c.N, nonNil(c.Entries))
		if err != nil {
			return wrap(err, "write history of %s", c.Owner)
		}
		if !c.Mirror {
			continue
		}
		id, err := res.LastInsertId()
		if err != nil {
			return wrap(err, "write history of %s", c.Owner)
		}
		if ref == nil {
			if ref, err = tx.PrepareContext(ctx, historyStmts.InsertRef); err != nil {
				return wrap(err, "write history")
			}
			defer ref.Close()
		}
		if _, err := ref.ExecContext(ctx, c.Peer, c.Archive, c.Owner, first, last, c.N, []byte{}, id); err != nil {
			return wrap(err, "write history of %s", c.Peer)
		}
	}
	return wrap(tx.Commit(), "write history")
}

func (h history) fetch(ctx context.Context, r schema.HistoryRange) ([]schema.Chunk, error) {
	q, args := dialect.HistorySelect(r)
	rows, err := h.s.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, wrap(err, "read history of %s", r.Owner)
	}
	defer rows.Close()
	var out []schema.Chunk
	for rows.Next() {
		c := schema.Chunk{Owner: r.Owner, Archive: r.Archive}
		var first, last int64
		if err := rows.Scan(&c.ID, &c.Peer, &first, &last, &c.N, &c.Entries); err != nil {
			return nil, wrap(err, "read history of %s", r.Owner)
		}
		c.First, c.Last = fromNanos(first), fromNanos(last)
		out = append(out, c)
	}
	return out, wrap(rows.Err(), "read history of %s", r.Owner)
}

func (h history) sum(ctx context.Context, owner, archive, peer string, start, end time.Time, limit int, desc bool) (schema.SumResult, error) {
	var r schema.SumResult
	var first, last sql.NullInt64
	q, args := historyStmts.SumArgs(owner, archive, peer, desc)
	row := h.s.r.QueryRowContext(ctx, q, append(args, clampNanos(start), clampNanos(end), clampNanos(end), limit)...)
	if err := row.Scan(&r.N, &r.Rows, &first, &last); err != nil {
		return r, wrap(err, "count history of %s", owner)
	}
	r.First, r.Last = fromNanos(first.Int64), fromNanos(last.Int64)
	return r, nil
}

func (h history) Query(ctx context.Context, owner, archive string, q storage.Query) (storage.Page, error) {
	p, err := schema.HistoryQuery(ctx, h.fetch, h.sum, owner, archive, q)
	for i := range p.Entries {
		p.Entries[i].ID = storage.TimeID(p.Entries[i].Time)
	}
	return p, err
}

func (h history) Latest(ctx context.Context, archive string) (time.Time, error) {
	var at sql.NullInt64
	if err := h.s.r.QueryRowContext(ctx, historyStmts.Latest, archive).Scan(&at); err != nil {
		return time.Time{}, wrap(err, "latest %s history", archive)
	}
	if !at.Valid {
		return time.Time{}, nil
	}
	return fromNanos(at.Int64), nil
}

func (h history) DeleteOwner(ctx context.Context, owner, archive string) error {
	return h.s.writeTx(ctx, "delete history of "+owner, func(tx *sql.Tx) error {
		keep, del, args := historyStmts.KeepAll, historyStmts.DeleteAll, []any{owner}
		if archive != "" {
			keep, del, args = historyStmts.KeepOwner, historyStmts.DeleteOwner, []any{owner, archive}
		}
		if _, err := tx.ExecContext(ctx, keep, args...); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, del, args...)
		return err
	})
}

func (h history) Expire(ctx context.Context, archive string, r storage.Retention) (int64, error) {
	var total int64
	err := h.s.writeTx(ctx, "expire "+archive+" history", func(tx *sql.Tx) error {
		if !r.Before.IsZero() {
			res, err := tx.ExecContext(ctx, historyStmts.ExpireBefore, archive, clampNanos(r.Before))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		if r.KeepPerOwner > 0 {
			if _, err := tx.ExecContext(ctx, historyStmts.KeepExpired, archive, r.KeepPerOwner); err != nil {
				return err
			}
			res, err := tx.ExecContext(ctx, historyStmts.ExpireKeep, archive, r.KeepPerOwner)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
