package storagetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var offlineTests = []test{
	{"ArrivalOrder", testOfflineOrder},
	{"FetchLimit", testOfflineLimit},
	{"DeleteUpTo", testOfflineDelete},
	{"LateArrivalSurvivesDelete", testOfflineLateArrival},
	{"Quota", testOfflineQuota},
	{"BinaryStanzaExact", testOfflineBinary},
}

func storeN(t *testing.T, s storage.Store, owner string, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		b := fmt.Appendf(nil, "<message to='%s' id='m%d'><body>%d</body></message>", owner, i, i)
		must(t, s.Offline().Store(ctx(t), owner, b, 0))
		out = append(out, b)
	}
	return out
}

func checkMessages(t *testing.T, got []storage.OfflineMessage, want [][]byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d messages, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Stanza, want[i]) {
			t.Errorf("message %d = %q, want %q", i, got[i].Stanza, want[i])
		}
		if i > 0 && got[i].ID <= got[i-1].ID {
			t.Errorf("message %d has ID %d, not above the previous %d", i, got[i].ID, got[i-1].ID)
		}
	}
}

func testOfflineOrder(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	if n, err := s.Offline().Count(ctx(t), o); err != nil || n != 0 {
		t.Fatalf("Count of a new owner = %d, %v; want 0", n, err)
	}
	want := storeN(t, s, o, 10)
	got, err := s.Offline().Fetch(ctx(t), o, 0)
	must(t, err)
	checkMessages(t, got, want)
	for i, m := range got {
		if m.Stored.IsZero() || m.Stored.Location() != time.UTC {
			t.Errorf("message %d Stored = %v, want a UTC time", i, m.Stored)
		}
	}
	n, err := s.Offline().Count(ctx(t), o)
	must(t, err)
	if n != 10 {
		t.Errorf("Count = %d, want 10", n)
	}
}

func testOfflineLimit(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	want := storeN(t, s, o, 5)
	got, err := s.Offline().Fetch(ctx(t), o, 3)
	must(t, err)
	checkMessages(t, got, want[:3])
	got, err = s.Offline().Fetch(ctx(t), o, 50)
	must(t, err)
	checkMessages(t, got, want)
}

func testOfflineDelete(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o, other := newOwner(t, d), newOwner(t, d)
	want := storeN(t, s, o, 6)
	otherWant := storeN(t, s, other, 2)
	got, err := s.Offline().Fetch(ctx(t), o, 0)
	must(t, err)
	must(t, s.Offline().Delete(ctx(t), o, got[2].ID)) // delivered the first three
	rest, err := s.Offline().Fetch(ctx(t), o, 0)
	must(t, err)
	checkMessages(t, rest, want[3:])
	must(t, s.Offline().Delete(ctx(t), o, 1<<62))
	if n, err := s.Offline().Count(ctx(t), o); err != nil || n != 0 {
		t.Errorf("Count after deleting all = %d, %v; want 0", n, err)
	}
	og, err := s.Offline().Fetch(ctx(t), other, 0)
	must(t, err)
	checkMessages(t, og, otherWant) // another owner's messages survive any upTo
	must(t, s.Offline().Delete(ctx(t), newOwner(t, d), 1<<62))
}

// A message stored between a Fetch and the Delete(upTo) for it must
// survive that Delete, even when the fetched messages had the highest ids.
func testOfflineLateArrival(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	storeN(t, s, o, 3)
	got, err := s.Offline().Fetch(ctx(t), o, 0)
	must(t, err)
	late := []byte("<message id='late'/>")
	must(t, s.Offline().Store(ctx(t), o, late, 0))
	must(t, s.Offline().Delete(ctx(t), o, got[len(got)-1].ID))
	rest, err := s.Offline().Fetch(ctx(t), o, 0)
	must(t, err)
	checkMessages(t, rest, [][]byte{late})
	// And once everything is delivered, the next message is kept too.
	must(t, s.Offline().Delete(ctx(t), o, rest[0].ID))
	storeN(t, s, o, 1)
	if n, err := s.Offline().Count(ctx(t), o); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1", n, err)
	}
}

func testOfflineQuota(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	msg := []byte("<message/>")
	for range 3 {
		must(t, s.Offline().Store(ctx(t), o, msg, 3))
	}
	wantErr(t, "fourth message with quota 3", s.Offline().Store(ctx(t), o, msg, 3), storage.ErrQuotaExceeded)
	if n, err := s.Offline().Count(ctx(t), o); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v; want 3 (refused message not stored)", n, err)
	}
	got, err := s.Offline().Fetch(ctx(t), o, 1)
	must(t, err)
	must(t, s.Offline().Delete(ctx(t), o, got[0].ID))
	must(t, s.Offline().Store(ctx(t), o, msg, 3))
	must(t, s.Offline().Store(ctx(t), o, msg, 0)) // 0: no limit
	if n, err := s.Offline().Count(ctx(t), o); err != nil || n != 4 {
		t.Errorf("Count = %d, %v; want 4", n, err)
	}
	// Another owner has its own quota.
	must(t, s.Offline().Store(ctx(t), newOwner(t, newDomain(t)), msg, 3))
}

func testOfflineBinary(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	b := []byte("<message>\x00\xff\xfe é 😀</message>")
	big := bytes.Repeat([]byte("x"), 256<<10)
	must(t, s.Offline().Store(ctx(t), o, b, 0))
	must(t, s.Offline().Store(ctx(t), o, big, 0))
	got, err := s.Offline().Fetch(ctx(t), o, 0)
	must(t, err)
	checkMessages(t, got, [][]byte{b, big})
}
