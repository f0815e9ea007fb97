package storagetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var directCertTests = []test{
	{"PutListRemove", func(t *testing.T, s storage.Store) {
		d := newDomain(t)
		a, b := newOwner(t, d), newOwner(t, d)
		at := time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC) // microseconds: PostgreSQL's precision
		put := func(owner, sum string, der, key []byte, added time.Time) {
			t.Helper()
			must(t, s.DirectCerts().PutCert(ctx(t), storage.DirectCert{Address: owner, SHA256: sum, DER: der, Key: key, Added: added}))
		}
		put(a, "aa01", []byte{1}, []byte("sealed"), at)
		put(a, "bb02", []byte{2}, nil, at.Add(time.Second))
		put(b, "cc03", []byte{3}, nil, at)
		put(d, "dd04", []byte{4}, nil, at)                              // domain-bound
		put(a, "aa01", []byte{9}, []byte("sealed2"), at.Add(time.Hour)) // same digest: replaced, keeps its place
		got, err := s.DirectCerts().Certs(ctx(t), a)
		must(t, err)
		if len(got) != 2 || got[0].SHA256 != "aa01" || !bytes.Equal(got[0].DER, []byte{9}) || string(got[0].Key) != "sealed2" ||
			got[1].Key != nil || !got[0].Added.Equal(at) {
			t.Fatalf("Certs(a) = %+v", got)
		}
		all, err := s.DirectCerts().DomainCerts(ctx(t), d)
		must(t, err)
		if len(all) != 4 {
			t.Fatalf("DomainCerts = %d rows; want 4 (three addresses' and the domain's)", len(all))
		}
		n, err := s.DirectCerts().RemoveCert(ctx(t), a, "b")
		must(t, err)
		if n != 1 {
			t.Fatalf("RemoveCert(a, b) = %d; want 1", n)
		}
		for _, bad := range []string{"%", "_", "A"} { // no wildcard, no case folding
			if n, err := s.DirectCerts().RemoveCert(ctx(t), a, bad); err != nil || n != 0 {
				t.Fatalf("RemoveCert(a, %q) = %d, %v; want 0", bad, n, err)
			}
		}
		n, err = s.DirectCerts().RemoveCert(ctx(t), a, "")
		must(t, err)
		if n != 1 {
			t.Fatalf("RemoveCert(a, all) = %d; want 1", n)
		}
		if got, _ := s.DirectCerts().Certs(ctx(t), b); len(got) != 1 {
			t.Fatalf("b's certificate went with a's: %+v", got)
		}
	}},
}
