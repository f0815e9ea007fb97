package schema

import (
	"fmt"
	"strings"

	"github.com/tern-xmpp/tern/internal/storage"
)

// The archive table: id (row id, ascending in commit order), owner,
// archive, at, peer, payload. The offline archive, the hot path of a busy
// server, has indexes of its own, so each of its appends updates one
// index keyed by (owner, id) alone, as before the archive existed: a key
// compared on one column (the quota count walks it on every append) is
// markedly cheaper in SQLite than one of two. The other archives have
// (owner, archive, id) for paging, quota and deletes, (owner, archive,
// at) for time ranges and (archive, at) for retention; the offline
// archive, bounded by its quota and never queried by time, has none of
// the time indexes. All of them are partial indexes (see the 0003
// migrations), and a query uses a partial index only if it repeats the
// index's WHERE term: every statement adds Scope(archive). The other
// archives also have (owner, archive, peer, id) for peer filters (a
// pending Direct message by its key, MAM's "with"); offline peer filters
// scan the owner's archive.

// The WHERE terms of the partial indexes.
const (
	scopeOffline = ` AND archive = '` + storage.ArchiveOffline + `'`
	scopeOther   = ` AND archive <> '` + storage.ArchiveOffline + `'`
)

// Scope returns the term a statement on archive adds so that it uses the
// archive's partial indexes.
func Scope(archive string) string {
	if archive == storage.ArchiveOffline {
		return scopeOffline
	}
	return scopeOther
}

// Every statement compares archive with CAST(? AS TEXT), never a bare ?:
// SQLite's planner matches a bare parameter against the constant in the
// WHERE of a partial index (archive = 'offline') using its bound value,
// which makes every new binding re-prepare the statement (it cost the
// offline appends two fifths of their rate). A cast is not a parameter to
// the planner, and the Scope term picks the index instead.

// Scopes are the terms that together cover every archive: a statement on
// an owner's entries of all archives runs once per term.
var Scopes = []string{scopeOffline, scopeOther}

// ArchiveStatements are the statements on one scope (the offline archive,
// or all others), bound for a dialect.
type ArchiveStatements struct {
	// Insert appends one entry unless the quota is reached: owner,
	// archive, at, peer, payload, quota (numbered, so each is bound once).
	// A row not inserted means the quota was full.
	Insert string
	// Count counts an owner's archive: owner, archive.
	Count string
	// DeleteUpTo: owner, archive, id.
	DeleteUpTo string
	// DeleteOwner: owner, archive.
	DeleteOwner string
	// ExpireBefore deletes entries older than a time: archive, at.
	ExpireBefore string
	// ExpireKeep removes all but the newest N of each owner: archive, N.
	ExpireKeep string
}

func (d Dialect) archiveStatements(scope string) *ArchiveStatements {
	return &ArchiveStatements{
		Insert: d.Bind(`INSERT INTO archive (owner, archive, at, peer, payload) SELECT ?1, ?2, ?3, ?4, ?5
	WHERE ?6 <= 0 OR (SELECT count(*) FROM (SELECT 1 FROM archive WHERE owner = ?1 AND archive = CAST(?2 AS TEXT)` + scope + ` LIMIT ?6) AS q) < ?6`),
		Count:        d.Bind(`SELECT count(*) FROM archive WHERE owner = ? AND archive = CAST(? AS TEXT)` + scope),
		DeleteUpTo:   d.Bind(`DELETE FROM archive WHERE owner = ? AND archive = CAST(? AS TEXT)` + scope + ` AND id <= ?`),
		DeleteOwner:  d.Bind(`DELETE FROM archive WHERE owner = ? AND archive = CAST(? AS TEXT)` + scope),
		ExpireBefore: d.Bind(`DELETE FROM archive WHERE archive = CAST(? AS TEXT)` + scope + ` AND at < ?`),
		ExpireKeep: d.Bind(`DELETE FROM archive WHERE id IN (SELECT id FROM (
	SELECT id, row_number() OVER (PARTITION BY owner ORDER BY id DESC) AS rn FROM archive WHERE archive = CAST(? AS TEXT)` + scope + `) AS q
	WHERE rn > ?)`),
	}
}

// Archive holds the archive statements of a dialect, built once.
type Archive struct {
	offline, other *ArchiveStatements
	// DeleteOwnerAll delete an owner's entries of every archive, one
	// statement per scope: owner.
	DeleteOwnerAll []string
}

// Archive builds the archive statements of d.
func (d Dialect) Archive() *Archive {
	a := &Archive{offline: d.archiveStatements(scopeOffline), other: d.archiveStatements(scopeOther)}
	for _, sc := range Scopes {
		a.DeleteOwnerAll = append(a.DeleteOwnerAll, d.Bind(`DELETE FROM archive WHERE owner = ?`+sc))
	}
	return a
}

// For returns the statements on archive.
func (a *Archive) For(archive string) *ArchiveStatements {
	if archive == storage.ArchiveOffline {
		return a.offline
	}
	return a.other
}

// maxIDs bounds the ids of one DELETE ... IN (...) statement, below
// SQLite's default limit of bound parameters.
const maxIDs = 500

// ArchiveDeleteIDs returns the statements (with their arguments) that
// delete the given row ids of owner's archive.
func (d Dialect) ArchiveDeleteIDs(owner, archive string, ids []int64) (stmts []string, args [][]any) {
	for len(ids) > 0 {
		n := min(len(ids), maxIDs)
		a := []any{owner, archive}
		for _, id := range ids[:n] {
			a = append(a, id)
		}
		q := `DELETE FROM archive WHERE owner = ? AND archive = CAST(? AS TEXT)` + Scope(archive) + ` AND id IN (?` + strings.Repeat(", ?", n-1) + `)`
		stmts, args = append(stmts, d.Bind(q)), append(args, a)
		ids = ids[n:]
	}
	return stmts, args
}

// ArchiveQuery builds the SELECT for q: columns id, at, peer, payload, in
// the paging order (descending for q.Last), one row more than q.Max so the
// caller can tell whether the page is complete. It returns
// storage.ErrNotFound for a malformed id.
func (d Dialect) ArchiveQuery(owner, archive string, q storage.Query) (string, []any, error) {
	var b strings.Builder
	b.WriteString(`SELECT id, at, peer, payload FROM archive`)
	if d.IndexedBy && q.ByTime && q.Peer != "" && archive != storage.ArchiveOffline {
		// One conversation of a large archive by time: with a time bound
		// too, SQLite would walk the owner's whole time index instead.
		b.WriteString(` INDEXED BY archive_owner_peer_at`)
	}
	b.WriteString(` WHERE owner = ? AND archive = CAST(? AS TEXT)`)
	b.WriteString(Scope(archive))
	args := []any{owner, archive}
	for _, c := range []struct {
		id, cond string
	}{{q.AfterID, " AND id > ?"}, {q.BeforeID, " AND id < ?"}} {
		if c.id == "" {
			continue
		}
		n, err := storage.DecodeID(c.id)
		if err != nil {
			return "", nil, storage.ErrNotFound
		}
		b.WriteString(c.cond)
		args = append(args, n)
	}
	if !q.Start.IsZero() {
		b.WriteString(" AND at >= ?")
		args = append(args, d.Time(q.Start))
	}
	if !q.End.IsZero() {
		b.WriteString(" AND at <= ?")
		args = append(args, d.Time(q.End))
	}
	if q.Peer != "" {
		b.WriteString(" AND peer = ?")
		args = append(args, q.Peer)
	}
	if len(q.IDs) > storage.MaxQueryIDs {
		return "", nil, fmt.Errorf("storage: %d ids in one query (at most %d)", len(q.IDs), storage.MaxQueryIDs)
	}
	if len(q.Times) > storage.MaxQueryIDs {
		return "", nil, fmt.Errorf("storage: %d times in one query (at most %d)", len(q.Times), storage.MaxQueryIDs)
	}
	if len(q.Times) > 0 {
		b.WriteString(" AND at IN (?" + strings.Repeat(", ?", len(q.Times)-1) + ")")
		for _, t := range q.Times {
			args = append(args, d.Time(t))
		}
	}
	if len(q.IDs) > 0 {
		b.WriteString(" AND id IN (?" + strings.Repeat(", ?", len(q.IDs)-1) + ")")
		for _, id := range q.IDs {
			n, err := storage.DecodeID(id)
			if err != nil {
				return "", nil, storage.ErrNotFound
			}
			args = append(args, n)
		}
	}
	if q.CountOnly {
		return d.Bind(strings.Replace(b.String(), "SELECT id, at, peer, payload FROM", "SELECT COUNT(*) FROM", 1)), args, nil
	}
	switch {
	case q.ByTime && q.Last:
		b.WriteString(" ORDER BY at DESC, id DESC")
	case q.ByTime:
		b.WriteString(" ORDER BY at, id")
	case q.Last:
		b.WriteString(" ORDER BY id DESC")
	default:
		b.WriteString(" ORDER BY id")
	}
	if q.Max > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Max+1)
	} else if q.Offset > 0 && !d.Dollar {
		b.WriteString(" LIMIT -1") // SQLite has no OFFSET without a LIMIT
	}
	if q.Offset > 0 {
		b.WriteString(" OFFSET ?")
		args = append(args, q.Offset)
	}
	return d.Bind(b.String()), args, nil
}

// ArchivePage turns the rows of an ArchiveQuery (in paging order) into a
// page: at most q.Max entries, ascending (by ID, or by Time for ByTime),
// and whether it is complete.
func ArchivePage(rows []storage.Entry, q storage.Query) storage.Page {
	p := storage.Page{Complete: true}
	if q.Max > 0 && len(rows) > q.Max {
		rows, p.Complete = rows[:q.Max], false
	}
	if q.Last {
		for i, j := 0, len(rows)-1; i < j; i, j = i+1, j-1 {
			rows[i], rows[j] = rows[j], rows[i]
		}
	}
	p.Entries = rows
	return p
}
