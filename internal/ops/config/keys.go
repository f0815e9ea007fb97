package config

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// SealingKey reads the key [keys] names: the file's bytes, or the
// environment variable's; hex or base64 text is decoded. nil, nil when
// neither is set (the server's secret is used then).
func (c *Config) SealingKey() ([]byte, error) {
	k := c.Keys
	switch {
	case k.File != "" && k.Env != "":
		return nil, fmt.Errorf("keys: set file or env, not both")
	case k.File != "":
		st, err := os.Stat(k.File)
		if err != nil {
			return nil, fmt.Errorf("keys.file %s: %w (make one: head -c 32 /dev/urandom > %s; chmod 600 %s)", k.File, err, k.File, k.File)
		}
		if st.Mode().Perm()&0o077 != 0 {
			return nil, fmt.Errorf("keys.file %s is readable by others (mode %o): chmod 600 %s", k.File, st.Mode().Perm(), k.File)
		}
		b, err := os.ReadFile(k.File)
		if err != nil {
			return nil, fmt.Errorf("keys.file %s: %w", k.File, err)
		}
		return sealingBytes("keys.file "+k.File, b)
	case k.Env != "":
		v, ok := os.LookupEnv(k.Env)
		if !ok {
			return nil, fmt.Errorf("keys.env: the environment variable %s is not set (export %s=$(head -c 32 /dev/urandom | base64) where tern runs)", k.Env, k.Env)
		}
		return sealingBytes("keys.env "+k.Env, []byte(v))
	}
	return nil, nil
}

// sealingBytes decodes hex or base64 text; raw bytes count only when they
// are not text (a passphrase is no key); at least 32 are needed.
func sealingBytes(what string, b []byte) ([]byte, error) {
	t := strings.TrimSpace(string(b))
	out := []byte(nil)
	if d, err := hex.DecodeString(t); err == nil {
		out = d
	} else if d, err := base64.StdEncoding.DecodeString(t); err == nil {
		out = d
	} else if !printable(b) {
		out = b
	} else {
		return nil, fmt.Errorf("%s is text that is neither hex nor base64: the sealing key is 32 random bytes, not a passphrase (head -c 32 /dev/urandom | base64)", what)
	}
	if len(out) < 32 {
		return nil, fmt.Errorf("%s holds %d bytes; the sealing key needs at least 32 random bytes (head -c 32 /dev/urandom | base64)", what, len(out))
	}
	return out, nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if (c < 0x20 && c != '\n' && c != '\r' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}
