package storagetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var concurrencyTests = []test{
	{"WritersAndReaders", testConcurrentWriters},
	{"QuotasExact", testConcurrentQuotas},
}

var contextTests = []test{
	{"CancelledContextHonoured", testCancelled},
}

// testConcurrentWriters has goroutines write offline messages and roster
// items for one shared owner and one of their own, with readers running
// alongside: no write may fail (no SQLITE_BUSY, no deadlock, no lost
// update) and every write must be there afterwards.
func testConcurrentWriters(t *testing.T, s storage.Store) {
	const workers, each = 6, 20
	d := newDomain(t)
	shared := newOwner(t, d)
	own := make([]string, workers)
	for i := range own {
		own[i] = newOwner(t, d)
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*4+64)
	vers := make(chan string, workers*each)
	stop := make(chan struct{})
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, _, err := s.Roster().Items(ctx(t), shared); err != nil {
					errs <- fmt.Errorf("Items: %w", err)
					return
				}
				if _, err := s.Offline().Fetch(ctx(t), shared, 10); err != nil {
					errs <- fmt.Errorf("Fetch: %w", err)
					return
				}
			}
		})
	}
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				msg := fmt.Appendf(nil, "<message id='%d-%d'/>", w, i)
				if err := s.Offline().Store(ctx(t), shared, msg, 0); err != nil {
					errs <- fmt.Errorf("Store shared: %w", err)
				}
				if err := s.Offline().Store(ctx(t), own[w], msg, 1000); err != nil {
					errs <- fmt.Errorf("Store own: %w", err)
				}
				v, err := s.Roster().PutItem(ctx(t), shared, storage.RosterItem{
					Contact: fmt.Sprintf("c%d-%d@x.example", w, i), Subscription: storage.SubNone, Groups: []string{"g"}}, 0)
				if err != nil {
					errs <- fmt.Errorf("PutItem: %w", err)
				} else {
					vers <- v
				}
				if err := s.Blocking().Block(ctx(t), own[w], []string{fmt.Sprintf("b%d@x.example", i)}); err != nil {
					errs <- fmt.Errorf("Block: %w", err)
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	close(vers)
	for err := range errs {
		t.Error(err)
	}
	seen := map[string]bool{}
	for v := range vers {
		if seen[v] {
			t.Errorf("two concurrent roster writes returned the same version %q", v)
		}
		seen[v] = true
	}
	msgs, err := s.Offline().Fetch(ctx(t), shared, 0)
	must(t, err)
	got := map[string]bool{}
	for _, m := range msgs {
		got[string(m.Stanza)] = true
	}
	if len(msgs) != workers*each || len(got) != workers*each {
		t.Errorf("shared owner has %d messages (%d distinct), want %d", len(msgs), len(got), workers*each)
	}
	for w := range workers {
		if n, err := s.Offline().Count(ctx(t), own[w]); err != nil || n != each {
			t.Errorf("owner %d: Count = %d, %v; want %d", w, n, err, each)
		}
		if l, err := s.Blocking().BlockList(ctx(t), own[w]); err != nil || len(l) != each {
			t.Errorf("owner %d: %d blocked, %v; want %d", w, len(l), err, each)
		}
	}
	items, _, err := s.Roster().Items(ctx(t), shared)
	must(t, err)
	if len(items) != workers*each {
		t.Errorf("shared roster has %d items, want %d", len(items), workers*each)
	}
}

// testCancelled calls every method with a cancelled context: each must
// fail with an error matching context.Canceled, and no write may land.
func testCancelled(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o := newOwner(t, d)
	cc, cancel := context.WithCancel(context.Background())
	cancel()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	item := storage.RosterItem{Contact: "c@x.example", Subscription: storage.SubNone}
	calls := []struct {
		name string
		call func() error
	}{
		{"CreateUser", func() error { return s.Users().CreateUser(cc, newUser(d, "u", 1)) }},
		{"GetUser", func() error { _, err := s.Users().GetUser(cc, d, "u"); return err }},
		{"SetCredentials", func() error { return s.Users().SetCredentials(cc, newUser(d, "u", 1)) }},
		{"DeleteUser", func() error { return s.Users().DeleteUser(cc, d, "u") }},
		{"ListUsers", func() error { _, err := s.Users().ListUsers(cc, d); return err }},
		{"CountUsers", func() error { _, err := s.Users().CountUsers(cc, d); return err }},
		{"Items", func() error { _, _, err := s.Roster().Items(cc, o); return err }},
		{"Item", func() error { _, err := s.Roster().Item(cc, o, "c@x.example"); return err }},
		{"PutItem", func() error { _, err := s.Roster().PutItem(cc, o, item, 0); return err }},
		{"PutItemQuota", func() error { _, err := s.Roster().PutItem(cc, o, item, 5); return err }},
		{"DeleteItem", func() error { _, err := s.Roster().DeleteItem(cc, o, "c@x.example"); return err }},
		{"Version", func() error { _, err := s.Roster().Version(cc, o); return err }},
		{"AddPendingIn", func() error { return s.Roster().AddPendingIn(cc, o, storage.PendingIn{Contact: "p@x.example"}) }},
		{"RemovePendingIn", func() error { return s.Roster().RemovePendingIn(cc, o, "p@x.example") }},
		{"PendingIns", func() error { _, err := s.Roster().PendingIns(cc, o); return err }},
		{"HasPendingIn", func() error { _, err := s.Roster().HasPendingIn(cc, o, "p@x.example"); return err }},
		{"Store", func() error { return s.Offline().Store(cc, o, []byte("<message/>"), 0) }},
		{"StoreQuota", func() error { return s.Offline().Store(cc, o, []byte("<message/>"), 10) }},
		{"Fetch", func() error { _, err := s.Offline().Fetch(cc, o, 0); return err }},
		{"Delete", func() error { return s.Offline().Delete(cc, o, 1<<62) }},
		{"Count", func() error { _, err := s.Offline().Count(cc, o); return err }},
		{"Append", func() error { _, err := s.Archive().Append(cc, storage.Entry{Owner: o, Archive: "mam"}, 0); return err }},
		{"AppendQuota", func() error {
			_, err := s.Archive().Append(cc, storage.Entry{Owner: o, Archive: "mam"}, 10)
			return err
		}},
		{"Query", func() error { _, err := s.Archive().Query(cc, o, "mam", storage.Query{Max: 5}); return err }},
		{"ArchiveCount", func() error { _, err := s.Archive().Count(cc, o, "mam"); return err }},
		{"ArchiveDelete", func() error { return s.Archive().Delete(cc, o, "mam", []string{storage.EncodeID(1)}) }},
		{"DeleteUpTo", func() error { return s.Archive().DeleteUpTo(cc, o, "mam", storage.EncodeID(1<<62)) }},
		{"DeleteOwner", func() error { return s.Archive().DeleteOwner(cc, o, "") }},
		{"Expire", func() error { _, err := s.Archive().Expire(cc, "mam", storage.Retention{KeepPerOwner: 1}); return err }},
		{"GetVCard", func() error { _, err := s.VCards().GetVCard(cc, o); return err }},
		{"SetVCard", func() error { return s.VCards().SetVCard(cc, o, []byte("<vCard/>")) }},
		{"BlockList", func() error { _, err := s.Blocking().BlockList(cc, o); return err }},
		{"Block", func() error { return s.Blocking().Block(cc, o, []string{"b@x.example"}) }},
		{"Unblock", func() error { return s.Blocking().Unblock(cc, o, []string{"b@x.example"}) }},
		{"UnblockAll", func() error { return s.Blocking().Unblock(cc, o, nil) }},
		{"SetLast", func() error { return s.LastActivity().SetLast(cc, o, at, "") }},
		{"GetLast", func() error { _, _, err := s.LastActivity().GetLast(cc, o); return err }},
		{"GetPrivate", func() error { _, err := s.PrivateXML().GetPrivate(cc, o, nsBookmarks); return err }},
		{"SetPrivate", func() error { return s.PrivateXML().SetPrivate(cc, o, nsBookmarks, []byte("<storage/>"), 0, 0) }},
		{"SetPrivateQuota", func() error { return s.PrivateXML().SetPrivate(cc, o, nsBookmarks, []byte("<storage/>"), 10, 1000) }},
		{"RemovePrivate", func() error { return s.PrivateXML().RemovePrivate(cc, o, nsBookmarks) }},
		{"Ping", func() error { return s.Ping(cc) }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, context.Canceled) {
			t.Errorf("%s with a cancelled context: got %v, want an error matching context.Canceled", c.name, err)
		}
	}
	checkAggregates(t, s, d, "u", false)
	user, _, _ := strings.Cut(o, "@")
	checkAggregates(t, s, d, user, false)
	if _, err := s.Roster().Item(ctx(t), o, "c@x.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a cancelled PutItem landed: %v", err)
	}
}

// testConcurrentQuotas races writers against the offline and roster quotas:
// exactly quota writes may succeed, the others fail with ErrQuotaExceeded.
func testConcurrentQuotas(t *testing.T, s storage.Store) {
	const workers, each, quota = 6, 8, 20
	o := newOwner(t, newDomain(t))
	var wg sync.WaitGroup
	var mu sync.Mutex
	var storedOK, putOK int
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				err := s.Offline().Store(ctx(t), o, []byte("<message/>"), quota)
				_, perr := s.Roster().PutItem(ctx(t), o, storage.RosterItem{
					Contact: fmt.Sprintf("c%d-%d@x.example", w, i), Subscription: storage.SubNone}, quota)
				mu.Lock()
				switch {
				case err == nil:
					storedOK++
				case !errors.Is(err, storage.ErrQuotaExceeded):
					t.Errorf("Store: %v", err)
				}
				switch {
				case perr == nil:
					putOK++
				case !errors.Is(perr, storage.ErrQuotaExceeded):
					t.Errorf("PutItem: %v", perr)
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	n, err := s.Offline().Count(ctx(t), o)
	must(t, err)
	if storedOK != quota || n != quota {
		t.Errorf("offline: %d stores succeeded, %d stored; want exactly %d", storedOK, n, quota)
	}
	items, _, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if putOK != quota || len(items) != quota {
		t.Errorf("roster: %d puts succeeded, %d items; want exactly %d", putOK, len(items), quota)
	}
}
