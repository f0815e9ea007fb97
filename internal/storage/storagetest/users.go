package storagetest

import (
	"bytes"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var userTests = []test{
	{"CreateGetRoundTrip", testCreateGet},
	{"CreatedDefaultsToNow", testCreatedDefault},
	{"CreateExistingIsConflict", testCreateConflict},
	{"GetMissingIsNotFound", testGetMissing},
	{"SetCredentials", testSetCredentials},
	{"ListSortedAndCount", testListUsers},
}

func cred(seed byte) storage.ScramCredential {
	return storage.ScramCredential{
		Salt:      []byte{seed, 0, 1, 2, 0xff},
		Iters:     4096 + int(seed),
		StoredKey: bytes.Repeat([]byte{seed + 1}, 20),
		ServerKey: bytes.Repeat([]byte{seed + 2}, 20),
	}
}

// newUser builds an account; Created has microsecond precision, the
// finest every backend keeps.
func newUser(domain, username string, seed byte) storage.User {
	return storage.User{
		Domain: domain, Username: username,
		SHA1: cred(seed), SHA256: cred(seed + 10), SHA512: cred(seed + 20),
		Created: time.Date(2026, 3, 4, 5, 6, 7, 123456000, time.FixedZone("X", 3600)),
	}
}

func sameCred(a, b storage.ScramCredential) bool {
	return bytes.Equal(a.Salt, b.Salt) && a.Iters == b.Iters &&
		bytes.Equal(a.StoredKey, b.StoredKey) && bytes.Equal(a.ServerKey, b.ServerKey)
}

func checkUser(t *testing.T, got, want storage.User) {
	t.Helper()
	if got.Domain != want.Domain || got.Username != want.Username {
		t.Errorf("user = %s@%s, want %s@%s", got.Username, got.Domain, want.Username, want.Domain)
	}
	for _, c := range []struct {
		name      string
		got, want storage.ScramCredential
	}{{"SHA-1", got.SHA1, want.SHA1}, {"SHA-256", got.SHA256, want.SHA256}, {"SHA-512", got.SHA512, want.SHA512}} {
		if !sameCred(c.got, c.want) {
			t.Errorf("%s credential = %+v, want %+v", c.name, c.got, c.want)
		}
	}
	if !got.Created.Equal(want.Created) {
		t.Errorf("Created = %v, want %v", got.Created, want.Created)
	}
}

func testCreateGet(t *testing.T, s storage.Store) {
	d := newDomain(t)
	u := newUser(d, "alice", 1)
	must(t, s.Users().CreateUser(ctx(t), u))
	got, err := s.Users().GetUser(ctx(t), d, "alice")
	must(t, err)
	checkUser(t, got, u)
	if got.Created.Location() != time.UTC {
		t.Errorf("Created location = %v, want UTC", got.Created.Location())
	}
}

func testCreatedDefault(t *testing.T, s storage.Store) {
	d := newDomain(t)
	u := newUser(d, "bob", 2)
	u.Created = time.Time{}
	must(t, s.Users().CreateUser(ctx(t), u))
	got, err := s.Users().GetUser(ctx(t), d, "bob")
	must(t, err)
	if got.Created.IsZero() {
		t.Error("Created is zero: a zero Created must be stored as the creation time")
	}
}

func testCreateConflict(t *testing.T, s storage.Store) {
	d := newDomain(t)
	u := newUser(d, "alice", 1)
	must(t, s.Users().CreateUser(ctx(t), u))
	err := s.Users().CreateUser(ctx(t), newUser(d, "alice", 50))
	wantErr(t, "CreateUser twice", err, storage.ErrConflict)
	got, err := s.Users().GetUser(ctx(t), d, "alice")
	must(t, err)
	checkUser(t, got, u) // the failed create changed nothing
}

func testGetMissing(t *testing.T, s storage.Store) {
	d := newDomain(t)
	must(t, s.Users().CreateUser(ctx(t), newUser(d, "alice", 1)))
	for _, c := range []struct{ domain, user string }{
		{d, "bob"},              // other name
		{newDomain(t), "alice"}, // same name, other domain
		{d, "Alice"},            // names are compared exactly; the caller case-maps
	} {
		_, err := s.Users().GetUser(ctx(t), c.domain, c.user)
		wantErr(t, "GetUser "+c.user+"@"+c.domain, err, storage.ErrNotFound)
	}
}

func testSetCredentials(t *testing.T, s storage.Store) {
	d := newDomain(t)
	u := newUser(d, "alice", 1)
	must(t, s.Users().CreateUser(ctx(t), u))
	changed := newUser(d, "alice", 77)
	changed.Created = time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC) // not part of a password change
	must(t, s.Users().SetCredentials(ctx(t), changed))
	got, err := s.Users().GetUser(ctx(t), d, "alice")
	must(t, err)
	want := changed
	want.Created = u.Created
	checkUser(t, got, want)

	err = s.Users().SetCredentials(ctx(t), newUser(d, "nobody", 3))
	wantErr(t, "SetCredentials of a missing account", err, storage.ErrNotFound)
	if _, err := s.Users().GetUser(ctx(t), d, "nobody"); err == nil {
		t.Error("SetCredentials created a missing account")
	}
}

func testListUsers(t *testing.T, s storage.Store) {
	d := newDomain(t)
	if n, err := s.Users().CountUsers(ctx(t), d); err != nil || n != 0 {
		t.Fatalf("CountUsers of an empty domain = %d, %v; want 0", n, err)
	}
	if l, err := s.Users().ListUsers(ctx(t), d); err != nil || len(l) != 0 {
		t.Fatalf("ListUsers of an empty domain = %q, %v; want none", l, err)
	}
	// Byte order, as Go sorts: a locale collation would put "Zed" after
	// "alice" and mishandle "ålex".
	names := []string{"zed", "alice", "Zed", "ålex", "bob", "al", "a.b", "_x", "0"}
	for i, n := range names {
		must(t, s.Users().CreateUser(ctx(t), newUser(d, n, byte(i))))
	}
	must(t, s.Users().CreateUser(ctx(t), newUser(newDomain(t), "other", 1)))
	want := slices.Clone(names)
	sort.Strings(want)
	got, err := s.Users().ListUsers(ctx(t), d)
	must(t, err)
	if !slices.Equal(got, want) {
		t.Errorf("ListUsers = %q, want %q", got, want)
	}
	n, err := s.Users().CountUsers(ctx(t), d)
	must(t, err)
	if n != len(names) {
		t.Errorf("CountUsers = %d, want %d", n, len(names))
	}
}
