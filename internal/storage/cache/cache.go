package cache

import (
	"context"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// Options bound the cache. The zero value is the default.
type Options struct {
	// MaxOwners is how many owners' entries one aggregate keeps (default
	// 100000); when full, the cache starts over empty.
	MaxOwners int
	// TTL is how long an entry may be served (0: until a write through
	// the decorator drops it).
	TTL time.Duration
	// Now is the clock for TTL (default time.Now).
	Now func() time.Time
}

// Wrap returns s with its block lists and rosters cached. Every other
// aggregate passes through; Close closes s.
func Wrap(s storage.Store, o Options) storage.Store {
	if o.MaxOwners <= 0 {
		o.MaxOwners = 100000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	c := &store{Store: s}
	c.blocking = &blocking{Blocking: s.Blocking(), lists: newTable[[]string](o)}
	c.roster = &roster{Roster: s.Roster(), rosters: newTable[rosterEntry](o)}
	c.users = users{Users: s.Users(), forget: []func(string){c.blocking.lists.forget, c.roster.rosters.forget}}
	return c
}

type store struct {
	storage.Store
	blocking *blocking
	roster   *roster
	users    users
}

func (s *store) Blocking() storage.Blocking { return s.blocking }
func (s *store) Roster() storage.Roster     { return s.roster }
func (s *store) Users() storage.Users       { return s.users }

// users drops the deleted account's entries.
type users struct {
	storage.Users
	forget []func(owner string)
}

func (u users) DeleteUser(ctx context.Context, domain, username string) error {
	err := u.Users.DeleteUser(ctx, domain, username)
	// Whatever the outcome: a failed delete may have committed anyway.
	owner := domain
	if username != "" {
		owner = username + "@" + domain
	}
	for _, f := range u.forget {
		f(owner)
	}
	return err
}

// blocking caches BlockList. The cached slice is shared between callers,
// who only read it (see storage.Blocking).
type blocking struct {
	storage.Blocking
	lists *table[[]string]
}

func (b *blocking) BlockList(ctx context.Context, owner string) ([]string, error) {
	l, ok, gen := b.lists.get(owner)
	if ok {
		return l, nil
	}
	l, err := b.Blocking.BlockList(ctx, owner)
	if err != nil {
		return nil, err
	}
	b.lists.put(owner, l, gen)
	return l, nil
}

func (b *blocking) Block(ctx context.Context, owner string, jids []string) error {
	defer b.lists.forget(owner)
	return b.Blocking.Block(ctx, owner, jids)
}

func (b *blocking) Unblock(ctx context.Context, owner string, jids []string) error {
	defer b.lists.forget(owner)
	return b.Blocking.Unblock(ctx, owner, jids)
}

// roster caches Items (the whole roster and its version) per owner, and
// answers Item and Version from it when cached. Pending subscriptions
// pass through. The cached items are shared between callers, who only
// read them (see storage.Roster).
type roster struct {
	storage.Roster
	rosters *table[rosterEntry]
}

type rosterEntry struct {
	items []storage.RosterItem // sorted by contact, byte order (both backends)
	ver   string
}

func (r *roster) Items(ctx context.Context, owner string) ([]storage.RosterItem, string, error) {
	e, ok, gen := r.rosters.get(owner)
	if ok {
		return e.items, e.ver, nil
	}
	items, ver, err := r.Roster.Items(ctx, owner)
	if err != nil {
		return nil, "", err
	}
	r.rosters.put(owner, rosterEntry{items, ver}, gen)
	return items, ver, nil
}

// Item answers from a cached roster, else from the store without filling
// the cache (one item does not make a roster).
func (r *roster) Item(ctx context.Context, owner, contact string) (storage.RosterItem, error) {
	e, ok, _ := r.rosters.get(owner)
	if !ok {
		return r.Roster.Item(ctx, owner, contact)
	}
	i, found := slices.BinarySearchFunc(e.items, contact, func(it storage.RosterItem, c string) int {
		return strings.Compare(it.Contact, c)
	})
	if !found {
		return storage.RosterItem{}, storage.ErrNotFound
	}
	return e.items[i], nil
}

func (r *roster) Version(ctx context.Context, owner string) (string, error) {
	if e, ok, _ := r.rosters.get(owner); ok {
		return e.ver, nil
	}
	return r.Roster.Version(ctx, owner)
}

func (r *roster) PutItem(ctx context.Context, owner string, item storage.RosterItem, maxItems int) (string, error) {
	defer r.rosters.forget(owner)
	return r.Roster.PutItem(ctx, owner, item, maxItems)
}

func (r *roster) DeleteItem(ctx context.Context, owner, contact string) (string, error) {
	defer r.rosters.forget(owner)
	return r.Roster.DeleteItem(ctx, owner, contact)
}

// table is one aggregate's cache: owner -> value.
type table[V any] struct {
	o  Options
	mu sync.Mutex
	m  map[string]entry[V]
	// gen is bumped by every forget. A value read from the store is
	// cached only if gen did not move meanwhile: else a write that
	// committed during the read could be hidden by the older value.
	gen uint64
}

type entry[V any] struct {
	v  V
	at time.Time // when read, for TTL
}

func newTable[V any](o Options) *table[V] {
	return &table[V]{o: o, m: map[string]entry[V]{}}
}

// get returns the cached value, or the generation to hand to put.
func (t *table[V]) get(owner string) (v V, ok bool, gen uint64) {
	t.mu.Lock()
	e, ok := t.m[owner]
	gen = t.gen
	t.mu.Unlock()
	if ok && t.o.TTL > 0 && t.o.Now().Sub(e.at) >= t.o.TTL {
		return v, false, gen
	}
	return e.v, ok, gen
}

func (t *table[V]) put(owner string, v V, gen uint64) {
	var at time.Time
	if t.o.TTL > 0 {
		at = t.o.Now()
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gen != gen {
		return
	}
	if len(t.m) >= t.o.MaxOwners {
		t.m = map[string]entry[V]{}
	}
	t.m[owner] = entry[V]{v, at}
}

// forget drops owner's entry; called after the write it follows, whether
// or not the write reported success.
func (t *table[V]) forget(owner string) {
	t.mu.Lock()
	delete(t.m, owner)
	t.gen++
	t.mu.Unlock()
}
