package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

type archive struct{ s *Store }

// dialect: ? placeholders, times as UTC unix nanoseconds (clamped in
// queries, where an out-of-range bound just means "everything").
var dialect = schema.Dialect{IndexedBy: true, Time: func(t time.Time) any { return clampNanos(t) }}

var stmts = dialect.Archive()

func clampNanos(t time.Time) int64 {
	switch {
	case t.Before(minTime):
		return minTime.UnixNano()
	case t.After(maxTime):
		return maxTime.UnixNano()
	}
	return t.UnixNano()
}

// errClosed answers appends that race with Close.
var errClosed = errors.New("store is closed")

// maxBatch bounds one group commit, so a burst cannot hold the writer for
// long.
const maxBatch = 256

// appendReq is one Append waiting for the committer.
type appendReq struct {
	e     storage.Entry
	at    int64
	quota int
	state atomic.Int32 // reqWaiting, then reqTaken by the committer or reqAbandoned by the caller
	id    int64
	done  chan error
}

const (
	reqWaiting = iota
	reqTaken
	reqAbandoned
)

// Append hands the entry to the committer goroutine, which writes every
// entry waiting at that moment in one transaction: one commit (one WAL
// append, one fsync with synchronous=FULL) for many entries. Append
// returns once the transaction holding its entry has committed. The single
// writer makes row ids ascend in commit order.
func (a archive) Append(ctx context.Context, e storage.Entry, quota int) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", appendErr(err, &e)
	}
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	at, err := nanos(e.Time)
	if err != nil {
		return "", appendErr(err, &e)
	}
	e.Payload = nonNil(e.Payload)
	r := &appendReq{e: e, at: at, quota: quota, done: make(chan error, 1)}
	select {
	case a.s.appendReqs <- r:
	case <-ctx.Done():
		return "", appendErr(ctx.Err(), &e)
	case <-a.s.quit:
		return "", appendErr(errClosed, &e)
	}
	select {
	case err := <-r.done:
		return a.result(r, err)
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return "", appendErr(ctx.Err(), &e)
		}
		return a.result(r, <-r.done) // already being written: report what happened
	}
}

// appendErr wraps err with what Append was doing; built only on failure,
// as the hot path allocates nothing for it.
func appendErr(err error, e *storage.Entry) error {
	return wrap(err, "append to %s archive of %s", e.Archive, e.Owner)
}

func (a archive) result(r *appendReq, err error) (string, error) {
	if err != nil {
		return "", err
	}
	return storage.EncodeID(r.id), nil
}

// committer runs until quit is closed. Requests are handed over on an
// unbuffered channel, so none can be stranded at Close.
func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var first *appendReq
		select {
		case first = <-s.appendReqs:
		case <-s.quit:
			return
		}
		batch := []*appendReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.appendReqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []*appendReq) {
	live := batch[:0]
	for _, r := range batch {
		if r.state.CompareAndSwap(reqWaiting, reqTaken) {
			live = append(live, r)
		}
	}
	if len(live) == 0 {
		return
	}
	results := make([]error, len(live))
	err := s.appendAll(live, results)
	for i, r := range live {
		if err != nil {
			results[i] = err
		}
		if results[i] != nil && !errors.Is(results[i], storage.ErrQuotaExceeded) {
			results[i] = appendErr(results[i], &r.e)
		}
		r.done <- results[i]
	}
}

// appendAll writes live in one transaction. The batch serves several
// callers, so it does not run under any one caller's context. An error
// fails the whole batch: after an I/O error SQLite may have rolled the
// transaction back already.
func (s *Store) appendAll(live []*appendReq, results []error) error {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var offline, other *sql.Stmt // bound to tx when first needed
	for i, r := range live {
		var stmt *sql.Stmt
		if r.e.Archive == storage.ArchiveOffline {
			if offline == nil {
				offline = tx.StmtContext(ctx, s.insertOffline)
			}
			stmt = offline
		} else {
			if other == nil {
				other = tx.StmtContext(ctx, s.insertOther)
			}
			stmt = other
		}
		res, err := stmt.ExecContext(ctx, r.e.Owner, r.e.Archive, r.at, r.e.Peer, r.e.Payload, r.quota)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			results[i] = storage.ErrQuotaExceeded
			continue
		}
		if r.id, err = res.LastInsertId(); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// prepareArchive prepares the inserts of the offline archive and of the
// others (they differ in the index their quota count uses).
func prepareArchive(ctx context.Context, w *sql.DB) (offline, other *sql.Stmt, err error) {
	if offline, err = w.PrepareContext(ctx, stmts.For(storage.ArchiveOffline).Insert); err != nil {
		return nil, nil, err
	}
	if other, err = w.PrepareContext(ctx, stmts.For("").Insert); err != nil {
		offline.Close()
		return nil, nil, err
	}
	return offline, other, nil
}

func (a archive) Query(ctx context.Context, owner, name string, q storage.Query) (storage.Page, error) {
	query, args, err := dialect.ArchiveQuery(owner, name, q)
	if err != nil {
		return storage.Page{}, err
	}
	if q.CountOnly {
		var p storage.Page
		if err := a.s.r.QueryRowContext(ctx, query, args...).Scan(&p.Count); err != nil {
			return storage.Page{}, wrap(err, "count %s archive of %s", name, owner)
		}
		return p, nil
	}
	rows, err := a.s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return storage.Page{}, wrap(err, "query %s archive of %s", name, owner)
	}
	defer rows.Close()
	var out []storage.Entry
	for rows.Next() {
		e := storage.Entry{Owner: owner, Archive: name}
		var id, at int64
		if err := rows.Scan(&id, &at, &e.Peer, &e.Payload); err != nil {
			return storage.Page{}, wrap(err, "query %s archive of %s", name, owner)
		}
		e.ID, e.Time = storage.EncodeID(id), fromNanos(at)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return storage.Page{}, wrap(err, "query %s archive of %s", name, owner)
	}
	return schema.ArchivePage(out, q), nil
}

func (a archive) Count(ctx context.Context, owner, name string) (int, error) {
	var n int
	err := a.s.r.QueryRowContext(ctx, stmts.For(name).Count, owner, name).Scan(&n)
	return n, wrap(err, "count %s archive of %s", name, owner)
}

func (a archive) Delete(ctx context.Context, owner, name string, ids []string) error {
	rows, err := decodeIDs(ids)
	if err != nil {
		return err
	}
	stmts, args := dialect.ArchiveDeleteIDs(owner, name, rows)
	return a.s.writeTx(ctx, "delete from "+name+" archive of "+owner, func(tx *sql.Tx) error {
		for i, q := range stmts {
			if _, err := tx.ExecContext(ctx, q, args[i]...); err != nil {
				return err
			}
		}
		return nil
	})
}

func decodeIDs(ids []string) ([]int64, error) {
	out := make([]int64, 0, len(ids))
	for _, s := range ids {
		n, err := storage.DecodeID(s)
		if err != nil {
			return nil, storage.ErrNotFound
		}
		out = append(out, n)
	}
	return out, nil
}

func (a archive) DeleteUpTo(ctx context.Context, owner, name, upTo string) error {
	n, err := storage.DecodeID(upTo)
	if err != nil {
		return storage.ErrNotFound
	}
	_, err = a.s.w.ExecContext(ctx, stmts.For(name).DeleteUpTo, owner, name, n)
	return wrap(err, "delete from %s archive of %s", name, owner)
}

func (a archive) DeleteOwner(ctx context.Context, owner, name string) error {
	if name != "" {
		_, err := a.s.w.ExecContext(ctx, stmts.For(name).DeleteOwner, owner, name)
		return wrap(err, "delete %s archive of %s", name, owner)
	}
	return a.s.writeTx(ctx, "delete archives of "+owner, func(tx *sql.Tx) error {
		for _, q := range stmts.DeleteOwnerAll {
			if _, err := tx.ExecContext(ctx, q, owner); err != nil {
				return err
			}
		}
		return nil
	})
}

func (a archive) Expire(ctx context.Context, name string, r storage.Retention) (int64, error) {
	var total int64
	err := a.s.writeTx(ctx, "expire "+name+" archive", func(tx *sql.Tx) error {
		if !r.Before.IsZero() {
			res, err := tx.ExecContext(ctx, stmts.For(name).ExpireBefore, name, clampNanos(r.Before))
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		if r.KeepPerOwner > 0 {
			res, err := tx.ExecContext(ctx, stmts.For(name).ExpireKeep, name, r.KeepPerOwner)
			if err != nil {
				return err
			}
			n, _ := res.RowsAffected()
			total += n
		}
		return nil
	})
	return total, err
}
