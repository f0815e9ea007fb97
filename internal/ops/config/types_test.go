package config

import (
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/BurntSushi/toml"
)

func TestTypeErrors(t *testing.T) {
	tests := []struct{ name, toml, want string }{
		{"string for list", "[c2s]\nlisten = \"0.0.0.0:5222\"\n",
			`line 2: c2s.listen must be a list of addresses, e.g. ["0.0.0.0:5222"] (it is the string "0.0.0.0:5222")`},
		{"int for string", "[storage]\nbackend = 1\n",
			`line 2: storage.backend must be one of the strings "sqlite", "postgres", e.g. "sqlite" (it is the number 1)`},
		{"bool for int", "[limits]\nmax_depth = true\n",
			`line 2: limits.max_depth must be a whole number, e.g. 64 (it is true)`},
		{"float for int", "[s2s]\nqueue_max = 1.5\n",
			`line 2: s2s.queue_max must be a whole number, e.g. 1000 (it is the number 1.5)`},
		{"list of wrong element type", "[limits]\ntrusted_networks = [\"10.0.0.1\", 8]\n",
			`line 2: limits.trusted_networks must be a list of addresses and CIDR prefixes, e.g. ["192.0.2.7", "10.20.0.0/16"] (element 2 is the number 8)`},
		{"table for scalar", "[limits]\nmax_stanza_bytes = { bytes = 1 }\n",
			`line 2: limits.max_stanza_bytes must be a whole number, e.g. 262144 (it is a table)`},
		{"scalar for table", "c2s = 5\n",
			`line 1: c2s must be a table, e.g. [c2s] on a line of its own, then its keys (it is the number 5)`},
		{"duration without unit", "[limits]\nping_timeout = 30\n",
			`line 2: limits.ping_timeout must be a duration with a unit (ms, s, m, h), e.g. "1m0s" (it is the number 30)`},
		{"bad duration", "[limits]\nauth_timeout = \"soon\"\n",
			`line 2: limits.auth_timeout must be a duration with a unit (ms, s, m, h), e.g. "30s" ("soon" is not one)`},
		{"map value", "[s2s]\nroutes = { \"a.example\" = 5269 }\n",
			`line 2: s2s.routes must be a table of host:port addresses by domain, e.g. { "example.net" = "xmpp.example.net:5269" } ("a.example" is the number 5269)`},
		{"[domain] for [[domain]]", "[domain]\nname = \"a.example\"\n",
			`line 1: domain must be [[domain]] tables (double brackets, one per domain), e.g. [[domain]] on a line of its own, then name = "example.org" (it is a table)`},
		{"[[domain]] bool", "[[domain]]\nname = \"a.example\"\n[[domain]]\nname = \"b.example\"\nregistration = \"yes\"\n",
			`line 5: domain.registration must be true or false, e.g. false (it is the string "yes")`},
		{"[[domain]] list", "[[domain]]\nname = \"a.example\"\nadmins = \"admin@a.example\"\n",
			`line 3: domain.admins must be a list of bare JIDs, e.g. ["admin@example.org"] (it is the string "admin@a.example")`},
		{"[[domain]] name", "[[domain]]\nname = [\"a.example\"]\n",
			`line 2: domain.name must be a domain name, e.g. "example.org" (it is a list)`},
		{"[[domain]] contacts", "[[domain]]\nname = \"a.example\"\ncontacts = { admin = \"xmpp:a@a.example\" }\n",
			`line 3: domain.contacts must be a table of URI lists by kind, e.g. { admin = ["xmpp:admin@example.org"], abuse = ["mailto:abuse@example.org"] } (admin is the string "xmpp:a@a.example")`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml))
			if err == nil || err.Error() != tt.want {
				t.Errorf("Parse error\n got %v\nwant %s", err, tt.want)
			}
			if err != nil && strings.Contains(err.Error(), "incompatible types") {
				t.Errorf("the TOML library's words leaked: %v", err)
			}
		})
	}
}

// TestAllErrorsReported: one file, several mistakes (types and an unknown
// key), all reported at once in file order.
func TestAllErrorsReported(t *testing.T) {
	_, err := Parse([]byte("log_level = 1\n[c2s]\nlisten = \"0.0.0.0:5222\"\nrequire_startls = true\n[limits]\nmax_depth = \"deep\"\n"))
	if err == nil {
		t.Fatal("no error")
	}
	lines := strings.Split(err.Error(), "\n")
	want := []string{"line 1: log_level must be", "line 3: c2s.listen must be", `line 4: unknown key "c2s.require_startls": did you mean "c2s.require_starttls"?`, "line 6: limits.max_depth must be"}
	if len(lines) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("error %d = %q, want it to start with %q", i+1, lines[i], w)
		}
	}
}

func TestLoadFileError(t *testing.T) {
	path := t.TempDir() + "/tern.toml"
	writeTestFile(t, path, "log_level = 1\nlog_format = 2\nloglevel = 3\n")
	_, err := Load(path)
	fe, ok := err.(*FileError)
	if !ok || fe.Path != path || len(fe.Errs) != 3 {
		t.Fatalf("Load = %#v, want a *FileError with 3 errors", err)
	}
	if !strings.HasPrefix(err.Error(), "config "+path+" has 3 problems:\n  line 1: log_level") {
		t.Errorf("Error() = %q", err)
	}
	writeTestFile(t, path, "log_level = 1\n")
	if _, err := Load(path); err == nil || err.Error() != "config "+path+`: line 1: log_level must be one of the strings "debug", "info", "warn", "error", e.g. "info" (it is the number 1)` {
		t.Errorf("one problem: %v", err)
	}
}

// TestEveryKeyHasAnExample keeps hints and example.toml complete: a new
// key needs a non-empty value in example.toml or an eg hint.
func TestEveryKeyHasAnExample(t *testing.T) {
	known := map[string]bool{}
	var walk func(t2 reflect.Type, path toml.Key)
	walk = func(t2 reflect.Type, path toml.Key) {
		for i := 0; i < t2.NumField(); i++ {
			f := t2.Field(i)
			tag := f.Tag.Get("toml")
			if tag == "" || tag == "-" {
				continue
			}
			key := append(path[:len(path):len(path)], tag)
			known[key.String()] = true
			if exampleOf(key, f.Type) == "" {
				t.Errorf("%s has no example: give it a value in example.toml or an eg in hints", key)
			}
			ft := f.Type
			if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != durationType {
				walk(ft, key)
			}
		}
	}
	walk(reflect.TypeOf(Config{}), nil)
	for k := range hints {
		if !known[k] {
			t.Errorf("hints has %q, which is no key", k)
		}
	}
}

func writeTestFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}
