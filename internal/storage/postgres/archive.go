package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

type archive struct{ s *Store }

// dialect: $n placeholders, times as timestamptz.
var dialect = schema.Dialect{Dollar: true, Time: func(t time.Time) any { return t.UTC() }}

var (
	stmts = dialect.Archive()
	// The inserts return the new id.
	insertOffline = stmts.For(storage.ArchiveOffline).Insert + ` RETURNING id`
	insertOther   = stmts.For("").Insert + ` RETURNING id`
)

// archiveLockClass is the first key of the two-key advisory lock taken per
// owner by Append (the two-key space does not overlap the migration lock).
// The value is the one offline stores took before the archive, so a node
// of the previous version and one of this version exclude each other.
const archiveLockClass = 0x6f66666c // "offl"

// Append serialises the owner's appends with a transaction-scoped
// advisory lock. Besides making the quota exact, this keeps ids in commit
// order per owner: without it an entry could commit with an id below one
// already fetched, and the DeleteUpTo for that fetch would drop it
// unread. Lock and insert go in one batch, which pgx runs as one implicit
// transaction in a single round trip.
func (a archive) Append(ctx context.Context, e storage.Entry, quota int) (string, error) {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(archiveLockClass), e.Owner)
	var id int64
	inserted := false
	ins := insertOther
	if e.Archive == storage.ArchiveOffline {
		ins = insertOffline
	}
	b.Queue(ins, e.Owner, e.Archive, e.Time.UTC(), e.Peer, nonNil(e.Payload), quota).
		QueryRow(func(row pgx.Row) error {
			err := row.Scan(&id)
			if notFound(err) {
				return nil
			}
			inserted = err == nil
			return err
		})
	if err := a.s.pool.SendBatch(ctx, b).Close(); err != nil {
		return "", wrap(err, "append to %s archive of %s", e.Archive, e.Owner)
	}
	if !inserted {
		return "", storage.ErrQuotaExceeded
	}
	return storage.EncodeID(id), nil
}

func (a archive) Query(ctx context.Context, owner, name string, q storage.Query) (storage.Page, error) {
	query, args, err := dialect.ArchiveQuery(owner, name, q)
	if err != nil {
		return storage.Page{}, err
	}
	if q.CountOnly {
		var p storage.Page
		if err := a.s.pool.QueryRow(ctx, query, args...).Scan(&p.Count); err != nil {
			return storage.Page{}, wrap(err, "count %s archive of %s", name, owner)
		}
		return p, nil
	}
	rows, _ := a.s.pool.Query(ctx, query, args...)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Entry, error) {
		e := storage.Entry{Owner: owner, Archive: name}
		var id int64
		err := row.Scan(&id, &e.Time, &e.Peer, &e.Payload)
		e.ID, e.Time = storage.EncodeID(id), e.Time.UTC()
		return e, err
	})
	if err != nil {
		return storage.Page{}, wrap(err, "query %s archive of %s", name, owner)
	}
	return schema.ArchivePage(out, q), nil
}

func (a archive) Count(ctx context.Context, owner, name string) (int, error) {
	var n int
	err := a.s.pool.QueryRow(ctx, stmts.For(name).Count, owner, name).Scan(&n)
	return n, wrap(err, "count %s archive of %s", name, owner)
}

func (a archive) Delete(ctx context.Context, owner, name string, ids []string) error {
	rows := make([]int64, 0, len(ids))
	for _, s := range ids {
		n, err := storage.DecodeID(s)
		if err != nil {
			return storage.ErrNotFound
		}
		rows = append(rows, n)
	}
	stmts, args := dialect.ArchiveDeleteIDs(owner, name, rows)
	return a.s.inTx(ctx, "delete from "+name+" archive of "+owner, func(tx pgx.Tx) error {
		for i, q := range stmts {
			if _, err := tx.Exec(ctx, q, args[i]...); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a archive) DeleteUpTo(ctx context.Context, owner, name, upTo string) error {
	n, err := storage.DecodeID(upTo)
	if err != nil {
		return storage.ErrNotFound
	}
	_, err = a.s.pool.Exec(ctx, stmts.For(name).DeleteUpTo, owner, name, n)
	return wrap(err, "delete from %s archive of %s", name, owner)
}

func (a archive) DeleteOwner(ctx context.Context, owner, name string) error {
	if name != "" {
		_, err := a.s.pool.Exec(ctx, stmts.For(name).DeleteOwner, owner, name)
		return wrap(err, "delete %s archive of %s", name, owner)
	}
	return a.s.inTx(ctx, "delete archives of "+owner, func(tx pgx.Tx) error {
		for _, q := range stmts.DeleteOwnerAll {
			if _, err := tx.Exec(ctx, q, owner); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a archive) Expire(ctx context.Context, name string, r storage.Retention) (int64, error) {
	var total int64
	err := a.s.inTx(ctx, "expire "+name+" archive", func(tx pgx.Tx) error {
		if !r.Before.IsZero() {
			tag, err := tx.Exec(ctx, stmts.For(name).ExpireBefore, name, r.Before.UTC())
			if err != nil {
				return err
			}
			total += tag.RowsAffected()
		}
		if r.KeepPerOwner > 0 {
			tag, err := tx.Exec(ctx, stmts.For(name).ExpireKeep, name, r.KeepPerOwner)
			if err != nil {
				return err
			}
			total += tag.RowsAffected()
		}
		return nil
	})
	return total, err
}
