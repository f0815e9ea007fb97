package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/storage"
)

// tern runs the real CLI and returns the exit code, stdout and stderr.
func tern(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}

func TestHelp(t *testing.T) {
	for _, args := range [][]string{
		{"--help"}, {"-h"}, {"help"}, {"help", "serve"},
		{"serve", "--help"}, {"check", "-h"}, {"version", "--help"}, {"config", "--help"},
		{"user", "--help"}, {"user", "add", "--help"}, {"user", "del", "--help"},
		{"user", "passwd", "--help"}, {"user", "list", "--help"},
	} {
		code, out, _ := tern(t, "", args...)
		if code != 0 || !strings.Contains(out, "Usage: tern") && !strings.Contains(out, "Usage:\n  tern") {
			t.Errorf("tern %q = %d, stdout %q; want 0 and a usage", args, code, out)
		}
	}
	_, out, _ := tern(t, "", "serve", "--help")
	for _, w := range []string{"--config", "--data", "SIGHUP"} {
		if !strings.Contains(out, w) {
			t.Errorf("serve --help does not mention %s:\n%s", w, out)
		}
	}
}

func TestUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{nil, "Commands"},
		{[]string{"serv"}, `did you mean "serve"`},
		{[]string{"serve", "--bogus"}, "flag provided but not defined: -bogus"},
		{[]string{"serve", "extra"}, "unexpected argument"},
		{[]string{"user"}, "Usage: tern user"},
		{[]string{"user", "rename"}, "unknown subcommand"},
		{[]string{"user", "add", "--data", dir}, "missing the account"},
		{[]string{"user", "add", "a@localhost", "b@localhost", "--data", dir}, "too many arguments"},
		// Not a terminal and no --password-file: cannot prompt.
		{[]string{"user", "add", "alice@localhost", "--data", dir}, "--password-file"},
		{[]string{"config"}, "Usage: tern config"},
		{[]string{"config", "print"}, "unknown subcommand"},
		{[]string{"check", "x"}, "unexpected argument"},
		{[]string{"version", "x"}, "unexpected argument"},
	} {
		code, _, errOut := tern(t, "", tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("tern %q = %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := tern(t, "", "version")
	if code != 0 || !strings.Contains(out, "go: go1.") || !strings.Contains(out, "commit: ") {
		t.Errorf("version = %d %q", code, out)
	}
}

func TestConfigExample(t *testing.T) {
	code, out, _ := tern(t, "", "config", "example")
	// The example is the core settings then every registered module's section.
	if want := string(config.Example()) + config.ExampleSections(); code != 0 || out != want {
		t.Fatalf("config example = %d, output differs from config.Example()+ExampleSections()", code)
	}
	if !strings.Contains(out, "[vcard]") || !strings.Contains(out, "[privatexml]") {
		t.Errorf("config example lacks the module sections:\n%s", out)
	}
	if _, err := config.Parse([]byte(out)); err != nil {
		t.Errorf("config example does not load: %v", err)
	}
	// show round-trips through Load.
	code, out, errOut := tern(t, "", "config", "show", "--data", "/srv/tern")
	if code != 0 {
		t.Fatalf("config show = %d %s", code, errOut)
	}
	c, err := config.Parse([]byte(out))
	if err != nil {
		t.Fatalf("config show output does not load: %v\n%s", err, out)
	}
	if c.DataDir != "/srv/tern" || c.Limits.AuthTimeout != config.Default().Limits.AuthTimeout {
		t.Errorf("config show = %+v", c)
	}
}

func writeConfig(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tern.toml")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestServe(t *testing.T) {
	var got *config.Config
	serverRun = func(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
		got = cfg
		return nil
	}
	old := serverRun
	t.Cleanup(func() { serverRun = old })
	dir := filepath.Join(t.TempDir(), "data")
	exe, _ := os.Executable()
	code, out, errOut := tern(t, "", "serve", "--data", dir)
	if code != 0 {
		t.Fatalf("serve = %d: %s", code, errOut)
	}
	if got == nil || got.DataDir != dir || got.DomainNames()[0] != "localhost" {
		t.Fatalf("server.Run got %+v", got)
	}
	for _, w := range []string{
		"serving localhost",
		"127.0.0.1:5222 (STARTTLS), 127.0.0.1:5223 (direct TLS)",
		"cert localhost: " + filepath.Join(dir, "certs", "localhost.crt") + " (self-signed",
		// Run by go test, the binary is where go run's are too: the hint is
		// "go run ./cmd/tern user add ..." (README); TestSelfCommand has the cases.
		"add a user: " + selfCommand(os.Args[0], exe) + " user add --data " + dir + " alice@localhost\n",
	} {
		if !strings.Contains(out, w) {
			t.Errorf("banner lacks %q:\n%s", w, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "certs", "localhost.key")); err != nil {
		t.Errorf("no generated key: %v", err)
	}
	if !strings.Contains(errOut, "self-signed") {
		t.Errorf("no warning about the generated certificate in the log:\n%s", errOut)
	}

	// A configuration with problems: exit 1, each problem named.
	bad := writeConfig(t, "log_level = \"loud\"\n[storage]\nbackend = \"mysql\"\n")
	code, _, errOut = tern(t, "", "serve", "--config", bad, "--data", dir)
	if code != 1 || !strings.Contains(errOut, "log_level") || !strings.Contains(errOut, `"mysql"`) {
		t.Errorf("serve with bad config = %d:\n%s", code, errOut)
	}
	typo := writeConfig(t, "[c2s]\nrequire_startls = true\n")
	code, _, errOut = tern(t, "", "serve", "--config", typo)
	if code != 1 || !strings.Contains(errOut, `line 2: unknown key "c2s.require_startls": did you mean "c2s.require_starttls"?`) {
		t.Errorf("serve with typo = %d:\n%s", code, errOut)
	}
	types := writeConfig(t, "[c2s]\nlisten = \"0.0.0.0:5222\"\nrequire_startls = true\n[limits]\nmax_depth = \"64\"\n")
	code, _, errOut = tern(t, "", "serve", "--config", types)
	if code != 1 || !strings.Contains(errOut, "has 3 problems:\n  line 2: c2s.listen must be a list of addresses, e.g. [\"0.0.0.0:5222\"]") ||
		!strings.Contains(errOut, "\n  line 3: unknown key") || !strings.Contains(errOut, "\n  line 5: limits.max_depth must be a whole number, e.g. 64") {
		t.Errorf("serve with type errors = %d:\n%s", code, errOut)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "[c2s]\nlisten = [\"127.0.0.1:0\"]\nlisten_tls = []\n[http]\nlisten = \"\"\n")
	code, out, errOut := tern(t, "", "check", "--config", cfg, "--data", dir, "--no-dns")
	if code != 0 || !strings.HasSuffix(out, "0 errors, 0 warnings\n") {
		t.Errorf("check = %d:\n%s%s", code, out, errOut)
	}
	bad := writeConfig(t, "[limits]\nmax_depth = 0\n")
	code, out, _ = tern(t, "", "check", "--config", bad, "--data", dir, "--no-dns")
	if code != 1 || !strings.Contains(out, "limits.max_depth") || !strings.Contains(out, "1 error, 0 warnings") {
		t.Errorf("check bad = %d:\n%s", code, out)
	}
	typo := writeConfig(t, "loglevel = \"x\"\n")
	if code, out, _ = tern(t, "", "check", "--config", typo); code != 1 || !strings.Contains(out, `"loglevel"`) {
		t.Errorf("check typo = %d:\n%s", code, out)
	}
	// Every problem of the file is its own check line.
	three := writeConfig(t, "loglevel = \"x\"\n[c2s]\nlisten = \"0.0.0.0:5222\"\n[limits]\nmax_depth = true\n")
	code, out, _ = tern(t, "", "check", "--config", three)
	if code != 1 || !strings.Contains(out, "error config: "+three+": line 3: c2s.listen must be a list of addresses") ||
		!strings.Contains(out, "line 5: limits.max_depth must be a whole number") || !strings.HasSuffix(out, "3 errors, 0 warnings\n") {
		t.Errorf("check with three problems = %d:\n%s", code, out)
	}
}

func TestUserLifecycle(t *testing.T) {
	dir := t.TempDir()
	d := []string{"--data", dir}
	step := func(stdin string, wantCode int, want string, args ...string) {
		t.Helper()
		code, out, errOut := tern(t, stdin, append(args, d...)...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Errorf("tern %q = %d\nstdout: %s\nstderr: %s\nwant %d and %q", args, code, out, errOut, wantCode, want)
		}
	}
	step("s3cret-pw\n", 0, "created alice@localhost", "user", "add", "alice@localhost", "--password-file", "-")
	step("s3cret-pw\n", 0, "created bob@localhost", "user", "add", "--password-file", "-", "Bob@LOCALHOST")
	step("s3cret-pw\n", 1, "already exists", "user", "add", "alice@localhost", "--password-file", "-")
	step("s3cret-pw\n", 1, "not a configured domain", "user", "add", "carol@example.org", "--password-file", "-")
	step("s3cret-pw\n", 1, "not a bare JID", "user", "add", "carol@localhost/phone", "--password-file", "-")
	step("s3cret-pw\n", 1, "not a bare JID", "user", "add", "localhost", "--password-file", "-")
	step("\n", 1, "empty", "user", "add", "carol@localhost", "--password-file", "-")
	step("secret\n", 1, "tern: password too short: at least 8 characters (limits.min_password_length)\n", "user", "add", "carol@localhost", "--password-file", "-")
	step("", 0, "alice@localhost\nbob@localhost\n", "user", "list")
	step("", 0, "alice@localhost", "user", "list", "localhost")
	step("", 1, "not a configured domain", "user", "list", "example.org")

	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("n3w-pass\r\n"), 0o600)
	before := storedUser(t, dir, "alice")
	step("", 0, "changed the password of alice@localhost", "user", "passwd", "alice@localhost", "--password-file", pw)
	after := storedUser(t, dir, "alice")
	if bytes.Equal(before.SHA256.StoredKey, after.SHA256.StoredKey) || !after.Created.Equal(before.Created) {
		t.Errorf("passwd: credentials not replaced or creation time lost: %+v -> %+v", before, after)
	}
	step("", 1, "no account carol@localhost", "user", "passwd", "carol@localhost", "--password-file", pw)
	os.WriteFile(pw, []byte("short\n"), 0o600)
	step("", 1, "password too short: at least 8 characters", "user", "passwd", "alice@localhost", "--password-file", pw)
	if now := storedUser(t, dir, "alice"); !bytes.Equal(now.SHA256.StoredKey, after.SHA256.StoredKey) {
		t.Errorf("a refused password changed the credentials")
	}

	step("n\n", 1, "not deleted", "user", "del", "alice@localhost")
	step("", 0, "alice@localhost", "user", "list")
	step("y\n", 0, "deleted alice@localhost", "user", "del", "alice@localhost")
	step("", 0, "deleted bob@localhost", "user", "del", "--yes", "bob@localhost")
	step("", 1, "no account alice@localhost", "user", "del", "--yes", "alice@localhost")
	if code, out, _ := tern(t, "", append([]string{"user", "list"}, d...)...); code != 0 || out != "" {
		t.Errorf("list after deletes = %d %q", code, out)
	}
}

// TestMinPasswordLength: limits.min_password_length counts characters after
// SASLprep, not bytes, and a configured minimum replaces the default.
func TestMinPasswordLength(t *testing.T) {
	dir := t.TempDir()
	cfg := writeConfig(t, "[limits]\nmin_password_length = 4\n")
	for i, tt := range []struct {
		pw   string
		code int
		want string
	}{
		{"abc", 1, "password too short: at least 4 characters (limits.min_password_length)"},
		{"ab\u00adc", 1, "password too short"}, // the soft hyphen maps to nothing
		{"éèêë", 0, "created"},                 // 8 bytes, 4 characters
	} {
		user := fmt.Sprintf("u%d@localhost", i)
		code, out, errOut := tern(t, tt.pw+"\n", "user", "add", user, "--password-file", "-", "--config", cfg, "--data", dir)
		if code != tt.code || !strings.Contains(out+errOut, tt.want) {
			t.Errorf("user add with %q = %d %s%s; want %d and %q", tt.pw, code, out, errOut, tt.code, tt.want)
		}
	}
}

// TestConfigShowHidesSecrets: the effective configuration hides the
// storage password (the only secret a configuration holds: keys and
// certificates are paths) in either DSN form.
func TestConfigShowHidesSecrets(t *testing.T) {
	for _, dsn := range []string{"postgres://tern:s3cret-pw@db.example/tern", "host=db.example user=tern password=s3cret-pw"} {
		cfg := writeConfig(t, fmt.Sprintf("[storage]\nbackend = \"postgres\"\ndsn = %q\n", dsn))
		code, out, errOut := tern(t, "", "config", "show", "--config", cfg)
		if code != 0 || strings.Contains(out, "s3cret") || !strings.Contains(out, "xxxxx") || !strings.Contains(out, "db.example") {
			t.Errorf("config show with dsn %q = %d:\n%s%s", dsn, code, out, errOut)
		}
	}
}

func storedUser(t *testing.T, dir, name string) storage.User {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir = dir
	st, err := openStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	u, err := st.Users().GetUser(context.Background(), "localhost", name)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestRedactDSN(t *testing.T) {
	for in, want := range map[string]string{
		"":                                       "",
		"postgres://tern:s3cret@db/tern":         "postgres://tern:xxxxx@db/tern",
		"postgres://db/tern?password=s3cret":     "postgres://db/tern?password=xxxxx",
		"host=db user=tern password=s3cret":      "host=db user=tern password=xxxxx",
		"host=db password='s3 cret' dbname=tern": "host=db password=xxxxx dbname=tern",
		// Passwords a URL parser would not find (unescaped '@', '/', ' ', '%').
		"postgresql://tern:p@ss/w0rd@db:5432/tern?sslmode=disable": "postgresql://tern:xxxxx@db:5432/tern?sslmode=disable",
		"postgres://tern:s3 cret@db/tern":                          "postgres://tern:xxxxx@db/tern",
		"postgres://tern:s3%cret@[::1]:5432/tern":                  "postgres://tern:xxxxx@[::1]:5432/tern",
		"postgres://tern:s3cret@h1,h2/tern":                        "postgres://tern:xxxxx@h1,h2/tern",
		"postgres://tern@db/tern":                                  "postgres://tern@db/tern",
		"postgres://db/tern?sslpassword=k3y&password=s3cret":       "postgres://db/tern?sslpassword=xxxxx&password=xxxxx",
		"host=db sslpassword=k3y PASSWORD = s3cret":                "host=db sslpassword=xxxxx PASSWORD = xxxxx",
		`host=db password='it\'s s3cret' user=tern`:                `host=db password=xxxxx user=tern`,
		"host=db password='unterminated s3cret":                    "host=db password=xxxxx",
	} {
		if got := redactDSN(in); got != want {
			t.Errorf("redactDSN(%q) = %q, want %q", in, got, want)
		}
	}
}
