package schema

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Dialect is what differs between the backends in the shared statements.
type Dialect struct {
	// Dollar numbers placeholders $1, $2... (PostgreSQL) instead of ?.
	Dollar bool
	// Time converts a time to the column representation of at.
	Time func(time.Time) any
	// IndexedBy names the index of a query SQLite's planner picks wrongly
	// without statistics (SQLite's INDEXED BY).
	IndexedBy bool
}

// Bind rewrites the placeholders of q for d: ? (the next argument) and ?N
// (argument N, both dialects accept it once rewritten) become $n and $N.
// A statement uses one style or the other, and the shared statements hold
// no ? inside literals, so a plain scan is enough.
func (d Dialect) Bind(q string) string {
	if !d.Dollar {
		return q
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		if q[i] != '?' {
			b.WriteByte(q[i])
			continue
		}
		b.WriteByte('$')
		if i+1 < len(q) && q[i+1] >= '0' && q[i+1] <= '9' {
			continue // ?N: keep N
		}
		n++
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}

// OwnerTable is a table holding per-user data: rows whose Columns hold
// the owner's bare JID.
type OwnerTable struct {
	Name    string
	Columns []string
	// Scopes, if set, split the wipe into one statement per WHERE term,
	// so each uses one of the table's partial indexes.
	Scopes []string
}

// OwnerTables are wiped by DeleteUser, in this order (roster_groups
// before roster_items, which it references).
var OwnerTables = []OwnerTable{
	{"roster_groups", []string{"owner"}, nil},
	{"roster_items", []string{"owner"}, nil},
	{"roster_versions", []string{"owner"}, nil},
	{"pending_in", []string{"owner"}, nil},
	{"archive", []string{"owner"}, Scopes},
	{"history", []string{"owner"}, nil},
	{"vcards", []string{"owner"}, nil},
	{"blocklist", []string{"owner"}, nil},
	{"last_activity", []string{"owner"}, nil},
	{"private_xml", []string{"owner"}, nil},
	{"tracking", []string{"owner"}, nil},
	{"direct_certs", []string{"owner"}, nil},
}

// keepFirst are statements run before a table's wipe, with the owner's
// arguments: what other owners' rows need of the rows about to go.
var keepFirst = map[string]Delete{
	// A recipient's archive row may refer to its sender's (history.go).
	"history": {keepRefs(`SELECT id FROM history WHERE owner = ?`), 1},
}

// NotOwned are the tables that hold no per-owner rows, and why. Every
// table must be in OwnerTables or here (see CheckOwnerTables).
var NotOwned = map[string]string{
	"users":          "the account itself, deleted by key (domain, username)",
	"schema_version": "migration bookkeeping",
	"roster_seq":     "SQLite's global roster version counter",
}

// ownerColumns are column names that hold an owner's JID.
var ownerColumns = []string{"owner"}

// Delete is one statement of DeleteOwner.
type Delete struct {
	SQL  string
	cols int
}

// Args returns the arguments of the statement for owner.
func (d Delete) Args(owner string) []any {
	a := make([]any, d.cols)
	for i := range a {
		a[i] = owner
	}
	return a
}

// DeleteOwner returns the statements that wipe owner's rows from every
// owner table.
func DeleteOwner(d Dialect) []Delete {
	var out []Delete
	for _, t := range OwnerTables {
		var conds []string
		for _, c := range t.Columns {
			conds = append(conds, c+" = ?")
		}
		where := "(" + strings.Join(conds, " OR ") + ")"
		if k, ok := keepFirst[t.Name]; ok {
			out = append(out, Delete{d.Bind(k.SQL), k.cols})
		}
		if len(t.Scopes) == 0 {
			out = append(out, Delete{d.Bind("DELETE FROM " + t.Name + " WHERE " + where), len(t.Columns)})
		}
		for _, sc := range t.Scopes {
			out = append(out, Delete{d.Bind("DELETE FROM " + t.Name + " WHERE " + where + sc), len(t.Columns)})
		}
	}
	return out
}

// CheckOwnerTables compares the catalog (table name -> column names, as a
// backend lists it) with OwnerTables: every table must be classified, a
// table with an owner column must be an owner table, and every listed
// owner table and column must exist.
func CheckOwnerTables(catalog map[string][]string) error {
	var problems []string
	owned := map[string]OwnerTable{}
	for _, t := range OwnerTables {
		owned[t.Name] = t
		cols, ok := catalog[t.Name]
		if !ok {
			problems = append(problems, fmt.Sprintf("owner table %s does not exist", t.Name))
			continue
		}
		for _, c := range t.Columns {
			if !slices.Contains(cols, c) {
				problems = append(problems, fmt.Sprintf("owner table %s has no column %s", t.Name, c))
			}
		}
	}
	names := make([]string, 0, len(catalog))
	for n := range catalog {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		t, isOwned := owned[n]
		_, isNot := NotOwned[n]
		switch {
		case !isOwned && !isNot:
			problems = append(problems, fmt.Sprintf("table %s is in neither schema.OwnerTables (account deletion wipes it) nor schema.NotOwned", n))
		case isNot:
			for _, c := range catalog[n] {
				if slices.Contains(ownerColumns, c) {
					problems = append(problems, fmt.Sprintf("table %s has per-user column %s but is listed as not owned: account deletion would leave its rows", n, c))
				}
			}
		default:
			for _, c := range catalog[n] {
				if slices.Contains(ownerColumns, c) && !slices.Contains(t.Columns, c) {
					problems = append(problems, fmt.Sprintf("owner table %s: column %s is not wiped by account deletion", n, c))
				}
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("schema.OwnerTables does not match the database:\n\t%s", strings.Join(problems, "\n\t"))
	}
	return nil
}
