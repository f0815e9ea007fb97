package config

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSealingKey: the key from a file (raw, hex, base64; never one others
// can read) or from the environment; each problem named with its fix.
func TestSealingKey(t *testing.T) {
	dir := t.TempDir()
	raw := bytes.Repeat([]byte{7}, 32)
	file := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, b, mode)
		os.Chmod(p, mode)
		return p
	}
	for _, c := range []struct {
		name string
		keys Keys
		want string // "" ok
	}{
		{"raw file", Keys{File: file("raw", raw, 0o600)}, ""},
		{"hex file", Keys{File: file("hex", []byte(hex.EncodeToString(raw)+"\n"), 0o600)}, ""},
		{"base64 file", Keys{File: file("b64", []byte(base64.StdEncoding.EncodeToString(raw)), 0o400)}, ""},
		{"readable by others", Keys{File: file("open", raw, 0o644)}, "chmod 600"},
		{"passphrase", Keys{File: file("pass", []byte("correct horse battery staple, a long passphrase\n"), 0o600)}, "not a passphrase"},
		{"short hex", Keys{File: file("short", []byte(strings.Repeat("ab", 16)), 0o600)}, "at least 32"},
		{"missing", Keys{File: filepath.Join(dir, "none")}, "head -c 32 /dev/urandom"},
		{"env", Keys{Env: "TERN_TEST_SEALING_KEY"}, ""},
		{"env unset", Keys{Env: "TERN_TEST_SEALING_KEY_UNSET"}, "is not set"},
		{"both", Keys{File: "a", Env: "b"}, "not both"},
	} {
		t.Setenv("TERN_TEST_SEALING_KEY", base64.StdEncoding.EncodeToString(raw))
		cfg := &Config{Keys: c.keys}
		k, err := cfg.SealingKey()
		switch {
		case c.want == "" && (err != nil || !bytes.Equal(k, raw)):
			t.Errorf("%s: %x, %v; want the 32 bytes", c.name, k, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v; want an error saying %q", c.name, err, c.want)
		}
	}
	if k, err := (&Config{}).SealingKey(); k != nil || err != nil {
		t.Errorf("nothing configured: %x %v; want nil (the server's secret)", k, err)
	}
}
