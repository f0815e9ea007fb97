package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

type offline struct{ s *Store }

// errClosed answers stores that race with Close.
var errClosed = errors.New("store is closed")

// maxBatch bounds one group commit, so a burst cannot hold the writer for
// long.
const maxBatch = 256

const insertOffline = `INSERT INTO offline (owner, stanza, stored) SELECT ?, ?, ?
	WHERE ? <= 0 OR (SELECT count(*) FROM (SELECT 1 FROM offline WHERE owner = ? LIMIT ?)) < ?`

// storeReq is one Store waiting for the committer.
type storeReq struct {
	owner  string
	stanza []byte
	quota  int
	state  atomic.Int32 // reqWaiting, then reqTaken by the committer or reqAbandoned by the caller
	done   chan error
}

const (
	reqWaiting = iota
	reqTaken
	reqAbandoned
)

// Store hands the message to the committer goroutine, which writes every
// message waiting at that moment in one transaction: one commit (one WAL
// append, one fsync with synchronous=FULL) for many messages. Store
// returns once the transaction holding its message has committed.
func (o offline) Store(ctx context.Context, owner string, stanza []byte, quota int) error {
	if err := ctx.Err(); err != nil {
		return wrap(err, "store offline message for %s", owner)
	}
	r := &storeReq{owner: owner, stanza: nonNil(stanza), quota: quota, done: make(chan error, 1)}
	select {
	case o.s.storeReqs <- r:
	case <-ctx.Done():
		return wrap(ctx.Err(), "store offline message for %s", owner)
	case <-o.s.quit:
		return wrap(errClosed, "store offline message for %s", owner)
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqWaiting, reqAbandoned) {
			return wrap(ctx.Err(), "store offline message for %s", owner)
		}
		return <-r.done // already being written: report what happened
	}
}

// committer runs until quit is closed. Requests are handed over on an
// unbuffered channel, so none can be stranded at Close.
func (s *Store) committer() {
	defer s.wg.Done()
	for {
		var first *storeReq
		select {
		case first = <-s.storeReqs:
		case <-s.quit:
			return
		}
		batch := []*storeReq{first}
	drain:
		for len(batch) < maxBatch {
			select {
			case r := <-s.storeReqs:
				batch = append(batch, r)
			default:
				break drain
			}
		}
		s.commitBatch(batch)
	}
}

func (s *Store) commitBatch(batch []*storeReq) {
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
	err := s.storeAll(live, results)
	for i, r := range live {
		if err != nil {
			results[i] = err
		}
		if results[i] != nil && !errors.Is(results[i], storage.ErrQuotaExceeded) {
			results[i] = wrap(results[i], "store offline message for %s", r.owner)
		}
		r.done <- results[i]
	}
}

// storeAll writes live in one transaction. The batch serves several
// callers, so it does not run under any one caller's context. An error
// fails the whole batch: after an I/O error SQLite may have rolled the
// transaction back already.
func (s *Store) storeAll(live []*storeReq, results []error) error {
	ctx := context.Background()
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt := tx.StmtContext(ctx, s.insertOffline)
	now := time.Now().UnixNano()
	for i, r := range live {
		res, err := stmt.ExecContext(ctx, r.owner, r.stanza, now, r.quota, r.owner, r.quota, r.quota)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		if n == 0 {
			results[i] = storage.ErrQuotaExceeded
		}
	}
	return tx.Commit()
}

func prepareOffline(ctx context.Context, w *sql.DB) (*sql.Stmt, error) {
	return w.PrepareContext(ctx, insertOffline)
}

func (o offline) Fetch(ctx context.Context, owner string, limit int) ([]storage.OfflineMessage, error) {
	if limit <= 0 {
		limit = -1 // SQLite: no limit
	}
	rows, err := o.s.r.QueryContext(ctx, `SELECT id, stanza, stored FROM offline WHERE owner = ? ORDER BY id LIMIT ?`,
		owner, limit)
	if err != nil {
		return nil, wrap(err, "fetch offline messages of %s", owner)
	}
	defer rows.Close()
	var out []storage.OfflineMessage
	for rows.Next() {
		var m storage.OfflineMessage
		var stored int64
		if err := rows.Scan(&m.ID, &m.Stanza, &stored); err != nil {
			return nil, wrap(err, "fetch offline messages of %s", owner)
		}
		m.Stored = fromNanos(stored)
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "fetch offline messages of %s", owner)
	}
	return out, nil
}

func (o offline) Delete(ctx context.Context, owner string, upTo int64) error {
	_, err := o.s.w.ExecContext(ctx, `DELETE FROM offline WHERE owner = ? AND id <= ?`, owner, upTo)
	return wrap(err, "delete offline messages of %s", owner)
}

func (o offline) Count(ctx context.Context, owner string) (int, error) {
	var n int
	err := o.s.r.QueryRowContext(ctx, `SELECT count(*) FROM offline WHERE owner = ?`, owner).Scan(&n)
	return n, wrap(err, "count offline messages of %s", owner)
}
