package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

type history struct{ s *Store }

var historyStmts = dialect.History()

// insertMirrored writes a mirrored chunk's two rows in one statement: the
// owner's, then the peer's referring to it (schema.HistoryStatements).
const insertMirrored = `WITH r AS (INSERT INTO history (owner, archive, peer, first_at, last_at, n, entries)
	VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id)
INSERT INTO history (owner, archive, peer, first_at, last_at, n, entries, ref)
	SELECT $3, $2, $1, $4, $5, $6, '', id FROM r`

// Write inserts the entries' chunks in one batch, which pgx runs as one
// implicit transaction in one round trip.
func (h history) Write(ctx context.Context, entries []storage.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	chunks, done := schema.Chunks(entries)
	defer done()
	for _, c := range chunks {
		if c.Mirror {
			b.Queue(insertMirrored, c.Owner, c.Archive, c.Peer, c.First.UTC(), c.Last.UTC(), c.N, nonNil(c.Entries))
			continue
		}
		b.Queue(historyStmts.Insert, c.Owner, c.Archive, c.Peer, c.First.UTC(), c.Last.UTC(), c.N, nonNil(c.Entries))
	}
	return wrap(h.s.pool.SendBatch(ctx, b).Close(), "write %d history entries", len(entries))
}

func (h history) fetch(ctx context.Context, r schema.HistoryRange) ([]schema.Chunk, error) {
	q, args := dialect.HistorySelect(r)
	rows, _ := h.s.pool.Query(ctx, q, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (schema.Chunk, error) {
		c := schema.Chunk{Owner: r.Owner, Archive: r.Archive}
		err := row.Scan(&c.ID, &c.Peer, &c.First, &c.Last, &c.N, &c.Entries)
		c.First, c.Last = c.First.UTC(), c.Last.UTC()
		return c, err
	})
	return out, wrap(err, "read history of %s", r.Owner)
}

func (h history) sum(ctx context.Context, owner, archive, peer string, start, end time.Time, limit int, desc bool) (schema.SumResult, error) {
	var r schema.SumResult
	var first, last *time.Time
	q, args := historyStmts.SumArgs(owner, archive, peer, desc)
	row := h.s.pool.QueryRow(ctx, q, append(args, start.UTC(), end.UTC(), end.UTC(), limit)...)
	if err := row.Scan(&r.N, &r.Rows, &first, &last); err != nil {
		return r, wrap(err, "count history of %s", owner)
	}
	if first != nil && last != nil {
		r.First, r.Last = first.UTC(), last.UTC()
	}
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
	var at *time.Time
	if err := h.s.pool.QueryRow(ctx, historyStmts.Latest, archive).Scan(&at); err != nil {
		return time.Time{}, wrap(err, "latest %s history", archive)
	}
	if at == nil {
		return time.Time{}, nil
	}
	return at.UTC(), nil
}

func (h history) DeleteOwner(ctx context.Context, owner, archive string) error {
	keep, del, args := historyStmts.KeepAll, historyStmts.DeleteAll, []any{owner}
	if archive != "" {
		keep, del, args = historyStmts.KeepOwner, historyStmts.DeleteOwner, []any{owner, archive}
	}
	return h.s.inSnapshot(ctx, "delete history of "+owner, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, keep, args...); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, del, args...)
		return err
	})
}

func (h history) Expire(ctx context.Context, archive string, r storage.Retention) (int64, error) {
	var total int64
	err := h.s.inSnapshot(ctx, "expire "+archive+" history", func(tx pgx.Tx) error {
		if !r.Before.IsZero() {
			tag, err := tx.Exec(ctx, historyStmts.ExpireBefore, archive, r.Before.UTC())
			if err != nil {
				return err
			}
			total += tag.RowsAffected()
		}
		if r.KeepPerOwner > 0 {
			if _, err := tx.Exec(ctx, historyStmts.KeepExpired, archive, r.KeepPerOwner); err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, historyStmts.ExpireKeep, archive, r.KeepPerOwner)
			if err != nil {
				return err
			}
			total += tag.RowsAffected()
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return total, nil
}
