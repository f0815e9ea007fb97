package storagetest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
)

var rosterTests = []test{
	{"EmptyRoster", testRosterEmpty},
	{"PutItemRoundTrip", testPutRoundTrip},
	{"GroupsSortedUnique", testGroupsSorted},
	{"ItemsSortedByContact", testItemsSorted},
	{"PutReplaces", testPutReplaces},
	{"MissingIsNotFound", testRosterMissing},
	{"VersionsStrictlyIncrease", testVersionsIncrease},
	{"VersionsPerOwner", testVersionsPerOwner},
	{"FailedWriteKeepsVersion", testFailedWriteKeepsVersion},
	{"ItemQuota", testItemQuota},
	{"InvalidSubscriptionRejected", testInvalidSubscription},
	{"PendingInSeparateFromItems", testPendingSeparate},
	{"PendingInReplaceAndRemove", testPendingReplaceRemove},
}

func sameItem(a, b storage.RosterItem) bool {
	return a.Contact == b.Contact && a.Name == b.Name && a.Subscription == b.Subscription &&
		a.Ask == b.Ask && a.Approved == b.Approved && slices.Equal(a.Groups, b.Groups)
}

func sortItems(items []storage.RosterItem) {
	sort.Slice(items, func(i, j int) bool { return items[i].Contact < items[j].Contact })
}

func testRosterEmpty(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	items, v, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if len(items) != 0 {
		t.Errorf("Items of a new owner = %v, want none", items)
	}
	ver(t, v)
	v2, err := s.Roster().Version(ctx(t), o)
	must(t, err)
	if v2 != v {
		t.Errorf("Version = %q, Items gave %q", v2, v)
	}
}

func testPutRoundTrip(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	want := []storage.RosterItem{
		{Contact: "romeo@montague.example", Name: "Romeo", Subscription: storage.SubBoth, Groups: []string{"Friends", "Lovers"}},
		{Contact: "nurse@capulet.example", Subscription: storage.SubFrom, Approved: true},
		{Contact: "tybalt@capulet.example", Name: "Tybalt ⚔", Subscription: storage.SubNone, Ask: true},
		{Contact: "benvolio@montague.example", Subscription: storage.SubTo, Ask: true, Approved: true, Groups: []string{"Ω"}},
	}
	var last string
	for _, it := range want {
		v, err := s.Roster().PutItem(ctx(t), o, it, 0)
		must(t, err)
		last = v
	}
	for _, it := range want {
		got, err := s.Roster().Item(ctx(t), o, it.Contact)
		must(t, err)
		if !sameItem(got, it) {
			t.Errorf("Item(%s) = %+v, want %+v", it.Contact, got, it)
		}
	}
	got, v, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if v != last {
		t.Errorf("Items version = %q, last PutItem returned %q", v, last)
	}
	sortItems(got)
	sortItems(want)
	if len(got) != len(want) {
		t.Fatalf("Items = %+v, want %+v", got, want)
	}
	for i := range want {
		if !sameItem(got[i], want[i]) {
			t.Errorf("Items[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func testGroupsSorted(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	it := storage.RosterItem{Contact: "c@x.example", Subscription: storage.SubNone,
		Groups: []string{"b", "A", "a", "b", "Zz", "ä"}}
	_, err := s.Roster().PutItem(ctx(t), o, it, 0)
	must(t, err)
	want := []string{"A", "Zz", "a", "b", "ä"}
	got, err := s.Roster().Item(ctx(t), o, it.Contact)
	must(t, err)
	if !slices.Equal(got.Groups, want) {
		t.Errorf("Item groups = %q, want %q (sorted, unique, byte order)", got.Groups, want)
	}
	items, _, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if len(items) != 1 || !slices.Equal(items[0].Groups, want) {
		t.Errorf("Items = %+v, want groups %q", items, want)
	}
}

func testPutReplaces(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	first := storage.RosterItem{Contact: "c@x.example", Name: "Old", Subscription: storage.SubNone, Ask: true, Groups: []string{"g1", "g2"}}
	second := storage.RosterItem{Contact: "c@x.example", Name: "New", Subscription: storage.SubBoth, Approved: true, Groups: []string{"g3"}}
	_, err := s.Roster().PutItem(ctx(t), o, first, 0)
	must(t, err)
	_, err = s.Roster().PutItem(ctx(t), o, second, 0)
	must(t, err)
	got, err := s.Roster().Item(ctx(t), o, "c@x.example")
	must(t, err)
	if !sameItem(got, second) {
		t.Errorf("after replace Item = %+v, want %+v (groups replaced, not merged)", got, second)
	}
	third := storage.RosterItem{Contact: "c@x.example", Subscription: storage.SubTo}
	_, err = s.Roster().PutItem(ctx(t), o, third, 0)
	must(t, err)
	got, err = s.Roster().Item(ctx(t), o, "c@x.example")
	must(t, err)
	if !sameItem(got, third) {
		t.Errorf("after replace Item = %+v, want %+v (all groups removed)", got, third)
	}
	items, _, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if len(items) != 1 {
		t.Errorf("Items = %+v, want one item", items)
	}
}

func testRosterMissing(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	_, err := s.Roster().Item(ctx(t), o, "nobody@x.example")
	wantErr(t, "Item of a missing contact", err, storage.ErrNotFound)
	_, err = s.Roster().DeleteItem(ctx(t), o, "nobody@x.example")
	wantErr(t, "DeleteItem of a missing contact", err, storage.ErrNotFound)
}

func testVersionsIncrease(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	v0, err := s.Roster().Version(ctx(t), o)
	must(t, err)
	prev := ver(t, v0)
	steps := []struct {
		name string
		do   func() (string, error)
	}{
		{"add a", func() (string, error) {
			return s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "a@x.example", Subscription: storage.SubNone}, 0)
		}},
		{"add b", func() (string, error) {
			return s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "b@x.example", Subscription: storage.SubNone}, 0)
		}},
		{"replace a", func() (string, error) {
			return s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "a@x.example", Subscription: storage.SubTo}, 0)
		}},
		{"identical rewrite of a", func() (string, error) {
			return s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "a@x.example", Subscription: storage.SubTo}, 0)
		}},
		{"delete a", func() (string, error) { return s.Roster().DeleteItem(ctx(t), o, "a@x.example") }},
		{"re-add a", func() (string, error) {
			return s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "a@x.example", Subscription: storage.SubNone}, 0)
		}},
		{"delete b", func() (string, error) { return s.Roster().DeleteItem(ctx(t), o, "b@x.example") }},
	}
	for _, st := range steps {
		v, err := st.do()
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		n := ver(t, v)
		if n <= prev {
			t.Fatalf("%s: version %d, want > %d", st.name, n, prev)
		}
		prev = n
		cur, err := s.Roster().Version(ctx(t), o)
		must(t, err)
		if cur != v {
			t.Fatalf("%s: Version = %q, write returned %q", st.name, cur, v)
		}
	}
}

func testVersionsPerOwner(t *testing.T, s storage.Store) {
	d := newDomain(t)
	a, b := newOwner(t, d), newOwner(t, d)
	va, err := s.Roster().PutItem(ctx(t), a, storage.RosterItem{Contact: "c@x.example", Subscription: storage.SubNone}, 0)
	must(t, err)
	for i := range 3 {
		_, err := s.Roster().PutItem(ctx(t), b, storage.RosterItem{Contact: fmt.Sprintf("c%d@x.example", i), Subscription: storage.SubNone}, 0)
		must(t, err)
	}
	_, err = s.Roster().DeleteItem(ctx(t), b, "c0@x.example")
	must(t, err)
	got, err := s.Roster().Version(ctx(t), a)
	must(t, err)
	if got != va {
		t.Errorf("writes to %s changed the roster version of %s: %q, want %q", b, a, got, va)
	}
	items, _, err := s.Roster().Items(ctx(t), a)
	must(t, err)
	if len(items) != 1 {
		t.Errorf("Items(%s) = %+v, want only its own item", a, items)
	}
}

func testFailedWriteKeepsVersion(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	v, err := s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "a@x.example", Subscription: storage.SubNone}, 1)
	must(t, err)
	_, err = s.Roster().DeleteItem(ctx(t), o, "missing@x.example")
	wantErr(t, "DeleteItem missing", err, storage.ErrNotFound)
	_, err = s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "b@x.example", Subscription: storage.SubNone}, 1)
	wantErr(t, "PutItem over quota", err, storage.ErrQuotaExceeded)
	got, err := s.Roster().Version(ctx(t), o)
	must(t, err)
	if got != v {
		t.Errorf("failed writes changed the version: %q, want %q", got, v)
	}
}

func testItemQuota(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	put := func(c string, max int) error {
		_, err := s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: c, Subscription: storage.SubNone}, max)
		return err
	}
	must(t, put("a@x.example", 2))
	must(t, put("b@x.example", 2))
	wantErr(t, "third item with maxItems 2", put("c@x.example", 2), storage.ErrQuotaExceeded)
	if _, err := s.Roster().Item(ctx(t), o, "c@x.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the refused item was stored: %v", err)
	}
	must(t, put("a@x.example", 2)) // replacing at the limit is not inserting
	_, err := s.Roster().DeleteItem(ctx(t), o, "b@x.example")
	must(t, err)
	must(t, put("c@x.example", 2))
	for i := range 5 {
		must(t, put(fmt.Sprintf("n%d@x.example", i), 0)) // 0: no limit
	}
	items, _, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if len(items) != 7 {
		t.Errorf("got %d items, want 7", len(items))
	}
}

func testInvalidSubscription(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	_, err := s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: "a@x.example", Subscription: "remove"}, 0)
	if err == nil {
		t.Fatal(`PutItem with subscription "remove" succeeded, want an error`)
	}
	if _, err := s.Roster().Item(ctx(t), o, "a@x.example"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("the invalid item was stored: %v", err)
	}
}

func testPendingSeparate(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	p := storage.PendingIn{Contact: "stranger@evil.example", Stanza: `<presence from="stranger@evil.example" type="subscribe"/>`}
	v0, err := s.Roster().Version(ctx(t), o)
	must(t, err)
	must(t, s.Roster().AddPendingIn(ctx(t), o, p))
	items, v, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	if len(items) != 0 {
		t.Errorf("a pending request created roster items %+v", items)
	}
	if v != v0 {
		t.Errorf("a pending request changed the roster version: %q, want %q", v, v0)
	}
	_, err = s.Roster().Item(ctx(t), o, p.Contact)
	wantErr(t, "Item of a pending-only contact", err, storage.ErrNotFound)
	ok, err := s.Roster().HasPendingIn(ctx(t), o, p.Contact)
	must(t, err)
	if !ok {
		t.Error("HasPendingIn = false after AddPendingIn")
	}
	got, err := s.Roster().PendingIns(ctx(t), o)
	must(t, err)
	if len(got) != 1 || got[0] != p {
		t.Errorf("PendingIns = %+v, want [%+v]", got, p)
	}
	// Writing and deleting the roster item leaves the request alone.
	_, err = s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: p.Contact, Subscription: storage.SubNone}, 0)
	must(t, err)
	_, err = s.Roster().DeleteItem(ctx(t), o, p.Contact)
	must(t, err)
	if ok, err := s.Roster().HasPendingIn(ctx(t), o, p.Contact); err != nil || !ok {
		t.Errorf("HasPendingIn after roster writes = %v, %v; want true", ok, err)
	}
}

func testPendingReplaceRemove(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	a1 := storage.PendingIn{Contact: "a@x.example", Stanza: "<presence type='subscribe'><status>1</status></presence>"}
	a2 := storage.PendingIn{Contact: "a@x.example", Stanza: "<presence type='subscribe'><status>2</status></presence>"}
	b := storage.PendingIn{Contact: "b@x.example", Stanza: "<presence type='subscribe'/>"}
	must(t, s.Roster().AddPendingIn(ctx(t), o, a1))
	must(t, s.Roster().AddPendingIn(ctx(t), o, b))
	must(t, s.Roster().AddPendingIn(ctx(t), o, a2))
	got, err := s.Roster().PendingIns(ctx(t), o)
	must(t, err)
	sort.Slice(got, func(i, j int) bool { return got[i].Contact < got[j].Contact })
	if !slices.Equal(got, []storage.PendingIn{a2, b}) {
		t.Errorf("PendingIns = %+v, want [%+v %+v] (second add replaces)", got, a2, b)
	}
	must(t, s.Roster().RemovePendingIn(ctx(t), o, "a@x.example"))
	must(t, s.Roster().RemovePendingIn(ctx(t), o, "a@x.example")) // absent: no error
	must(t, s.Roster().RemovePendingIn(ctx(t), o, "never@x.example"))
	if ok, err := s.Roster().HasPendingIn(ctx(t), o, "a@x.example"); err != nil || ok {
		t.Errorf("HasPendingIn after remove = %v, %v; want false", ok, err)
	}
	got, err = s.Roster().PendingIns(ctx(t), o)
	must(t, err)
	if !slices.Equal(got, []storage.PendingIn{b}) {
		t.Errorf("PendingIns = %+v, want [%+v]", got, b)
	}
}

// Items come sorted by contact in byte order (the cache looks items up in
// them by binary search), whatever the insertion order or the locale.
func testItemsSorted(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	contacts := []string{"zed@x.example", "Bob@x.example", "alice@x.example", "émile@x.example", "bob@x.example", "_@x.example"}
	for _, c := range contacts {
		_, err := s.Roster().PutItem(ctx(t), o, storage.RosterItem{Contact: c, Subscription: storage.SubNone}, 0)
		must(t, err)
	}
	items, _, err := s.Roster().Items(ctx(t), o)
	must(t, err)
	var got []string
	for _, it := range items {
		got = append(got, it.Contact)
	}
	want := slices.Clone(contacts)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("Items contacts = %q, want %q (byte order)", got, want)
	}
}
