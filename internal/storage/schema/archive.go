package schema

import (
	"strings"

	"github.com/tern-xmpp/tern/internal/storage"
)

// The archive table: id (row id, ascending in commit order), owner,
// archive, at, peer, payload. Indexes (see the 0003 migrations):
// (owner, archive, id) for paging, quota and deletes, (owner, archive, at)
// for time ranges, (archive, at) for retention. Peer filters scan the
// owner's archive: an index per peer would tax every append.

// NotOffline is the WHERE term of the partial time indexes, which leave
// out the offline archive: its appends (the hot path of a busy server)
// then update one index instead of three, and it is small (bounded by its
// quota) and never queried by time. A query uses a partial index only if
// it repeats the term, so statements on another archive add it.
const NotOffline = ` AND archive <> '` + storage.ArchiveOffline + `'`

// byTime returns the NotOffline term for queries on archive that filter
// by time, "" for the offline archive.
func byTime(archive string) string {
	if archive == storage.ArchiveOffline {
		return ""
	}
	return NotOffline
}

// ArchiveInsert appends one entry unless the quota is reached. Arguments:
// owner, archive, at, peer, payload, quota (numbered, so each is bound
// once: this is the statement of every offline message). A row not
// inserted means the quota was full.
const ArchiveInsert = `INSERT INTO archive (owner, archive, at, peer, payload) SELECT ?1, ?2, ?3, ?4, ?5
	WHERE ?6 <= 0 OR (SELECT count(*) FROM (SELECT 1 FROM archive WHERE owner = ?1 AND archive = ?2 LIMIT ?6) AS q) < ?6`

// ArchiveCount counts an owner's archive: owner, archive.
const ArchiveCount = `SELECT count(*) FROM archive WHERE owner = ? AND archive = ?`

// ArchiveDeleteUpTo: owner, archive, id.
const ArchiveDeleteUpTo = `DELETE FROM archive WHERE owner = ? AND archive = ? AND id <= ?`

// ArchiveDeleteOwner: owner, archive; ArchiveDeleteOwnerAll: owner.
const (
	ArchiveDeleteOwner    = `DELETE FROM archive WHERE owner = ? AND archive = ?`
	ArchiveDeleteOwnerAll = `DELETE FROM archive WHERE owner = ?`
)

// ArchiveExpireBefore returns the statement deleting entries of archive
// older than a time: arguments archive, at.
func ArchiveExpireBefore(archive string) string {
	return `DELETE FROM archive WHERE archive = ? AND at < ?` + byTime(archive)
}

// ArchiveExpireKeep removes all but the newest N of each owner: archive, N.
const ArchiveExpireKeep = `DELETE FROM archive WHERE id IN (SELECT id FROM (
	SELECT id, row_number() OVER (PARTITION BY owner ORDER BY id DESC) AS rn FROM archive WHERE archive = ?) AS q
	WHERE rn > ?)`

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
		q := `DELETE FROM archive WHERE owner = ? AND archive = ? AND id IN (?` + strings.Repeat(", ?", n-1) + `)`
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
	b.WriteString(`SELECT id, at, peer, payload FROM archive WHERE owner = ? AND archive = ?`)
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
	if !q.Start.IsZero() || !q.End.IsZero() {
		b.WriteString(byTime(archive))
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
	if q.Last {
		b.WriteString(" ORDER BY id DESC")
	} else {
		b.WriteString(" ORDER BY id")
	}
	if q.Max > 0 {
		b.WriteString(" LIMIT ?")
		args = append(args, q.Max+1)
	}
	return d.Bind(b.String()), args, nil
}

// ArchivePage turns the rows of an ArchiveQuery (in paging order) into a
// page: at most q.Max entries, ascending, and whether it is complete.
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
