package sasl

import (
	"bytes"
	"strings"
	"testing"
)

func TestNewUser(t *testing.T) {
	u, err := NewUser("Example.COM", "Juliet", "pass\u00a0word")
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "juliet" || u.Domain != "example.com" || u.Created.IsZero() {
		t.Errorf("user = %q@%q created %v", u.Username, u.Domain, u.Created)
	}
	creds := []struct {
		name string
		h    *scramHash
	}{{"SHA-1", hashSHA1}, {"SHA-256", hashSHA256}, {"SHA-512", hashSHA512}}
	var salts [][]byte
	for _, c := range creds {
		sc := *c.h.cred(&u)
		if len(sc.Salt) < 16 || sc.Iters != 4096 || len(sc.StoredKey) != c.h.size || len(sc.ServerKey) != c.h.size {
			t.Errorf("%s credential: salt %d bytes, %d iterations, keys %d/%d", c.name, len(sc.Salt), sc.Iters, len(sc.StoredKey), len(sc.ServerKey))
		}
		// The stored key is the one SASLprep'ed password gives.
		d, err := deriveCredential(c.h, "pass word", sc.Salt, sc.Iters)
		if err != nil || !bytes.Equal(d.StoredKey, sc.StoredKey) || !bytes.Equal(d.ServerKey, sc.ServerKey) {
			t.Errorf("%s credential does not match the prepared password", c.name)
		}
		salts = append(salts, sc.Salt)
	}
	if bytes.Equal(salts[0], salts[1]) || bytes.Equal(salts[1], salts[2]) {
		t.Errorf("salts are shared between hashes")
	}
	u2, _ := NewUser("example.com", "juliet", "pass word")
	if bytes.Equal(u2.SHA256.Salt, u.SHA256.Salt) {
		t.Errorf("two users got the same salt")
	}
}

func TestNewUserErrors(t *testing.T) {
	const secret = "hunter2\u0007"
	for _, tc := range []struct{ domain, user, pass, wantInErr string }{
		{"example.com", "juliet", "", "empty"},
		{"example.com", "juliet", secret, "SASLprep"}, // control character
		{"example.com", "juliet", "\u00ad", "empty"},  // maps to nothing
		{"example.com", "jul iet", "Zq9-pw", "localpart"},
		{"example.com", "a@b", "Zq9-pw", "localpart"},
		{"exa mple.com", "juliet", "Zq9-pw", "domain"},
	} {
		_, err := NewUser(tc.domain, tc.user, tc.pass)
		if err == nil || !strings.Contains(err.Error(), tc.wantInErr) {
			t.Errorf("NewUser(%q, %q, %q) = %v; want an error about %s", tc.domain, tc.user, tc.pass, err, tc.wantInErr)
		}
		if err != nil && tc.pass != "" && strings.Contains(err.Error(), tc.pass) {
			t.Errorf("error %q contains the password", err)
		}
	}
}
