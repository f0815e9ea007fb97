package schema

import (
	"strings"
	"testing"
)

func TestBind(t *testing.T) {
	q := `SELECT a FROM t WHERE b = ? AND c IN (?, ?)`
	if got := (Dialect{}).Bind(q); got != q {
		t.Errorf("SQLite Bind changed the query: %s", got)
	}
	if got, want := (Dialect{Dollar: true}).Bind(q), `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`; got != want {
		t.Errorf("Bind = %s, want %s", got, want)
	}
	if got, want := (Dialect{Dollar: true}).Bind(`SELECT ?1, ?2 WHERE a = ?1 LIMIT ?12`), `SELECT $1, $2 WHERE a = $1 LIMIT $12`; got != want {
		t.Errorf("Bind = %s, want %s", got, want)
	}
}

func TestCheckOwnerTables(t *testing.T) {
	good := map[string][]string{"users": {"domain", "username"}, "schema_version": {"version"}}
	for _, ot := range OwnerTables {
		good[ot.Name] = append([]string{"x"}, ot.Columns...)
	}
	if err := CheckOwnerTables(good); err != nil {
		t.Fatalf("a matching catalog: %v", err)
	}
	for name, mutate := range map[string]func(map[string][]string){
		"unlisted per-user table": func(c map[string][]string) { c["mam_prefs"] = []string{"owner", "mode"} },
		"unlisted table":          func(c map[string][]string) { c["stuff"] = []string{"k"} },
		"owner table gone":        func(c map[string][]string) { delete(c, "vcards") },
		"not-owned with owner":    func(c map[string][]string) { c["users"] = append(c["users"], "owner") },
	} {
		c := map[string][]string{}
		for k, v := range good {
			c[k] = append([]string(nil), v...)
		}
		mutate(c)
		if err := CheckOwnerTables(c); err == nil {
			t.Errorf("%s: CheckOwnerTables passed", name)
		} else if !strings.Contains(err.Error(), "OwnerTables") {
			t.Errorf("%s: error does not point at OwnerTables: %v", name, err)
		}
	}
}
