package migration

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
)

// Migration is one schema migration file.
type Migration struct {
	Version int    // from the file name, 1 for the first
	Name    string // file name, e.g. 0001_init.sql
	SQL     string // file contents
}

// ParseName returns the version of a file named NNNN_what.sql
// (digits, underscore, a description, .sql).
func ParseName(name string) (int, error) {
	base, ok := strings.CutSuffix(name, ".sql")
	if !ok {
		return 0, fmt.Errorf("migration %q: name must end in .sql", name)
	}
	digits, desc, ok := strings.Cut(base, "_")
	if !ok || desc == "" || digits == "" {
		return 0, fmt.Errorf("migration %q: name must be NNNN_description.sql", name)
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("migration %q: version %q is not a decimal number", name, digits)
		}
	}
	v, err := strconv.Atoi(digits)
	if err != nil || v <= 0 {
		return 0, fmt.Errorf("migration %q: version must be a positive number", name)
	}
	return v, nil
}

// Load reads dir of fsys, sorted by version. Versions must run 1, 2, 3...
// without gaps or duplicates, so a missing file fails the build's tests
// instead of a production upgrade. Subdirectories are skipped.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	var ms []Migration
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		v, err := ParseName(e.Name())
		if err != nil {
			return nil, err
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, err
		}
		ms = append(ms, Migration{Version: v, Name: e.Name(), SQL: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].Version < ms[j].Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migration %q: expected version %d (versions must be contiguous from 1)", m.Name, i+1)
		}
	}
	return ms, nil
}
