package schema

import (
	"cmp"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// The history table holds the archives that page by time (MAM's user and
// room archives) in chunks: one row for the entries of one (owner,
// archive, peer) that a Writer's batch holds, so that under load one
// insert and three index updates carry many messages (one row per message
// cost SQLite some 30 us of CPU and I/O each, more than routing the
// message). Columns: id, owner, archive, peer, first_at, last_at, n (the
// entries in the chunk), entries (the encoding below). A chunk spans less
// than MaxSpan, so a chunk holding entries at or after t starts at or
// after t - MaxSpan: chunks of an owner overlap (one per peer), and
// reading them in first_at order, a query knows when no later chunk can
// hold an earlier entry.

// MaxSpan bounds the time between a chunk's first and last entries.
const MaxSpan = time.Second

// Chunk limits: entries and bytes of one row.
const (
	maxChunkEntries = 512
	maxChunkBytes   = 256 << 10
)

// Chunk is one row of the history table.
type Chunk struct {
	ID                   int64 // set when read
	Owner, Archive, Peer string
	First, Last          time.Time
	N                    int
	Entries              []byte
	// Mirror (written only): the chunk is Peer's too, with Owner as its
	// peer; it is stored once, under Owner, and Peer's row refers to it.
	Mirror bool
}

// Chunks groups entries (in time order per owner, as a Writer gives
// them) into chunks by owner, archive and peer. The chunks' encodings
// share one buffer, reused by the next call once done is called (after
// the chunks are written: a batch's worth of memory is not cleared and
// collected per write).
func Chunks(entries []storage.Entry) (chunks []Chunk, done func()) {
	type key struct {
		owner, archive, peer string
		mirror               bool
	}
	type open struct { // of out[i], in lists[i]
		head, tail int32 // its entries, linked through next
		size       int   // their payload bytes
	}
	opened := make(map[key]int, 64) // the chunk of key still filling
	next := make([]int32, len(entries))
	var out []Chunk
	var lists []open
	for i, e := range entries {
		next[i] = -1
		k := key{e.Owner, e.Archive, e.Peer, e.Mirror}
		if e.Mirror && k.peer < k.owner {
			k.owner, k.peer = k.peer, k.owner // both directions of a conversation in one chunk
		}
		if c, ok := opened[k]; ok {
			ch, o := &out[c], &lists[c]
			if ch.N < maxChunkEntries && o.size+len(e.Payload) < maxChunkBytes && e.Time.Sub(ch.First) < MaxSpan && !e.Time.Before(ch.Last) {
				ch.N++
				ch.Last = e.Time
				next[o.tail] = int32(i)
				o.tail = int32(i)
				o.size += len(e.Payload)
				continue
			}
		}
		opened[k] = len(out)
		out = append(out, Chunk{Owner: k.owner, Archive: e.Archive, Peer: k.peer, First: e.Time, Last: e.Time, N: 1, Mirror: e.Mirror})
		lists = append(lists, open{head: int32(i), tail: int32(i), size: len(e.Payload)})
	}
	size := 0
	for c := range out {
		if out[c].N > 1 {
			size += lists[c].size + out[c].N*2*binary.MaxVarintLen64
		}
	}
	bp := encodeBufs.Get().(*[]byte)
	if cap(*bp) < size {
		*bp = make([]byte, 0, size)
	}
	buf := (*bp)[:0]
	for c := range out {
		if out[c].N == 1 {
			out[c].Entries = entries[lists[c].head].Payload
			continue
		}
		start := len(buf)
		buf = encodeEntries(buf, out[c].First, entries, next, lists[c].head)
		out[c].Entries = buf[start:len(buf):len(buf)]
	}
	return out, func() {
		if cap(*bp) <= maxEncodeBuf {
			encodeBufs.Put(bp)
		}
	}
}

// encodeBufs are Chunks' buffers; one larger than maxEncodeBuf is let go.
var encodeBufs = sync.Pool{New: func() any { return new([]byte) }}

const maxEncodeBuf = 64 << 20

// encodeEntries appends the encoding of the entries head and those
// linked from it through next to b, or, for one entry, returns b and the
// caller takes the payload as it is (so a row of the archive table moves
// here unchanged). More are, each, the microseconds after first
// (uvarint), the payload's length (uvarint) and the payload.
func encodeEntries(b []byte, first time.Time, entries []storage.Entry, next []int32, head int32) []byte {
	for i := head; i >= 0; i = next[i] {
		b = binary.AppendUvarint(b, uint64(entries[i].Time.Sub(first)/time.Microsecond))
		b = binary.AppendUvarint(b, uint64(len(entries[i].Payload)))
		b = append(b, entries[i].Payload...)
	}
	return b
}

var errChunk = errors.New("storage: malformed history chunk")

// Decode returns the chunk's entries, in time order.
func (c *Chunk) Decode() ([]storage.Entry, error) {
	if c.N == 1 {
		return []storage.Entry{{Owner: c.Owner, Archive: c.Archive, Peer: c.Peer, Time: c.First, Payload: c.Entries}}, nil
	}
	if c.N < 1 {
		return nil, errChunk
	}
	// Each entry takes at least two bytes: a row that claims more (a
	// damaged one) allocates no more than its bytes can hold.
	out := make([]storage.Entry, 0, min(c.N, len(c.Entries)/2))
	b := c.Entries
	for len(b) > 0 {
		us, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errChunk
		}
		b = b[n:]
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return nil, errChunk
		}
		b = b[n:]
		out = append(out, storage.Entry{Owner: c.Owner, Archive: c.Archive, Peer: c.Peer,
			Time: c.First.Add(time.Duration(us) * time.Microsecond), Payload: b[:l:l]})
		b = b[l:]
	}
	if len(out) != c.N {
		return nil, errChunk
	}
	return out, nil
}

// HistoryStatements are the history statements of a dialect.
type HistoryStatements struct {
	Insert string // owner, archive, peer, first_at, last_at, n, entries
	// InsertRef is a mirror's row, whose entries are those of row ref:
	// owner, archive, peer, first_at, last_at, n, entries (empty), ref.
	InsertRef    string
	DeleteOwner  string // owner, archive
	DeleteAll    string // owner
	ExpireBefore string // archive, at
	ExpireKeep   string // archive, keep
	// KeepOwner, KeepAll and KeepExpired run before DeleteOwner,
	// DeleteAll and ExpireKeep, with their arguments: the rows that refer
	// to rows about to go get a copy of the entries. (ExpireBefore needs
	// none: a row and its mirror have the same last_at.)
	KeepOwner, KeepAll, KeepExpired string
	// Latest is the newest last_at of an archive: archive.
	Latest string
	// SumAll and SumPeer count the entries of the first chunks wholly
	// inside a time range (the last with Desc): owner, archive, [peer,]
	// start, end, end, limit; columns SUM(n), COUNT(*), MIN(first_at),
	// MAX(first_at).
	SumAll, SumPeer, SumAllDesc, SumPeerDesc string
}

// SumArgs is the Sum statement for a peer ("": every peer) and order,
// with its arguments but the times (start, end, end) and limit.
func (h *HistoryStatements) SumArgs(owner, archive, peer string, desc bool) (string, []any) {
	args := []any{owner, archive}
	if peer != "" {
		args = append(args, peer)
	}
	switch {
	case peer == "" && !desc:
		return h.SumAll, args
	case peer == "":
		return h.SumAllDesc, args
	case !desc:
		return h.SumPeer, args
	}
	return h.SumPeerDesc, args
}

// sumFirst is a Sum statement. first_at <= end is implied by last_at <=
// end, but the index has first_at only: without it a range ending early
// scanned the rest of the archive.
func sumFirst(peer, desc bool) string {
	q := `SELECT COALESCE(SUM(n), 0), COUNT(*), MIN(first_at), MAX(first_at) FROM (SELECT n, first_at FROM history
	WHERE owner = ? AND archive = ?`
	if peer {
		q += ` AND peer = ?`
	}
	q += ` AND first_at >= ? AND first_at <= ? AND last_at <= ? ORDER BY first_at`
	if desc {
		q += ` DESC`
	}
	return q + ` LIMIT ?) AS q`
}

// keepRefs is the UPDATE that gives the rows referring to the rows of
// sel (a SELECT of ids) their own copy of the entries.
func keepRefs(sel string) string {
	return `UPDATE history SET entries = (SELECT r.entries FROM history r WHERE r.id = history.ref), ref = NULL WHERE ref IN (` + sel + `)`
}

// entriesColumn reads a row's entries, its own or its referent's (which
// must be its mirror: a referent gone would read as NULL, an error,
// never as another chunk that took its id).
const entriesColumn = `CASE WHEN ref IS NULL THEN entries ELSE (SELECT r.entries FROM history r WHERE r.id = history.ref
	AND r.owner = history.peer AND r.peer = history.owner AND r.archive = history.archive AND r.first_at = history.first_at) END`

// History builds the statements of d.
func (d Dialect) History() *HistoryStatements {
	// A chunk goes when the entries newer than it already make keep.
	expiredKeep := `SELECT id FROM (
	SELECT id, SUM(n) OVER (PARTITION BY owner ORDER BY first_at DESC, id DESC) - n AS newer FROM history WHERE archive = ?) AS q
	WHERE newer >= ?`
	return &HistoryStatements{
		Insert:       d.Bind(`INSERT INTO history (owner, archive, peer, first_at, last_at, n, entries) VALUES (?, ?, ?, ?, ?, ?, ?)`),
		InsertRef:    d.Bind(`INSERT INTO history (owner, archive, peer, first_at, last_at, n, entries, ref) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`),
		DeleteOwner:  d.Bind(`DELETE FROM history WHERE owner = ? AND archive = ?`),
		DeleteAll:    d.Bind(`DELETE FROM history WHERE owner = ?`),
		ExpireBefore: d.Bind(`DELETE FROM history WHERE archive = ? AND last_at < ?`),
		ExpireKeep:   d.Bind(`DELETE FROM history WHERE id IN (` + expiredKeep + `)`),
		KeepOwner:    d.Bind(keepRefs(`SELECT id FROM history WHERE owner = ? AND archive = ?`)),
		KeepAll:      d.Bind(keepRefs(`SELECT id FROM history WHERE owner = ?`)),
		KeepExpired:  d.Bind(keepRefs(expiredKeep)),
		Latest:       d.Bind(`SELECT MAX(last_at) FROM history WHERE archive = ?`),
		SumAll:       d.Bind(sumFirst(false, false)),
		SumPeer:      d.Bind(sumFirst(true, false)),
		SumAllDesc:   d.Bind(sumFirst(false, true)),
		SumPeerDesc:  d.Bind(sumFirst(true, true)),
	}
}

// HistoryRange is a read of chunks: those of owner's archive (and peer,
// if set) starting from From to To (inclusive), in first_at order
// (descending if Desc), past the cursor (CursorAt, CursorID) if Cursor.
type HistoryRange struct {
	Owner, Archive, Peer string
	From, To             time.Time
	Desc                 bool
	Cursor               bool
	CursorAt             time.Time
	CursorID             int64
	Limit                int
}

// HistorySelect builds the SELECT of r: columns id, peer, first_at, last_at, n,
// entries.
func (d Dialect) HistorySelect(r HistoryRange) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT id, peer, first_at, last_at, n, ` + entriesColumn + ` FROM history`)
	if d.IndexedBy {
		if r.Peer != "" {
			b.WriteString(` INDEXED BY history_peer`)
		} else {
			b.WriteString(` INDEXED BY history_owner`)
		}
	}
	b.WriteString(` WHERE owner = ? AND archive = ?`)
	args := []any{r.Owner, r.Archive}
	if r.Peer != "" {
		b.WriteString(` AND peer = ?`)
		args = append(args, r.Peer)
	}
	b.WriteString(` AND first_at >= ? AND first_at <= ?`)
	args = append(args, d.Time(r.From), d.Time(r.To))
	if r.Cursor {
		if r.Desc {
			b.WriteString(` AND (first_at, id) < (?, ?)`)
		} else {
			b.WriteString(` AND (first_at, id) > (?, ?)`)
		}
		args = append(args, d.Time(r.CursorAt), r.CursorID)
	}
	if r.Desc {
		b.WriteString(` ORDER BY first_at DESC, id DESC`)
	} else {
		b.WriteString(` ORDER BY first_at, id`)
	}
	b.WriteString(` LIMIT ?`)
	args = append(args, r.Limit)
	return d.Bind(b.String()), args
}

// Fetch reads the chunks of a range (a backend's HistorySelect).
type Fetch func(ctx context.Context, r HistoryRange) ([]Chunk, error)

// Sum counts the entries of the chunks wholly in [start, end], of the
// first limit chunks there by first time at most (the last limit if
// desc).
type Sum func(ctx context.Context, owner, archive, peer string, start, end time.Time, limit int, desc bool) (SumResult, error)

// SumResult is what a Sum read: the entries and chunks counted, and the
// first times of the oldest and newest of those chunks.
type SumResult struct {
	N, Rows     int
	First, Last time.Time
}

// countRows bounds the chunks a count reads (a few milliseconds: half
// from each end of the range); past them the count is an estimate (XEP-0059 §2.1 allows one "if
// determining the exact number would be resource-intensive"): a busy
// user's archive of ten million messages would take seconds to count on
// every page.
const countRows = 20_000

// Times far enough out to mean "no bound" in every backend.
var (
	minTime = time.Date(1, 1, 2, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 30, 0, 0, 0, 0, time.UTC)
)

// fetchRows is how many chunks one read asks for.
const fetchRows = 64

// HistoryQuery answers q (Start, End, Peer, Times, Max, Last, Offset,
// CountOnly; ids are times) on owner's archive through a backend's reads.
func HistoryQuery(ctx context.Context, fetch Fetch, sum Sum, owner, archive string, q storage.Query) (storage.Page, error) {
	if q.AfterID != "" || q.BeforeID != "" || len(q.IDs) > 0 {
		return storage.Page{}, fmt.Errorf("storage: a history query names entries by time, not by id")
	}
	if len(q.Times) > storage.MaxQueryIDs {
		return storage.Page{}, fmt.Errorf("storage: %d times in one query (at most %d)", len(q.Times), storage.MaxQueryIDs)
	}
	// Times are kept to the microsecond (PostgreSQL): bounds rounded
	// inwards to it, so that the database and the chunks' decoded times
	// agree on what is inside.
	start, end := q.Start, q.End.Truncate(time.Microsecond)
	if t := start.Truncate(time.Microsecond); t.Before(start) {
		start = t.Add(time.Microsecond)
	}
	if start.IsZero() || start.Before(minTime) {
		start = minTime
	}
	if end.IsZero() || end.After(maxTime) {
		end = maxTime
	}
	if len(q.Times) > 0 {
		return historyTimes(ctx, fetch, owner, archive, q, start, end)
	}
	if q.CountOnly {
		if q.Match != nil {
			return storage.Page{}, fmt.Errorf("storage: a history count does not take Match")
		}
		n, err := historyCount(ctx, fetch, sum, owner, archive, q.Peer, start, end)
		return storage.Page{Count: n}, err
	}
	need := -1 // all
	if q.Max > 0 {
		need = q.Offset + q.Max + 1 // one more tells whether the page is complete
	}
	got, err := historyScan(ctx, fetch, HistoryRange{Owner: owner, Archive: archive, Peer: q.Peer, Desc: q.Last}, start, end, need, q.Match)
	if err != nil {
		return storage.Page{}, err
	}
	if cut := q.Offset + q.Max; q.Max > 1 && cut < len(got) {
		// A page does not end inside a run of entries of one microsecond
		// (two nodes of a cluster may each give an owner's entry that
		// time): the next page, after the last id, would skip the rest of
		// the run. It ends before the run, unless the run fills it.
		c := cut
		for c > q.Offset+1 && got[c-1].Time.Equal(got[c].Time) {
			c--
		}
		if !got[c-1].Time.Equal(got[c].Time) {
			q.Max = c - q.Offset
		}
	}
	return pageOf(got, q), nil
}

// pageOf cuts the page of q from got (in paging order): Offset, Max,
// then ascending order.
func pageOf(got []storage.Entry, q storage.Query) storage.Page {
	got = got[min(q.Offset, len(got)):]
	p := storage.Page{Complete: true}
	if q.Max > 0 && len(got) > q.Max {
		got, p.Complete = got[:q.Max], false
	}
	if q.Last {
		slices.Reverse(got)
	}
	p.Entries = got
	return p
}

// historyScan returns the entries in [start, end] that match accepts
// (all if nil) in paging order (descending if r.Desc), at least need of
// them if there are (all if need < 0): it reads chunks in first_at order
// until no further chunk can hold an entry that sorts before the need-th
// gathered.
func historyScan(ctx context.Context, fetch Fetch, r HistoryRange, start, end time.Time, need int, match func(storage.Entry) bool) ([]storage.Entry, error) {
	r.From, r.To, r.Limit = start.Add(-MaxSpan), end, fetchRows
	if r.From.Before(minTime) {
		r.From = minTime
	}
	before := func(a, b storage.Entry) int { // paging order
		if r.Desc {
			return b.Time.Compare(a.Time)
		}
		return a.Time.Compare(b.Time)
	}
	var got []storage.Entry
	scanned := 0
	for {
		rows, err := fetch(ctx, r)
		if err != nil {
			return nil, err
		}
		for i := range rows {
			c := &rows[i]
			if need >= 0 && len(got) >= need {
				// Sorted: got[need-1] is the need-th. A chunk starting
				// after it (ascending), or ending before it (descending:
				// a chunk ends within MaxSpan of its start), holds none
				// that comes earlier.
				edge := got[need-1].Time
				if !r.Desc && c.First.After(edge) || r.Desc && c.First.Add(MaxSpan).Before(edge) {
					return got[:need], nil
				}
			}
			es, err := c.Decode()
			if err != nil {
				return nil, fmt.Errorf("%w (chunk %d of %s)", err, c.ID, r.Owner)
			}
			// What this chunk and the later ones hold comes after the
			// entries before settled (ascending: none is earlier than
			// this chunk's start; descending: none later than its end):
			// only the tail is sorted again, not everything gathered
			// (which made an RSM index quadratic).
			settled := len(got)
			if r.Desc {
				for settled > 0 && !got[settled-1].Time.After(c.First.Add(MaxSpan)) {
					settled--
				}
			} else {
				for settled > 0 && !got[settled-1].Time.Before(c.First) {
					settled--
				}
			}
			n := len(got)
			for _, e := range es {
				if e.Time.Before(start) || e.Time.After(end) {
					continue
				}
				if match != nil {
					if scanned++; scanned > storage.MaxMatchScan {
						return nil, storage.ErrTooBroad
					}
					if !match(e) {
						continue
					}
				}
				got = append(got, e)
			}
			if len(got) > n {
				slices.SortStableFunc(got[settled:], before)
				if need >= 0 && len(got) > need {
					got = got[:need] // later chunks can only push these out
				}
			}
			r.Cursor, r.CursorAt, r.CursorID = true, c.First, c.ID
		}
		if len(rows) < r.Limit {
			break
		}
	}
	if need >= 0 && len(got) > need {
		got = got[:need]
	}
	return got, nil
}

// historyCount: the chunks wholly inside by SUM, the few at the edges
// (starting within MaxSpan before start, or ending after end) decoded.
func historyCount(ctx context.Context, fetch Fetch, sum Sum, owner, archive, peer string, start, end time.Time) (int, error) {
	n, err := sumChunks(ctx, sum, owner, archive, peer, start, end)
	if err != nil {
		return 0, err
	}
	r := HistoryRange{Owner: owner, Archive: archive, Peer: peer, From: start.Add(-MaxSpan), To: start, Limit: fetchRows}
	if r.From.Before(minTime) {
		r.From = minTime
	}
	edges := []HistoryRange{r}
	if end.Before(maxTime) {
		e := r
		e.From, e.To = end.Add(-MaxSpan), end
		edges = append(edges, e)
	}
	seen := map[int64]bool{}
	for _, r := range edges {
		for {
			rows, err := fetch(ctx, r)
			if err != nil {
				return 0, err
			}
			for i := range rows {
				c := &rows[i]
				r.Cursor, r.CursorAt, r.CursorID = true, c.First, c.ID
				inside := !c.First.Before(start) && !c.Last.After(end)
				if inside || seen[c.ID] {
					continue // counted by SUM, or already here
				}
				seen[c.ID] = true
				es, err := c.Decode()
				if err != nil {
					return 0, err
				}
				for _, e := range es {
					if !e.Time.Before(start) && !e.Time.After(end) {
						n++
					}
				}
			}
			if len(rows) < r.Limit {
				break
			}
		}
	}
	return n, nil
}

// sumChunks counts the entries of the chunks wholly in [start, end]:
// exactly up to countRows chunks; past them, the oldest and the newest
// countRows/2 exactly, and the time between at a mean of their densities
// (an estimate: XEP-0059 allows one).
func sumChunks(ctx context.Context, sum Sum, owner, archive, peer string, start, end time.Time) (int, error) {
	half := countRows / 2
	old, err := sum(ctx, owner, archive, peer, start, end, half+1, false)
	if err != nil || old.Rows <= half {
		return old.N, err
	}
	recent, err := sum(ctx, owner, archive, peer, start, end, half+1, true)
	if err != nil {
		return 0, err
	}
	if !recent.First.After(old.Last) {
		// The two overlap: few enough to count.
		all, err := sum(ctx, owner, archive, peer, start, end, 2*half+2, false)
		return all.N, err
	}
	density := func(r SumResult) float64 { // entries per second
		if d := r.Last.Sub(r.First).Seconds(); d > 0 {
			return float64(r.N) / d
		}
		return 0
	}
	// The geometric mean: an archive's density changes by orders of
	// magnitude (quiet years, busy weeks), and either end alone can be
	// far off for the time between.
	gap := recent.First.Sub(old.Last).Seconds() * math.Sqrt(density(old)*density(recent))
	return old.N + recent.N + int(min(gap, 1<<40)), nil
}

// historyTimes: the entries at the given times (each found in the chunks
// starting within MaxSpan before it), with the other terms of q.
func historyTimes(ctx context.Context, fetch Fetch, owner, archive string, q storage.Query, start, end time.Time) (storage.Page, error) {
	times := slices.SortedFunc(slices.Values(q.Times), time.Time.Compare)
	times = slices.CompactFunc(times, time.Time.Equal)
	var got []storage.Entry
	for _, t := range times {
		if t.Before(start) || t.After(end) {
			continue
		}
		es, err := historyScan(ctx, fetch, HistoryRange{Owner: owner, Archive: archive, Peer: q.Peer}, t, t, -1, q.Match)
		if err != nil {
			return storage.Page{}, err
		}
		got = append(got, es...)
	}
	if q.CountOnly {
		return storage.Page{Count: len(got)}, nil
	}
	slices.SortStableFunc(got, func(a, b storage.Entry) int { return cmp.Compare(a.Time.UnixMicro(), b.Time.UnixMicro()) })
	if q.Last {
		slices.Reverse(got)
	}
	return pageOf(got, q), nil
}
