package storagetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
)

// Run runs the suite. open is called once per subtest and returns a store
// ready for use; Run closes it when the subtest ends. Subtests use fresh
// domains and owners, so open may return stores on one shared database.
func Run(t *testing.T, open func(t *testing.T) storage.Store) {
	groups := []struct {
		name  string
		tests []test
	}{
		{"Users", userTests},
		{"Roster", rosterTests},
		{"Offline", offlineTests},
		{"Archive", archiveTests},
		{"History", historyTests},
		{"VCards", vcardTests},
		{"Blocking", blockingTests},
		{"LastActivity", lastTests},
		{"PrivateXML", privateTests},
		{"Tracking", trackingTests},
		{"DirectCerts", directCertTests},
		{"DeleteUser", deleteTests},
		{"Isolation", isolationTests},
		{"Concurrency", concurrencyTests},
		{"Context", contextTests},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					s := open(t)
					t.Cleanup(func() {
						if err := s.Close(); err != nil {
							t.Errorf("Close: %v", err)
						}
					})
					tc.fn(t, s)
				})
			}
		})
	}
}

type test struct {
	name string
	fn   func(t *testing.T, s storage.Store)
}

// unique returns a fresh random token, so tests sharing a database never
// see each other's rows.
func unique(t *testing.T) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func newDomain(t *testing.T) string { return "d" + unique(t) + ".example" }

func newOwner(t *testing.T, domain string) string { return "u" + unique(t) + "@" + domain }

func ctx(t *testing.T) context.Context { return t.Context() }

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("%s: got error %v, want %v", what, err, want)
	}
}

// ver parses a roster version, which the contract renders as a decimal.
func ver(t *testing.T, v string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		t.Fatalf("roster version %q is not a decimal number: %v", v, err)
	}
	return n
}
