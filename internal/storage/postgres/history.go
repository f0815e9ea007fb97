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

// Write inserts the entries' chunks in one batch, which pgx runs as one
// implicit transaction in one round trip.
func (h history) Write(ctx context.Context, entries []storage.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	b := &pgx.Batch{}
	for _, c := range schema.Chunks(entries) {
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

func (h history) sum(ctx context.Context, owner, archive, peer string, start, end time.Time) (int, error) {
	var n int
	var err error
	if peer == "" {
		err = h.s.pool.QueryRow(ctx, historyStmts.SumAll, owner, archive, start.UTC(), end.UTC()).Scan(&n)
	} else {
		err = h.s.pool.QueryRow(ctx, historyStmts.SumPeer, owner, archive, peer, start.UTC(), end.UTC()).Scan(&n)
	}
	return n, wrap(err, "count history of %s", owner)
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
	var err error
	if archive == "" {
		_, err = h.s.pool.Exec(ctx, historyStmts.DeleteAll, owner)
	} else {
		_, err = h.s.pool.Exec(ctx, historyStmts.DeleteOwner, owner, archive)
	}
	return wrap(err, "delete history of %s", owner)
}

func (h history) Expire(ctx context.Context, archive string, r storage.Retention) (int64, error) {
	var total int64
	if !r.Before.IsZero() {
		tag, err := h.s.pool.Exec(ctx, historyStmts.ExpireBefore, archive, r.Before.UTC())
		if err != nil {
			return 0, wrap(err, "expire %s history", archive)
		}
		total += tag.RowsAffected()
	}
	if r.KeepPerOwner > 0 {
		tag, err := h.s.pool.Exec(ctx, historyStmts.ExpireKeep, archive, r.KeepPerOwner)
		if err != nil {
			return total, wrap(err, "expire %s history", archive)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}
