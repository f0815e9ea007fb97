package storagetest

import (
	"errors"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var deleteTests = []test{
	{"WipesEveryAggregate", testDeleteWipes},
	{"MissingIsNotFound", testDeleteMissing},
	{"ReRegisteredInheritsNothing", testReRegister},
}

var isolationTests = []test{
	{"OwnersAcrossDomains", testOwnersAcrossDomains},
}

// populate creates the account and writes every aggregate of its owner.
func populate(t *testing.T, s storage.Store, domain, username string) string {
	t.Helper()
	owner := username + "@" + domain
	must(t, s.Users().CreateUser(ctx(t), newUser(domain, username, 1)))
	_, err := s.Roster().PutItem(ctx(t), owner, storage.RosterItem{Contact: "friend@x.example", Subscription: storage.SubBoth, Groups: []string{"g"}}, 0)
	must(t, err)
	must(t, s.Roster().AddPendingIn(ctx(t), owner, storage.PendingIn{Contact: "stranger@x.example", Stanza: "<presence/>"}))
	must(t, s.Offline().Store(ctx(t), owner, []byte("<message/>"), 0))
	_, err = s.Archive().Append(ctx(t), storage.Entry{Owner: owner, Archive: "mam", Peer: "friend@x.example", Payload: []byte("<message/>")}, 0)
	must(t, err)
	must(t, s.VCards().SetVCard(ctx(t), owner, []byte("<vCard/>")))
	must(t, s.Blocking().Block(ctx(t), owner, []string{"spam@x.example"}))
	must(t, s.LastActivity().SetLast(ctx(t), owner, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), "bye"))
	must(t, s.PrivateXML().SetPrivate(ctx(t), owner, nsBookmarks, []byte("<storage xmlns='storage:bookmarks'/>"), 0, 0))
	_, err = s.Tracking().Add(ctx(t), 0, []storage.Tracked{{Owner: owner, ID: "m1", Recipient: "friend@x.example", Sender: owner + "/r", Deadline: time.Date(2026, 1, 1, 1, 0, 0, 0, time.UTC)}})
	must(t, err)
	must(t, s.DirectCerts().PutCert(ctx(t), storage.DirectCert{Address: owner, SHA256: "ab12", DER: []byte{0x30, 0}, Added: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}))
	return owner
}

// checkAggregates asserts that every aggregate of owner is present (full)
// or absent (!full).
func checkAggregates(t *testing.T, s storage.Store, domain, username string, full bool) {
	t.Helper()
	owner := username + "@" + domain
	var problems []string
	note := func(what string, present bool) {
		if present != full {
			problems = append(problems, what)
		}
	}
	_, err := s.Users().GetUser(ctx(t), domain, username)
	note("account", err == nil)
	items, _, err := s.Roster().Items(ctx(t), owner)
	must(t, err)
	note("roster items", len(items) > 0)
	pend, err := s.Roster().PendingIns(ctx(t), owner)
	must(t, err)
	note("pending subscriptions", len(pend) > 0)
	n, err := s.Offline().Count(ctx(t), owner)
	must(t, err)
	note("offline messages", n > 0)
	n, err = s.Archive().Count(ctx(t), owner, "mam")
	must(t, err)
	note("archive", n > 0)
	_, err = s.VCards().GetVCard(ctx(t), owner)
	note("vCard", err == nil)
	bl, err := s.Blocking().BlockList(ctx(t), owner)
	must(t, err)
	note("block list", len(bl) > 0)
	_, _, err = s.LastActivity().GetLast(ctx(t), owner)
	note("last activity", err == nil)
	_, err = s.PrivateXML().GetPrivate(ctx(t), owner, nsBookmarks)
	note("private XML", err == nil)
	n, err = s.Tracking().Count(ctx(t), owner)
	must(t, err)
	note("tracked messages", n > 0)
	cs, err := s.DirectCerts().Certs(ctx(t), owner)
	must(t, err)
	note("Direct certificates", len(cs) > 0)
	if len(problems) > 0 {
		state := "missing"
		if !full {
			state = "left behind"
		}
		t.Errorf("%s: %s %v", owner, state, problems)
	}
}

func testDeleteWipes(t *testing.T, s storage.Store) {
	d, d2 := newDomain(t), newDomain(t)
	populate(t, s, d, "alice")
	populate(t, s, d, "alice2") // name with the victim as prefix
	populate(t, s, d, "bob")
	populate(t, s, d2, "alice") // same name, other domain
	// bob has alice in his roster: that is bob's data and stays.
	_, err := s.Roster().PutItem(ctx(t), "bob@"+d, storage.RosterItem{Contact: "alice@" + d, Subscription: storage.SubBoth}, 0)
	must(t, err)

	must(t, s.Users().DeleteUser(ctx(t), d, "alice"))
	checkAggregates(t, s, d, "alice", false)
	checkAggregates(t, s, d, "alice2", true)
	checkAggregates(t, s, d, "bob", true)
	checkAggregates(t, s, d2, "alice", true)
	if _, err := s.Roster().Item(ctx(t), "bob@"+d, "alice@"+d); err != nil {
		t.Errorf("deleting alice removed bob's roster item for her: %v", err)
	}
	if n, err := s.Users().CountUsers(ctx(t), d); err != nil || n != 2 {
		t.Errorf("CountUsers = %d, %v; want 2", n, err)
	}
}

func testDeleteMissing(t *testing.T, s storage.Store) {
	err := s.Users().DeleteUser(ctx(t), newDomain(t), "nobody")
	wantErr(t, "DeleteUser of a missing account", err, storage.ErrNotFound)
}

func testReRegister(t *testing.T, s storage.Store) {
	d := newDomain(t)
	owner := populate(t, s, d, "carol")
	oldVer, err := s.Roster().Version(ctx(t), owner)
	must(t, err)
	must(t, s.Users().DeleteUser(ctx(t), d, "carol"))
	must(t, s.Users().CreateUser(ctx(t), newUser(d, "carol", 9)))
	items, _, err := s.Roster().Items(ctx(t), owner)
	must(t, err)
	if len(items) != 0 {
		t.Errorf("re-registered account sees roster %+v", items)
	}
	// A stale client of the old account must not find its cached version
	// current: the new account's versions must not repeat it.
	for i := range 3 {
		v, err := s.Roster().PutItem(ctx(t), owner, storage.RosterItem{Contact: "c" + string(rune('a'+i)) + "@x.example", Subscription: storage.SubNone}, 0)
		must(t, err)
		if v == oldVer {
			t.Errorf("re-registered account reuses roster version %q of the deleted one", v)
		}
	}
	if _, _, err := s.LastActivity().GetLast(ctx(t), owner); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("re-registered account inherits last activity: %v", err)
	}
	if _, err := s.PrivateXML().GetPrivate(ctx(t), owner, nsBookmarks); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("re-registered account inherits private XML: %v", err)
	}
	if n, err := s.Archive().Count(ctx(t), owner, "mam"); err != nil || n != 0 {
		t.Errorf("re-registered account inherits %d archive entries (%v)", n, err)
	}
}

func testOwnersAcrossDomains(t *testing.T, s storage.Store) {
	d1, d2 := newDomain(t), newDomain(t)
	populate(t, s, d1, "dave")
	checkAggregates(t, s, d2, "dave", false)
	populate(t, s, d2, "dave")
	must(t, s.Offline().Delete(ctx(t), "dave@"+d2, 1<<62))
	must(t, s.Archive().DeleteOwner(ctx(t), "dave@"+d2, ""))
	must(t, s.Blocking().Unblock(ctx(t), "dave@"+d2, nil))
	must(t, s.PrivateXML().RemovePrivate(ctx(t), "dave@"+d2, nsBookmarks))
	_, err := s.Roster().DeleteItem(ctx(t), "dave@"+d2, "friend@x.example")
	must(t, err)
	checkAggregates(t, s, d1, "dave", true)
	l1, err := s.Users().ListUsers(ctx(t), d1)
	must(t, err)
	if len(l1) != 1 || l1[0] != "dave" {
		t.Errorf("ListUsers(%s) = %q, want [dave]", d1, l1)
	}
}
