package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/migration"

	_ "modernc.org/sqlite" // registers driver "sqlite"
)

// Options tune a Store. The zero value is the default.
type Options struct {
	// Synchronous is SQLite's synchronous pragma: "NORMAL" (default) or
	// "FULL". In WAL mode NORMAL survives a crash of the process (kill -9)
	// but may lose the last commits on power loss or an OS crash; FULL
	// fsyncs every commit and survives those too, at a large cost in
	// write throughput.
	Synchronous string
	// BusyTimeout is how long a connection waits for another process
	// holding the database lock (default 5s).
	BusyTimeout time.Duration
	// ReadConns is the size of the read-only pool (default 4).
	ReadConns int
}

// Store is the SQLite backend. It holds two pools on one file: a writer of
// exactly one connection whose transactions start with BEGIN IMMEDIATE, and
// a read-only pool. With a single writer, a read transaction is never
// upgraded to a write one, so SQLITE_BUSY cannot arise within the process.
type Store struct {
	path string
	w    *sql.DB // one connection, BEGIN IMMEDIATE
	r    *sql.DB // query_only connections

	offline storage.Offline // on archive, built once: Offline() is on the hot path

	// Archive appends go through one committer goroutine (see archive.go).
	insertOffline *sql.Stmt
	insertOther   *sql.Stmt
	track         *trackPrepared
	appendReqs    chan *appendReq
	quit          chan struct{}
	wg            sync.WaitGroup
	closeOnce     sync.Once
}

var _ storage.Store = (*Store)(nil)

// Open opens (creating the file and its directory if needed) and migrates
// the database at path with default Options.
func Open(ctx context.Context, path string) (*Store, error) {
	return OpenWith(ctx, path, Options{})
}

// OpenWith is Open with Options.
func OpenWith(ctx context.Context, path string, o Options) (*Store, error) {
	if path == "" || path == ":memory:" || strings.ContainsAny(path, "?#") || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("sqlite: database path %q must be a plain file path (no ':memory:', 'file:' URI, '?' or '#')", path)
	}
	sync := strings.ToUpper(o.Synchronous)
	switch sync {
	case "":
		sync = "NORMAL"
	case "NORMAL", "FULL", "EXTRA":
	default:
		return nil, fmt.Errorf("sqlite: synchronous %q: use NORMAL or FULL", o.Synchronous)
	}
	if o.BusyTimeout <= 0 {
		o.BusyTimeout = 5 * time.Second
	}
	if o.ReadConns <= 0 {
		o.ReadConns = 4
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create database directory: %w", err)
	}

	_, statErr := os.Stat(path)
	created := errors.Is(statErr, fs.ErrNotExist)

	common := url.Values{}
	common.Set("_busy_timeout", strconv.FormatInt(o.BusyTimeout.Milliseconds(), 10))
	common.Set("_foreign_keys", "1")
	wq := url.Values{}
	for k, v := range common {
		wq[k] = v
	}
	wq.Set("_journal_mode", "WAL")
	wq.Set("_synchronous", sync)
	wq.Set("_txlock", "immediate")
	// A large write (a history batch) touches index pages all over a large
	// file; with SQLite's 2 MB cache it spilled dirty pages mid-transaction
	// (a third of the writer's time). Used as needed, not allocated up
	// front.
	wq.Add("_pragma", "cache_size(-32768)")
	// A checkpoint ends in an fsync, and on a server given one core the
	// fsync holds the only Go scheduler slot until the runtime takes it
	// back (up to 10 ms): at the default 4 MB of WAL, under archive load,
	// the server stood idle a sixth of the time. 64 MB makes that rare;
	// the WAL file stays that size once grown.
	wq.Add("_pragma", "wal_autocheckpoint(16384)")
	w, err := sql.Open("sqlite", path+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	// The first connection creates the file; keep it owner-only, as it
	// holds credentials and messages.
	if err := pingBusy(ctx, w, o.BusyTimeout); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	if created {
		if err := os.Chmod(path, 0o600); err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: restrict permissions of %s: %w", path, err)
		}
	}
	ms, err := migration.Load(migrationFiles, "migrations")
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: embedded migrations: %w", err)
	}
	if err := migrate(ctx, w, ms); err != nil {
		w.Close()
		return nil, err
	}

	rq := common
	rq.Set("_query_only", "1")
	rq.Set("_txlock", "deferred")
	r, err := sql.Open("sqlite", path+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	r.SetMaxOpenConns(o.ReadConns)
	r.SetMaxIdleConns(o.ReadConns)
	r.SetConnMaxIdleTime(0)
	if err := r.PingContext(ctx); err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: open %s for reading: %w", path, err)
	}
	insOffline, insOther, err := prepareArchive(ctx, w)
	if err != nil {
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: prepare archive insert: %w", err)
	}
	track, err := prepareTracking(ctx, w)
	if err != nil {
		insOffline.Close()
		insOther.Close()
		w.Close()
		r.Close()
		return nil, fmt.Errorf("sqlite: prepare tracking statements: %w", err)
	}
	s := &Store{path: path, w: w, r: r, insertOffline: insOffline, insertOther: insOther, track: track,
		appendReqs: make(chan *appendReq), quit: make(chan struct{})}
	s.offline = storage.OfflineArchive(archive{s})
	s.wg.Add(1)
	go s.committer()
	return s, nil
}

func (s *Store) Users() storage.Users               { return users{s} }
func (s *Store) Roster() storage.Roster             { return roster{s} }
func (s *Store) Offline() storage.Offline           { return s.offline }
func (s *Store) Archive() storage.Archive           { return archive{s} }
func (s *Store) History() storage.History           { return history{s} }
func (s *Store) VCards() storage.VCards             { return vcards{s} }
func (s *Store) Blocking() storage.Blocking         { return blocking{s} }
func (s *Store) LastActivity() storage.LastActivity { return lastActivity{s} }
func (s *Store) PrivateXML() storage.PrivateXML     { return privateXML{s} }
func (s *Store) Tracking() storage.Tracking         { return tracking{s} }
func (s *Store) DirectCerts() storage.DirectCerts   { return directCerts{s} }

// Ping checks both pools can reach the file.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", s.path, err)
	}
	if err := s.r.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping %s: %w", s.path, err)
	}
	return nil
}

// Close stops the archive committer and closes both pools. Committed data
// is already on disk; a Store racing with Close fails.
func (s *Store) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.quit)
		s.wg.Wait()
		err = errors.Join(s.insertOffline.Close(), s.insertOther.Close(), s.track.close(), s.r.Close(), s.w.Close())
	})
	return err
}

// writeTx runs fn in a write transaction (BEGIN IMMEDIATE on the single
// writer connection) and commits it. what describes the operation for the
// error ("store offline message for x@y").
func (s *Store) writeTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if isSentinel(err) {
			return err
		}
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: %s: commit: %w", what, err)
	}
	return nil
}

// readTx runs fn in a read transaction, so multi-query reads see one
// snapshot.
func (s *Store) readTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		if isSentinel(err) {
			return err
		}
		return fmt.Errorf("sqlite: %s: %w", what, err)
	}
	return nil
}

func isSentinel(err error) bool {
	return err == storage.ErrNotFound || err == storage.ErrConflict || err == storage.ErrQuotaExceeded
}

// wrap adds context to a driver error, leaving nil alone.
func wrap(err error, format string, args ...any) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: "+format+": %w", append(args, err)...)
}

// nanos converts t for storage, refusing times SQLite's int64 cannot hold
// (before 1678 or after 2262) rather than storing garbage.
func nanos(t time.Time) (int64, error) {
	if t.Before(minTime) || t.After(maxTime) {
		return 0, fmt.Errorf("time %v is outside 1678..2262", t)
	}
	return t.UnixNano(), nil
}

var (
	minTime = time.Unix(0, -1<<63+1)
	maxTime = time.Unix(0, 1<<63-1)
)

func fromNanos(n int64) time.Time { return time.Unix(0, n).UTC() }

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// pingBusy opens the first connection, again while SQLite answers BUSY:
// processes opening one new database at once race to switch it to WAL,
// and that switch fails at once rather than waiting for the busy timeout.
func pingBusy(ctx context.Context, db *sql.DB, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		err := db.PingContext(ctx)
		if err == nil || !strings.Contains(err.Error(), "SQLITE_BUSY") || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(20 * time.Millisecond):
		}
	}
}
