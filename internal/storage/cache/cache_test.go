package cache

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

// TestSuite runs the shared storage suite over the decorated SQLite
// backend: caching changes no observable behaviour.
func TestSuite(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Store {
		s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tern.db"))
		if err != nil {
			t.Fatal(err)
		}
		return Wrap(s, Options{})
	})
}

// counting is a Store whose block lists count their reads.
type counting struct {
	storage.Store
	reads atomic.Int64
	// during, if set, runs inside BlockList after the read (a write
	// racing with it).
	during func()
}

func (c *counting) Blocking() storage.Blocking { return countingBlocking{c.Store.Blocking(), c} }

type countingBlocking struct {
	storage.Blocking
	c *counting
}

func (b countingBlocking) BlockList(ctx context.Context, owner string) ([]string, error) {
	b.c.reads.Add(1)
	l, err := b.Blocking.BlockList(ctx, owner)
	if f := b.c.during; f != nil {
		b.c.during = nil
		f()
	}
	return l, err
}

func setup(t *testing.T, o Options) (*counting, storage.Store) {
	t.Helper()
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := &counting{Store: s}
	w := Wrap(c, o)
	t.Cleanup(func() { w.Close() })
	return c, w
}

func list(t *testing.T, s storage.Store, owner string, want ...string) {
	t.Helper()
	l, err := s.Blocking().BlockList(t.Context(), owner)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l, want) {
		t.Fatalf("BlockList(%s) = %q, want %q", owner, l, want)
	}
}

func TestBlockListCachedAndInvalidated(t *testing.T) {
	c, s := setup(t, Options{})
	ctx := t.Context()
	const a, b = "a@x.example", "b@x.example"
	list(t, s, a)
	list(t, s, a)
	if n := c.reads.Load(); n != 1 {
		t.Fatalf("two BlockList calls read the store %d times, want 1", n)
	}
	if err := s.Blocking().Block(ctx, a, []string{"spam@y.example"}); err != nil {
		t.Fatal(err)
	}
	list(t, s, a, "spam@y.example")
	list(t, s, b)
	if err := s.Blocking().Unblock(ctx, a, nil); err != nil {
		t.Fatal(err)
	}
	list(t, s, a)
	if err := s.Blocking().Block(ctx, b, []string{"spam@y.example"}); err != nil {
		t.Fatal(err)
	}
	list(t, s, b, "spam@y.example")
	// Account deletion drops the entry even though the list was read
	// through the cache just before.
	if err := s.Users().CreateUser(ctx, storage.User{Domain: "x.example", Username: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Users().DeleteUser(ctx, "x.example", "b"); err != nil {
		t.Fatal(err)
	}
	list(t, s, b)
	// A failed delete (no account) wipes the data all the same.
	if err := s.Blocking().Block(ctx, b, []string{"z@y.example"}); err != nil {
		t.Fatal(err)
	}
	list(t, s, b, "z@y.example")
	if err := s.Users().DeleteUser(ctx, "x.example", "b"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteUser of a missing account: %v", err)
	}
	list(t, s, b)
}

// A write that commits while a list is being read must not be hidden by
// caching that older list.
func TestWriteDuringReadNotHidden(t *testing.T) {
	c, s := setup(t, Options{})
	const a = "a@x.example"
	c.during = func() {
		if err := s.Blocking().Block(context.Background(), a, []string{"late@y.example"}); err != nil {
			t.Error(err)
		}
	}
	list(t, s, a) // read before the block
	list(t, s, a, "late@y.example")
}

// countingRoster counts the roster reads that reach the store.
type countingRoster struct {
	storage.Store
	reads atomic.Int64
}

func (c *countingRoster) Roster() storage.Roster { return countedRoster{c.Store.Roster(), c} }

type countedRoster struct {
	storage.Roster
	c *countingRoster
}

func (r countedRoster) Items(ctx context.Context, owner string) ([]storage.RosterItem, string, error) {
	r.c.reads.Add(1)
	return r.Roster.Items(ctx, owner)
}

func (r countedRoster) Item(ctx context.Context, owner, contact string) (storage.RosterItem, error) {
	r.c.reads.Add(1)
	return r.Roster.Item(ctx, owner, contact)
}

func (r countedRoster) Version(ctx context.Context, owner string) (string, error) {
	r.c.reads.Add(1)
	return r.Roster.Version(ctx, owner)
}

func TestRosterCachedAndInvalidated(t *testing.T) {
	raw, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	c := &countingRoster{Store: raw}
	s := Wrap(c, Options{})
	defer s.Close()
	ctx := t.Context()
	const o = "a@x.example"
	put := func(contact string) string {
		t.Helper()
		v, err := s.Roster().PutItem(ctx, o, storage.RosterItem{Contact: contact, Subscription: storage.SubBoth, Groups: []string{"g"}}, 0)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	put("m@y.example")
	v := put("c@y.example")
	items, ver, err := s.Roster().Items(ctx, o)
	if err != nil || len(items) != 2 || ver != v {
		t.Fatalf("Items = %v, %q, %v; want 2 items at version %q", items, ver, err, v)
	}
	before := c.reads.Load()
	if it, err := s.Roster().Item(ctx, o, "m@y.example"); err != nil || it.Contact != "m@y.example" || it.Groups[0] != "g" {
		t.Errorf("Item from the cached roster = %+v, %v", it, err)
	}
	if _, err := s.Roster().Item(ctx, o, "zz@y.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Item of a contact not in the cached roster: %v, want ErrNotFound", err)
	}
	if got, err := s.Roster().Version(ctx, o); err != nil || got != v {
		t.Errorf("Version = %q, %v; want %q", got, err, v)
	}
	if _, _, err := s.Roster().Items(ctx, o); err != nil {
		t.Fatal(err)
	}
	if n := c.reads.Load() - before; n != 0 {
		t.Errorf("%d roster reads reached the store with the roster cached, want 0", n)
	}
	v2 := put("z@y.example")
	if items, ver, _ := s.Roster().Items(ctx, o); len(items) != 3 || ver != v2 {
		t.Errorf("after PutItem: %d items at %q, want 3 at %q", len(items), ver, v2)
	}
	v3, err := s.Roster().DeleteItem(ctx, o, "c@y.example")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Roster().Item(ctx, o, "c@y.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Item after DeleteItem: %v, want ErrNotFound", err)
	}
	if got, _ := s.Roster().Version(ctx, o); got != v3 {
		t.Errorf("Version after DeleteItem = %q, want %q", got, v3)
	}
	s.Roster().Items(ctx, o) // cached again
	if err := s.Users().DeleteUser(ctx, "x.example", "a"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("DeleteUser: %v", err)
	}
	if items, _, _ := s.Roster().Items(ctx, o); len(items) != 0 {
		t.Errorf("after DeleteUser the roster still has %d items", len(items))
	}
}

func TestBounded(t *testing.T) {
	c, s := setup(t, Options{MaxOwners: 2})
	for _, o := range []string{"a@x", "b@x", "c@x", "a@x"} {
		list(t, s, o)
	}
	// a, b cached; c starts over; a read again.
	if n := c.reads.Load(); n != 4 {
		t.Errorf("reads = %d, want 4 (the cache holds at most 2 owners)", n)
	}
	if n := len(s.(*store).blocking.lists.m); n > 2 {
		t.Errorf("cache holds %d owners, more than MaxOwners 2", n)
	}
}

func TestTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c, s := setup(t, Options{TTL: time.Minute, Now: func() time.Time { return now }})
	list(t, s, "a@x")
	now = now.Add(30 * time.Second)
	list(t, s, "a@x")
	if n := c.reads.Load(); n != 1 {
		t.Fatalf("reads within the TTL = %d, want 1", n)
	}
	now = now.Add(time.Minute)
	list(t, s, "a@x")
	if n := c.reads.Load(); n != 2 {
		t.Errorf("reads after the TTL = %d, want 2", n)
	}
}

func BenchmarkBlockListHit(b *testing.B) {
	s, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "tern.db"))
	if err != nil {
		b.Fatal(err)
	}
	w := Wrap(s, Options{})
	defer w.Close()
	w.Blocking().BlockList(context.Background(), "a@x.example")
	b.ReportAllocs()
	for b.Loop() {
		w.Blocking().BlockList(context.Background(), "a@x.example")
	}
}
