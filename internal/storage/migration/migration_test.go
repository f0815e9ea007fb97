package migration

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestParseName(t *testing.T) {
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
		got, err := ParseName(c.name)
		if (err != nil) != (c.want == 0) || got != c.want {
			t.Errorf("ParseName(%q) = %d, %v; want %d", c.name, got, err, c.want)
		}
	}
}

func TestLoadRejectsGaps(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"gap":       {"m/0001_a.sql": {}, "m/0003_c.sql": {}},
		"duplicate": {"m/0001_a.sql": {}, "m/01_b.sql": {}},
		"bad name":  {"m/init.sql": {}},
	} {
		if _, err := Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded, want an error", name)
		}
	}
	ms, err := Load(fstest.MapFS{"m/0002_b.sql": {Data: []byte("B")}, "m/0001_a.sql": {Data: []byte("A")}}, "m")
	if err != nil || len(ms) != 2 || ms[0].SQL != "A" || ms[1].Version != 2 {
		t.Errorf("Load = %+v, %v; want versions 1, 2 in order", ms, err)
	}
}

func FuzzParseName(f *testing.F) {
	for _, s := range []string{"0001_init.sql", "1_a.sql", "x.sql", "_.sql", "0_a.sql", "9999999999999999999_a.sql", "1_a.sql.sql"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		v, err := ParseName(name)
		if err != nil {
			return
		}
		if v <= 0 || !strings.HasSuffix(name, ".sql") || !strings.Contains(name, "_") {
			t.Fatalf("ParseName(%q) = %d accepted a bad name", name, v)
		}
	})
}
