package postgres

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseMigrationName(t *testing.T) {
	for _, c := range []struct {
		name string
		want int // 0: error
	}{
		{"0001_init.sql", 1},
		{"12_add_mam.sql", 12},
		{"0001_init.SQL", 0},
		{"0001.sql", 0},
		{"0001_.sql", 0},
		{"_init.sql", 0},
		{"00x1_init.sql", 0},
		{"-1_init.sql", 0},
		{"0000_zero.sql", 0},
		{"99999999999999999999_big.sql", 0},
	} {
		got, err := parseMigrationName(c.name)
		if (err != nil) != (c.want == 0) || got != c.want {
			t.Errorf("parseMigrationName(%q) = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

func TestLoadMigrationsRejectsGaps(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/01_b.sql": {}},
		"bad name":  {"m/init.sql": {}},
	} {
		if _, err := loadMigrations(fsys, "m"); err == nil {
			t.Errorf("%s: loadMigrations succeeded, want an error", name)
		}
	}
	ms, err := loadMigrations(fstest.MapFS{"m/0002_b.sql": {Data: []byte("B")}, "m/0001_a.sql": {Data: []byte("A")}}, "m")
	if err != nil || len(ms) != 2 || ms[0].sql != "A" || ms[1].version != 2 {
		t.Errorf("loadMigrations = %+v, %v; want versions 1, 2 in order", ms, err)
	}
}

func TestEmbeddedMigrationsLoad(t *testing.T) {
	ms, err := loadMigrations(migrationFiles, "migrations")
	if err != nil || len(ms) == 0 {
		t.Fatalf("embedded migrations: %v (%d files)", err, len(ms))
	}
}

func FuzzParseMigrationName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "1_a.sql", "x.sql", "_.sql", "0_a.sql", "9999999999999999999_a.sql", "1_a.sql.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := parseMigrationName(name)
		if err != nil {
			return
		}
		if v <= 0 || !strings.HasSuffix(name, ".sql") || !strings.Contains(name, "_") {
			t.Fatalf("parseMigrationName(%q) = %d accepted a bad name", name, v)
		}
	})
}
