package storagetest

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var archiveTests = []test{
	{"AppendQueryOrder", testArchiveOrder},
	{"ArchivesAndOwnersSeparate", testArchiveSeparate},
	{"PageForward", testArchivePageForward},
	{"PageBackward", testArchivePageBackward},
	{"TimeRange", testArchiveTimeRange},
	{"PeerFilter", testArchivePeer},
	{"IDs", testArchiveIDs},
	{"OffsetAndCount", testArchiveOffsetCount},
	{"Quota", testArchiveQuota},
	{"DeleteIDs", testArchiveDeleteIDs},
	{"DeleteUpTo", testArchiveDeleteUpTo},
	{"DeleteOwner", testArchiveDeleteOwner},
	{"ExpireBefore", testArchiveExpireBefore},
	{"ExpireKeepPerOwner", testArchiveExpireKeep},
	{"MalformedID", testArchiveMalformedID},
	{"ByTime", testArchiveByTime},
}

const testArchive = "test"

// base is a whole second, so backends that keep microseconds return
// exactly what was stored.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// appendN appends n entries to owner's test archive, one minute apart
// from base, peers alternating a@x and b@x, and returns them with ids.
func appendN(t *testing.T, s storage.Store, owner string, n int) []storage.Entry {
	t.Helper()
	var out []storage.Entry
	for i := range n {
		e := storage.Entry{Owner: owner, Archive: testArchive, Time: base.Add(time.Duration(i) * time.Minute),
			Peer: []string{"a@x.example", "b@x.example"}[i%2], Payload: fmt.Appendf(nil, "<m n='%d'/>", i)}
		id, err := s.Archive().Append(ctx(t), e, 0)
		must(t, err)
		if id == "" {
			t.Fatal("Append returned an empty id")
		}
		e.ID = id
		out = append(out, e)
	}
	return out
}

func query(t *testing.T, s storage.Store, owner string, q storage.Query) storage.Page {
	t.Helper()
	p, err := s.Archive().Query(ctx(t), owner, testArchive, q)
	must(t, err)
	return p
}

func checkEntries(t *testing.T, what string, got, want []storage.Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: got %d entries, want %d", what, len(got), len(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.Owner != w.Owner || g.Archive != w.Archive || !g.Time.Equal(w.Time) ||
			g.Peer != w.Peer || !bytes.Equal(g.Payload, w.Payload) {
			t.Errorf("%s: entry %d = %+v, want %+v", what, i, g, w)
		}
		if g.Time.Location() != time.UTC {
			t.Errorf("%s: entry %d Time %v is not UTC", what, i, g.Time)
		}
	}
}

func checkPage(t *testing.T, what string, p storage.Page, want []storage.Entry, complete bool) {
	t.Helper()
	checkEntries(t, what, p.Entries, want)
	if p.Complete != complete {
		t.Errorf("%s: Complete = %v, want %v", what, p.Complete, complete)
	}
}

func testArchiveOrder(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	checkPage(t, "empty archive", query(t, s, o, storage.Query{}), nil, true)
	want := appendN(t, s, o, 5)
	for i := 1; i < len(want); i++ {
		if want[i].ID <= want[i-1].ID {
			t.Errorf("id %q of entry %d does not sort above %q", want[i].ID, i, want[i-1].ID)
		}
	}
	checkPage(t, "whole archive", query(t, s, o, storage.Query{}), want, true)
	n, err := s.Archive().Count(ctx(t), o, testArchive)
	must(t, err)
	if n != 5 {
		t.Errorf("Count = %d, want 5", n)
	}
	// Zero Time means now.
	before := time.Now().Add(-time.Second)
	_, err = s.Archive().Append(ctx(t), storage.Entry{Owner: o, Archive: testArchive, Payload: []byte("x")}, 0)
	must(t, err)
	p := query(t, s, o, storage.Query{Last: true, Max: 1})
	if at := p.Entries[0].Time; at.Before(before) || at.After(time.Now().Add(time.Second)) {
		t.Errorf("entry appended with zero Time has Time %v, want about now", at)
	}
}

func testArchiveSeparate(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o, other := newOwner(t, d), newOwner(t, d)
	want := appendN(t, s, o, 3)
	appendN(t, s, other, 2)
	_, err := s.Archive().Append(ctx(t), storage.Entry{Owner: o, Archive: "other", Payload: []byte("y")}, 0)
	must(t, err)
	checkPage(t, "owner's test archive", query(t, s, o, storage.Query{}), want, true)
	if n, err := s.Archive().Count(ctx(t), o, "other"); err != nil || n != 1 {
		t.Errorf("Count of the other archive = %d, %v; want 1", n, err)
	}
}

func testArchivePageForward(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 7)
	p := query(t, s, o, storage.Query{Max: 3})
	checkPage(t, "first page", p, all[:3], false)
	p = query(t, s, o, storage.Query{Max: 3, AfterID: p.Entries[2].ID})
	checkPage(t, "second page", p, all[3:6], false)
	p = query(t, s, o, storage.Query{Max: 3, AfterID: p.Entries[2].ID})
	checkPage(t, "last page", p, all[6:], true)
	checkPage(t, "exact fit", query(t, s, o, storage.Query{Max: 7}), all, true)
	checkPage(t, "between ids", query(t, s, o, storage.Query{AfterID: all[1].ID, BeforeID: all[5].ID}), all[2:5], true)
	checkPage(t, "after the last", query(t, s, o, storage.Query{AfterID: all[6].ID}), nil, true)
}

func testArchivePageBackward(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 7)
	p := query(t, s, o, storage.Query{Max: 3, Last: true})
	checkPage(t, "last page", p, all[4:], false)
	p = query(t, s, o, storage.Query{Max: 3, Last: true, BeforeID: p.Entries[0].ID})
	checkPage(t, "page before", p, all[1:4], false)
	p = query(t, s, o, storage.Query{Max: 3, Last: true, BeforeID: p.Entries[0].ID})
	checkPage(t, "first page", p, all[:1], true)
	checkPage(t, "all, from the end", query(t, s, o, storage.Query{Last: true}), all, true)
}

func testArchiveTimeRange(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 6)
	checkPage(t, "start and end inclusive", query(t, s, o, storage.Query{Start: all[1].Time, End: all[3].Time}), all[1:4], true)
	checkPage(t, "start only", query(t, s, o, storage.Query{Start: all[4].Time.Add(-time.Second)}), all[4:], true)
	checkPage(t, "end only, last page", query(t, s, o, storage.Query{End: all[2].Time, Last: true, Max: 2}), all[1:3], false)
	checkPage(t, "nothing in range", query(t, s, o, storage.Query{Start: base.Add(time.Hour)}), nil, true)
}

func testArchivePeer(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 6)
	withB := []storage.Entry{all[1], all[3], all[5]}
	checkPage(t, "peer b", query(t, s, o, storage.Query{Peer: "b@x.example"}), withB, true)
	checkPage(t, "peer b, paged", query(t, s, o, storage.Query{Peer: "b@x.example", Max: 2}), withB[:2], false)
	checkPage(t, "unknown peer", query(t, s, o, storage.Query{Peer: "c@x.example"}), nil, true)
}

func testArchiveIDs(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 6)
	checkPage(t, "two ids", query(t, s, o, storage.Query{IDs: []string{all[4].ID, all[1].ID}}), []storage.Entry{all[1], all[4]}, true)
	checkPage(t, "ids and peer", query(t, s, o, storage.Query{IDs: []string{all[1].ID, all[2].ID}, Peer: "a@x.example"}), []storage.Entry{all[2]}, true)
	other := newOwner(t, newDomain(t))
	checkPage(t, "another owner's id", query(t, s, other, storage.Query{IDs: []string{all[0].ID}}), nil, true)
	_, err := s.Archive().Query(ctx(t), o, testArchive, storage.Query{IDs: []string{all[0].ID, "not an id"}})
	wantErr(t, "Query with a malformed id", err, storage.ErrNotFound)
	many := make([]string, storage.MaxQueryIDs+1)
	for i := range many {
		many[i] = all[0].ID
	}
	if _, err := s.Archive().Query(ctx(t), o, testArchive, storage.Query{IDs: many}); err == nil {
		t.Errorf("a query with %d ids: no error", len(many))
	}
}

func testArchiveOffsetCount(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 7)
	checkPage(t, "offset 2, max 3", query(t, s, o, storage.Query{Offset: 2, Max: 3}), all[2:5], false)
	checkPage(t, "offset 5, no max", query(t, s, o, storage.Query{Offset: 5}), all[5:], true)
	checkPage(t, "offset 1 from the end", query(t, s, o, storage.Query{Offset: 1, Max: 2, Last: true}), all[4:6], false)
	for _, c := range []struct {
		what string
		q    storage.Query
		want int
	}{
		{"all", storage.Query{}, 7},
		{"peer b", storage.Query{Peer: "b@x.example"}, 3},
		{"after the 2nd", storage.Query{AfterID: all[1].ID}, 5},
		{"in a time range", storage.Query{Start: all[1].Time, End: all[3].Time}, 3},
		{"Max ignored", storage.Query{Max: 2, Last: true, Offset: 3}, 7},
	} {
		c.q.CountOnly = true
		p := query(t, s, o, c.q)
		if p.Count != c.want || len(p.Entries) != 0 {
			t.Errorf("count %s: %d (%d entries), want %d", c.what, p.Count, len(p.Entries), c.want)
		}
	}
}

func testArchiveQuota(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	e := storage.Entry{Owner: o, Archive: testArchive, Payload: []byte("q")}
	for range 2 {
		_, err := s.Archive().Append(ctx(t), e, 2)
		must(t, err)
	}
	id, err := s.Archive().Append(ctx(t), e, 2)
	wantErr(t, "third entry with quota 2", err, storage.ErrQuotaExceeded)
	if id != "" {
		t.Errorf("refused Append returned id %q", id)
	}
	// The quota is per archive.
	_, err = s.Archive().Append(ctx(t), storage.Entry{Owner: o, Archive: "other", Payload: []byte("q")}, 2)
	must(t, err)
	if n, err := s.Archive().Count(ctx(t), o, testArchive); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
}

func testArchiveDeleteIDs(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o, other := newOwner(t, d), newOwner(t, d)
	all := appendN(t, s, o, 5)
	otherAll := appendN(t, s, other, 2)
	must(t, s.Archive().Delete(ctx(t), o, testArchive, []string{all[1].ID, all[3].ID}))
	checkPage(t, "after deleting two", query(t, s, o, storage.Query{}), []storage.Entry{all[0], all[2], all[4]}, true)
	// Another owner's ids are not ours to delete; deleted ids still page.
	must(t, s.Archive().Delete(ctx(t), o, testArchive, []string{otherAll[0].ID, all[1].ID}))
	checkPage(t, "other owner", query(t, s, other, storage.Query{}), otherAll, true)
	checkPage(t, "after a deleted id", query(t, s, o, storage.Query{AfterID: all[1].ID}), []storage.Entry{all[2], all[4]}, true)
	must(t, s.Archive().Delete(ctx(t), o, testArchive, nil))
	// Many ids at once (more than one statement's worth).
	many := make([]string, 0, 1200)
	for _, e := range appendN(t, s, o, 3) {
		many = append(many, e.ID)
	}
	for i := range 1197 {
		many = append(many, storage.EncodeID(int64(i)))
	}
	many = append(many, all[0].ID, all[2].ID, all[4].ID)
	must(t, s.Archive().Delete(ctx(t), o, testArchive, many))
	if n, err := s.Archive().Count(ctx(t), o, testArchive); err != nil || n != 0 {
		t.Errorf("Count after deleting all = %d, %v; want 0", n, err)
	}
}

func testArchiveDeleteUpTo(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := appendN(t, s, o, 5)
	must(t, s.Archive().DeleteUpTo(ctx(t), o, testArchive, all[2].ID))
	checkPage(t, "after DeleteUpTo", query(t, s, o, storage.Query{}), all[3:], true)
	late := appendN(t, s, o, 1)
	must(t, s.Archive().DeleteUpTo(ctx(t), o, testArchive, all[4].ID))
	checkPage(t, "a later entry survives", query(t, s, o, storage.Query{}), late, true)
}

func testArchiveDeleteOwner(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o, other := newOwner(t, d), newOwner(t, d)
	appendN(t, s, o, 3)
	otherAll := appendN(t, s, other, 2)
	_, err := s.Archive().Append(ctx(t), storage.Entry{Owner: o, Archive: "other", Payload: []byte("y")}, 0)
	must(t, err)
	must(t, s.Archive().DeleteOwner(ctx(t), o, testArchive))
	checkPage(t, "deleted archive", query(t, s, o, storage.Query{}), nil, true)
	if n, err := s.Archive().Count(ctx(t), o, "other"); err != nil || n != 1 {
		t.Errorf("Count of the archive not deleted = %d, %v; want 1", n, err)
	}
	must(t, s.Archive().DeleteOwner(ctx(t), o, ""))
	if n, err := s.Archive().Count(ctx(t), o, "other"); err != nil || n != 0 {
		t.Errorf("Count after deleting every archive = %d, %v; want 0", n, err)
	}
	checkPage(t, "other owner", query(t, s, other, storage.Query{}), otherAll, true)
}

// expireArchive is unique per test: Expire works across owners, and
// tests may share a database.
func expireArchive(t *testing.T) string { return "expire-" + unique(t) }

func testArchiveExpireBefore(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o, other := newOwner(t, d), newOwner(t, d)
	name := expireArchive(t)
	for i := range 4 {
		for _, w := range []string{o, other} {
			_, err := s.Archive().Append(ctx(t), storage.Entry{Owner: w, Archive: name, Time: base.Add(time.Duration(i) * time.Hour), Payload: []byte("e")}, 0)
			must(t, err)
		}
	}
	appendN(t, s, o, 2) // another archive: untouched
	n, err := s.Archive().Expire(ctx(t), name, storage.Retention{Before: base.Add(2 * time.Hour)})
	must(t, err)
	if n != 4 {
		t.Errorf("Expire removed %d, want 4", n)
	}
	for _, w := range []string{o, other} {
		p, err := s.Archive().Query(ctx(t), w, name, storage.Query{})
		must(t, err)
		if len(p.Entries) != 2 || !p.Entries[0].Time.Equal(base.Add(2*time.Hour)) {
			t.Errorf("%s after Expire: %+v, want the entries of hours 2 and 3", w, p.Entries)
		}
	}
	if c, err := s.Archive().Count(ctx(t), o, testArchive); err != nil || c != 2 {
		t.Errorf("another archive after Expire: Count = %d, %v; want 2", c, err)
	}
	if n, err := s.Archive().Expire(ctx(t), name, storage.Retention{}); err != nil || n != 0 {
		t.Errorf("Expire with no limits = %d, %v; want 0", n, err)
	}
}

func testArchiveExpireKeep(t *testing.T, s storage.Store) {
	d := newDomain(t)
	o, other := newOwner(t, d), newOwner(t, d)
	name := expireArchive(t)
	var ids []string
	for i := range 5 {
		id, err := s.Archive().Append(ctx(t), storage.Entry{Owner: o, Archive: name, Time: base.Add(time.Duration(i) * time.Hour), Payload: []byte{byte(i)}}, 0)
		must(t, err)
		ids = append(ids, id)
	}
	_, err := s.Archive().Append(ctx(t), storage.Entry{Owner: other, Archive: name, Payload: []byte("o")}, 0)
	must(t, err)
	n, err := s.Archive().Expire(ctx(t), name, storage.Retention{KeepPerOwner: 2})
	must(t, err)
	if n != 3 {
		t.Errorf("Expire removed %d, want 3", n)
	}
	p, err := s.Archive().Query(ctx(t), o, name, storage.Query{})
	must(t, err)
	if len(p.Entries) != 2 || p.Entries[0].ID != ids[3] || p.Entries[1].ID != ids[4] {
		t.Errorf("after keeping 2: %+v, want the newest two", p.Entries)
	}
	if c, err := s.Archive().Count(ctx(t), other, name); err != nil || c != 1 {
		t.Errorf("other owner after Expire: Count = %d, %v; want 1", c, err)
	}
	// Both limits at once.
	n, err = s.Archive().Expire(ctx(t), name, storage.Retention{Before: base.Add(4 * time.Hour), KeepPerOwner: 1})
	must(t, err)
	if n != 1 {
		t.Errorf("Expire with both limits removed %d, want 1", n)
	}
}

func testArchiveMalformedID(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	appendN(t, s, o, 1)
	for _, bad := range []string{"1", "not an id", "zzzzzzzzzzzzz"} {
		_, err := s.Archive().Query(ctx(t), o, testArchive, storage.Query{AfterID: bad})
		wantErr(t, "Query after a malformed id", err, storage.ErrNotFound)
		_, err = s.Archive().Query(ctx(t), o, testArchive, storage.Query{BeforeID: bad})
		wantErr(t, "Query before a malformed id", err, storage.ErrNotFound)
		wantErr(t, "DeleteUpTo a malformed id", s.Archive().DeleteUpTo(ctx(t), o, testArchive, bad), storage.ErrNotFound)
		wantErr(t, "Delete a malformed id", s.Archive().Delete(ctx(t), o, testArchive, []string{bad}), storage.ErrNotFound)
	}
	if n, err := s.Archive().Count(ctx(t), o, testArchive); err != nil || n != 1 {
		t.Errorf("Count = %d, %v; want 1 (nothing deleted)", n, err)
	}
}

// testArchiveByTime: entries appended out of time order come back in
// time order with ByTime; Times picks entries by time.
func testArchiveByTime(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	var es []storage.Entry
	for _, i := range []int{3, 0, 4, 1, 2} {
		e := storage.Entry{Owner: o, Archive: testArchive, Time: base.Add(time.Duration(i) * time.Microsecond),
			Peer: []string{"a@x.example", "b@x.example"}[i%2], Payload: fmt.Appendf(nil, "<m n='%d'/>", i)}
		id, err := s.Archive().Append(ctx(t), e, 0)
		must(t, err)
		e.ID = id
		es = append(es, e)
	}
	sorted := []storage.Entry{es[1], es[3], es[4], es[0], es[2]}
	checkPage(t, "all by time", query(t, s, o, storage.Query{ByTime: true}), sorted, true)
	checkPage(t, "last two by time", query(t, s, o, storage.Query{ByTime: true, Max: 2, Last: true}), sorted[3:], false)
	checkPage(t, "peer b by time", query(t, s, o, storage.Query{ByTime: true, Peer: "b@x.example"}), []storage.Entry{sorted[1], sorted[3]}, true)
	checkPage(t, "times", query(t, s, o, storage.Query{ByTime: true, Times: []time.Time{sorted[4].Time, sorted[0].Time, base.Add(time.Hour)}}), []storage.Entry{sorted[0], sorted[4]}, true)
}
