package storagetest

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var historyTests = []test{
	{"QueriesAgreeWithModel", testHistoryModel},
	{"Writer", testHistoryWriter},
	{"DeleteOwner", testHistoryDeleteOwner},
	{"Expire", testHistoryExpire},
	{"OldRowsAndMalformed", testHistoryMisc},
	{"Latest", testHistoryLatest},
	{"Mirrored", testHistoryMirrored},
	{"MirroredDeletes", testHistoryMirroredDeletes},
	{"WriterMirror", testHistoryWriterMirror},
	{"LargeCount", testHistoryLargeCount},
}

const testHistory = "mam"

// historyFixture writes n entries of owner over three peers, in Writes of
// varied sizes (so chunks of one entry, of many, and chunks of different
// peers overlapping in time), some a second or more apart (chunks split
// at MaxSpan), and returns them in time order.
func historyFixture(t *testing.T, s storage.Store, owner string, n int, seed uint64) []storage.Entry {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	at := base
	var all []storage.Entry
	for len(all) < n {
		k := min(n-len(all), []int{1, 3, 40, 200}[rng.IntN(4)])
		var batch []storage.Entry
		for range k {
			gap := time.Duration(1+rng.IntN(3000)) * time.Microsecond
			if rng.IntN(50) == 0 {
				gap = 1500 * time.Millisecond
			}
			at = at.Add(gap)
			i := len(all) + len(batch)
			batch = append(batch, storage.Entry{Owner: owner, Archive: testHistory, Time: at,
				Peer: []string{"a@x.example", "b@x.example", "c@x.example"}[rng.IntN(3)], Payload: fmt.Appendf(nil, "<m n='%d'/>", i)})
		}
		must(t, s.History().Write(ctx(t), batch))
		all = append(all, batch...)
	}
	return all
}

// model answers q over all (in time order) as the History must.
func model(all []storage.Entry, q storage.Query) storage.Page {
	var m []storage.Entry
	for _, e := range all {
		if !q.Start.IsZero() && e.Time.Before(q.Start) || !q.End.IsZero() && e.Time.After(q.End) || q.Peer != "" && e.Peer != q.Peer {
			continue
		}
		if len(q.Times) > 0 && !slices.ContainsFunc(q.Times, e.Time.Equal) {
			continue
		}
		m = append(m, e)
	}
	if q.CountOnly {
		return storage.Page{Count: len(m)}
	}
	if q.Last {
		slices.Reverse(m)
	}
	m = m[min(q.Offset, len(m)):]
	p := storage.Page{Complete: true}
	if q.Max > 0 && len(m) > q.Max {
		m, p.Complete = m[:q.Max], false
	}
	if q.Last {
		slices.Reverse(m)
	}
	p.Entries = m
	return p
}

func historyQuery(t *testing.T, s storage.Store, owner string, q storage.Query) storage.Page {
	t.Helper()
	p, err := s.History().Query(ctx(t), owner, testHistory, q)
	must(t, err)
	return p
}

func samePage(t *testing.T, what string, got, want storage.Page) {
	t.Helper()
	if got.Count != want.Count || got.Complete != want.Complete || len(got.Entries) != len(want.Entries) {
		t.Fatalf("%s: %d entries, complete %v, count %d; want %d, %v, %d", what, len(got.Entries), got.Complete, got.Count, len(want.Entries), want.Complete, want.Count)
	}
	for i, e := range got.Entries {
		w := want.Entries[i]
		if !e.Time.Equal(w.Time) || string(e.Payload) != string(w.Payload) || e.Peer != w.Peer || e.ID != storage.TimeID(w.Time) {
			t.Fatalf("%s: entry %d is %s (%s, %v, id %s), want %s (%s, %v)", what, i, e.Payload, e.Peer, e.Time, e.ID, w.Payload, w.Peer, w.Time)
		}
	}
}

// testHistoryModel: paging forward and back by time bounds (as MAM pages
// by id), peer filters, counts, offsets and times agree with a model.
func testHistoryModel(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	all := historyFixture(t, s, o, 700, 1)
	other := newOwner(t, newDomain(t))
	historyFixture(t, s, other, 50, 2) // never in o's answers

	rng := rand.New(rand.NewPCG(3, 9))
	pick := func() time.Time { return all[rng.IntN(len(all))].Time }
	for i := range 150 {
		q := storage.Query{Max: []int{0, 1, 7, 50, 250}[rng.IntN(5)], Last: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			q.Start = pick()
		}
		if rng.IntN(2) == 0 {
			q.End = pick()
		}
		if rng.IntN(3) == 0 {
			q.Peer = []string{"a@x.example", "b@x.example", "z@x.example"}[rng.IntN(3)]
		}
		if rng.IntN(4) == 0 {
			q.Offset = rng.IntN(30)
		}
		if rng.IntN(6) == 0 {
			q.Times = []time.Time{pick(), pick(), base.Add(-time.Hour)}
		}
		if rng.IntN(5) == 0 {
			q.CountOnly = true
		}
		samePage(t, fmt.Sprintf("query %d %+v", i, q), historyQuery(t, s, o, q), model(all, q))
	}
	// Paging the whole archive as MAM does: after the last id, a
	// microsecond later; and back from the end.
	var got []storage.Entry
	q := storage.Query{Max: 37}
	for {
		p := historyQuery(t, s, o, q)
		got = append(got, p.Entries...)
		if p.Complete {
			break
		}
		q.Start = p.Entries[len(p.Entries)-1].Time.Add(time.Microsecond)
	}
	samePage(t, "paged forward", storage.Page{Entries: got, Complete: true}, model(all, storage.Query{}))
	got = nil
	q = storage.Query{Max: 41, Last: true}
	for {
		p := historyQuery(t, s, o, q)
		got = append(slices.Clone(p.Entries), got...)
		if p.Complete {
			break
		}
		q.End = p.Entries[0].Time.Add(-time.Microsecond)
	}
	samePage(t, "paged backward", storage.Page{Entries: got, Complete: true}, model(all, storage.Query{}))
	if p, err := s.History().Query(ctx(t), o, testHistory, storage.Query{AfterID: "x"}); err == nil {
		t.Errorf("a history query by row id: no error (%d entries)", len(p.Entries))
	}
}

// testHistoryWriter: a Writer's entries get unique, increasing times
// (their ids), are durable after Sync, come back in order, and Close
// writes what was queued (what is added after it is written at once).
func testHistoryWriter(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	w := storage.NewWriter(s.History(), slog.New(slog.DiscardHandler))
	now := time.Now()
	var ids []string
	for i := range 300 {
		ids = append(ids, w.Add(storage.Entry{Owner: o, Archive: testHistory, Time: now, Peer: "p@x.example", Payload: fmt.Appendf(nil, "<m n='%d'/>", i)}))
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Fatalf("id %d (%s) is not above id %d (%s)", i, ids[i], i-1, ids[i-1])
		}
	}
	must(t, w.Sync(ctx(t)))
	p := historyQuery(t, s, o, storage.Query{})
	if len(p.Entries) != len(ids) {
		t.Fatalf("after Sync: %d entries, want %d", len(p.Entries), len(ids))
	}
	for i, e := range p.Entries {
		if e.ID != ids[i] || string(e.Payload) != fmt.Sprintf("<m n='%d'/>", i) {
			t.Fatalf("entry %d: %s with id %s, want id %s", i, e.Payload, e.ID, ids[i])
		}
		if at, err := storage.ParseTimeID(ids[i]); err != nil || !at.Equal(e.Time) {
			t.Fatalf("ParseTimeID(%s) = %v, %v; want %v", ids[i], at, err, e.Time)
		}
	}
	must(t, w.Sync(ctx(t))) // nothing pending
	last := w.Add(storage.Entry{Owner: o, Archive: testHistory, Payload: []byte("<last/>")})
	w.Close()
	after := w.Add(storage.Entry{Owner: o, Archive: testHistory, Payload: []byte("<after/>")})
	must(t, w.Sync(ctx(t)))
	for _, id := range []string{last, after} {
		at, _ := storage.ParseTimeID(id)
		if p := historyQuery(t, s, o, storage.Query{Times: []time.Time{at}}); len(p.Entries) != 1 {
			t.Errorf("entry %s (added before or after Close) not written", id)
		}
	}
}

func testHistoryDeleteOwner(t *testing.T, s storage.Store) {
	o, other := newOwner(t, newDomain(t)), newOwner(t, newDomain(t))
	historyFixture(t, s, o, 30, 4)
	kept := historyFixture(t, s, other, 10, 5)
	must(t, s.History().Write(ctx(t), []storage.Entry{{Owner: o, Archive: "muc", Time: base, Payload: []byte("<g/>")}}))
	must(t, s.History().DeleteOwner(ctx(t), o, testHistory))
	if p := historyQuery(t, s, o, storage.Query{}); len(p.Entries) != 0 {
		t.Errorf("%d entries left after DeleteOwner", len(p.Entries))
	}
	if p, _ := s.History().Query(ctx(t), o, "muc", storage.Query{}); len(p.Entries) != 1 {
		t.Errorf("DeleteOwner of one archive removed another's entries")
	}
	must(t, s.History().DeleteOwner(ctx(t), o, ""))
	if p, _ := s.History().Query(ctx(t), o, "muc", storage.Query{}); len(p.Entries) != 0 {
		t.Errorf("DeleteOwner of all archives left entries")
	}
	samePage(t, "another owner's", historyQuery(t, s, other, storage.Query{}), model(kept, storage.Query{}))
}

// testHistoryExpire: entries older than Before go; KeepPerOwner keeps at
// least that many of each owner's newest (whole chunks).
func testHistoryExpire(t *testing.T, s storage.Store) {
	archive := "h" + unique(t)
	o, p := newOwner(t, newDomain(t)), newOwner(t, newDomain(t))
	var es []storage.Entry
	for i := range 20 {
		for _, owner := range []string{o, p} {
			es = append(es, storage.Entry{Owner: owner, Archive: archive, Time: base.Add(time.Duration(i) * 2 * time.Second), Payload: []byte("<m/>")})
		}
	}
	must(t, s.History().Write(ctx(t), es))
	n, err := s.History().Expire(ctx(t), archive, storage.Retention{Before: base.Add(10 * time.Second)})
	must(t, err)
	if n != 10 {
		t.Errorf("Expire before: %d chunks removed, want 10 (5 of each owner)", n)
	}
	_, err = s.History().Expire(ctx(t), archive, storage.Retention{KeepPerOwner: 3})
	must(t, err)
	for _, owner := range []string{o, p} {
		got, err := s.History().Query(ctx(t), owner, archive, storage.Query{})
		must(t, err)
		if len(got.Entries) != 3 || !got.Entries[0].Time.Equal(base.Add(34*time.Second)) {
			t.Errorf("%s after keeping 3: %d entries from %v", owner, len(got.Entries), got.Entries)
		}
	}
}

// testHistoryMisc: a chunk of one entry holds its payload as it is (what
// the archive table's rows moved in as); empty writes do nothing.
func testHistoryMisc(t *testing.T, s storage.Store) {
	must(t, s.History().Write(ctx(t), nil))
	o := newOwner(t, newDomain(t))
	e := storage.Entry{Owner: o, Archive: testHistory, Time: base, Peer: "a@x.example", Payload: []byte("<message/>")}
	must(t, s.History().Write(ctx(t), []storage.Entry{e}))
	samePage(t, "one entry", historyQuery(t, s, o, storage.Query{}), storage.Page{Entries: []storage.Entry{e}, Complete: true})
	samePage(t, "count", historyQuery(t, s, o, storage.Query{CountOnly: true, Peer: "a@x.example"}), storage.Page{Count: 1})
}

// testHistoryLatest: Latest is the newest entry's time of an archive,
// whatever the owner (zero for none); a Writer started above it gives
// later ids even if the clock is behind.
func testHistoryLatest(t *testing.T, s storage.Store) {
	archive := "l" + unique(t)
	if at, err := s.History().Latest(ctx(t), archive); err != nil || !at.IsZero() {
		t.Fatalf("Latest of an empty archive: %v, %v", at, err)
	}
	future := time.Now().Add(time.Hour).Truncate(time.Microsecond).UTC()
	o, p := newOwner(t, newDomain(t)), newOwner(t, newDomain(t))
	must(t, s.History().Write(ctx(t), []storage.Entry{{Owner: o, Archive: archive, Time: base, Payload: []byte("<a/>")},
		{Owner: p, Archive: archive, Time: future, Payload: []byte("<b/>")}}))
	at, err := s.History().Latest(ctx(t), archive)
	must(t, err)
	if !at.Equal(future) {
		t.Fatalf("Latest: %v, want %v", at, future)
	}
	w := storage.NewWriter(s.History(), slog.New(slog.DiscardHandler))
	defer w.Close()
	must(t, w.StartAbove(archive))
	id := w.Add(storage.Entry{Owner: o, Archive: archive, Payload: []byte("<c/>")}) // now: an hour before future
	if id <= storage.TimeID(future) {
		t.Errorf("an id after StartAbove (%s) is not above the newest entry's (%s)", id, storage.TimeID(future))
	}
}

// mirrorFixture writes a conversation of a and b (mirrored entries, both
// directions) mixed with a's entries with c (not mirrored), in Writes of
// varied sizes, and returns what a's and b's archives then hold.
func mirrorFixture(t *testing.T, s storage.Store, archive, a, b, c string, n int, seed uint64) (ofA, ofB []storage.Entry) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	at := base
	for len(ofA) < n {
		var batch []storage.Entry
		for range []int{1, 5, 60}[rng.IntN(3)] {
			at = at.Add(time.Duration(1+rng.IntN(5000)) * time.Microsecond)
			if rng.IntN(40) == 0 {
				at = at.Add(1200 * time.Millisecond)
			}
			p := fmt.Appendf(nil, "<m n='%d'/>", len(ofA))
			switch rng.IntN(3) {
			case 0: // a to b
				batch = append(batch, storage.Entry{Owner: a, Archive: archive, Time: at, Peer: b, Payload: p, Mirror: true})
				ofA = append(ofA, storage.Entry{Owner: a, Archive: archive, Time: at, Peer: b, Payload: p})
				ofB = append(ofB, storage.Entry{Owner: b, Archive: archive, Time: at, Peer: a, Payload: p})
			case 1: // b to a
				batch = append(batch, storage.Entry{Owner: b, Archive: archive, Time: at, Peer: a, Payload: p, Mirror: true})
				ofA = append(ofA, storage.Entry{Owner: a, Archive: archive, Time: at, Peer: b, Payload: p})
				ofB = append(ofB, storage.Entry{Owner: b, Archive: archive, Time: at, Peer: a, Payload: p})
			default: // a with c, a's alone
				batch = append(batch, storage.Entry{Owner: a, Archive: archive, Time: at, Peer: c, Payload: p})
				ofA = append(ofA, storage.Entry{Owner: a, Archive: archive, Time: at, Peer: c, Payload: p})
			}
		}
		must(t, s.History().Write(ctx(t), batch))
	}
	return ofA, ofB
}

// testHistoryMirrored: a mirrored entry is in both archives, each with
// the other as its peer, in queries, filters, counts and paging alike.
func testHistoryMirrored(t *testing.T, s storage.Store) {
	d := newDomain(t)
	a, b, c := newOwner(t, d), newOwner(t, d), newOwner(t, d)
	ofA, ofB := mirrorFixture(t, s, testHistory, a, b, c, 400, 1)
	rng := rand.New(rand.NewPCG(5, 5))
	for i := range 60 {
		owner, all, peers := a, ofA, []string{b, c}
		if i%2 == 1 {
			owner, all, peers = b, ofB, []string{a, c}
		}
		q := storage.Query{Max: []int{0, 3, 50, 500}[rng.IntN(4)], Last: rng.IntN(2) == 0}
		if rng.IntN(2) == 0 {
			q.Start = all[rng.IntN(len(all))].Time
		}
		if rng.IntN(2) == 0 {
			q.Peer = peers[rng.IntN(2)]
		}
		if rng.IntN(5) == 0 {
			q.CountOnly = true
		}
		samePage(t, fmt.Sprintf("%s query %d %+v", owner, i, q), historyQuery(t, s, owner, q), model(all, q))
	}
}

// testHistoryMirroredDeletes: deleting one side of a mirrored
// conversation (its archive, its account, or its oldest chunks by
// retention) leaves the other side's entries whole.
func testHistoryMirroredDeletes(t *testing.T, s storage.Store) {
	d := newDomain(t)
	a, b, c := newOwner(t, d), newOwner(t, d), newOwner(t, d)
	_, ofB := mirrorFixture(t, s, testHistory, a, b, c, 200, 2)
	must(t, s.History().DeleteOwner(ctx(t), a, testHistory))
	samePage(t, "after its peer's archive was deleted", historyQuery(t, s, b, storage.Query{}), model(ofB, storage.Query{}))

	a2, b2 := "u"+unique(t), newOwner(t, d)
	must(t, s.Users().CreateUser(ctx(t), newUser(d, a2, 1)))
	_, ofB2 := mirrorFixture(t, s, testHistory, a2+"@"+d, b2, c, 200, 3)
	must(t, s.Users().DeleteUser(ctx(t), d, a2))
	if p := historyQuery(t, s, a2+"@"+d, storage.Query{}); len(p.Entries) != 0 {
		t.Errorf("deleted account: %d archive entries left", len(p.Entries))
	}
	samePage(t, "after its peer's account was deleted", historyQuery(t, s, b2, storage.Query{}), model(ofB2, storage.Query{}))

	// Retention by count: a has more entries than b, so a loses chunks
	// that b's rows may refer to.
	archive := "r" + unique(t)
	a3, b3 := newOwner(t, d), newOwner(t, d)
	_, ofB3 := mirrorFixture(t, s, archive, a3, b3, c, 300, 4)
	keep := len(ofB3) - 20
	_, err := s.History().Expire(ctx(t), archive, storage.Retention{KeepPerOwner: keep})
	must(t, err)
	got, err := s.History().Query(ctx(t), b3, archive, storage.Query{})
	must(t, err)
	if len(got.Entries) < keep {
		t.Fatalf("b kept %d entries, want at least %d", len(got.Entries), keep)
	}
	tail := ofB3[len(ofB3)-len(got.Entries):]
	samePage(t, "b after retention", got, storage.Page{Entries: tail, Complete: true})
	ga, err := s.History().Query(ctx(t), a3, archive, storage.Query{})
	must(t, err)
	if len(ga.Entries) < keep || len(ga.Entries) >= 300 {
		t.Errorf("a kept %d entries after retention (keep %d of 300)", len(ga.Entries), keep)
	}
}

// heldHistory is a History whose first Write waits for release (after
// saying so on entered): entries added meanwhile stay queued.
type heldHistory struct {
	storage.History
	once             sync.Once
	entered, release chan struct{}
}

func (h *heldHistory) Write(ctx context.Context, es []storage.Entry) error {
	h.once.Do(func() {
		close(h.entered)
		<-h.release
	})
	return h.History.Write(ctx, es)
}

// testHistoryWriterMirror: Writer.Mirror puts a queued entry in its
// peer's archive with the same id, once, and only while it is queued.
func testHistoryWriterMirror(t *testing.T, s storage.Store) {
	d := newDomain(t)
	a, b := newOwner(t, d), newOwner(t, d)
	h := &heldHistory{History: s.History(), entered: make(chan struct{}), release: make(chan struct{})}
	w := storage.NewWriter(h, slog.New(slog.DiscardHandler))
	defer w.Close()
	w.Add(storage.Entry{Owner: a, Archive: testHistory, Peer: "x@x.example", Payload: []byte("<first/>")})
	<-h.entered // the writer holds the first entry: what follows stays queued
	id, tk := w.AddTicket(storage.Entry{Owner: a, Archive: testHistory, Peer: b, Payload: []byte("<m/>")})
	if string(tk.Payload) != "<m/>" {
		t.Fatalf("ticket payload %q", tk.Payload)
	}
	ok := w.Mirror(tk)
	again := w.Mirror(tk)
	_, self := w.AddTicket(storage.Entry{Owner: a, Archive: testHistory, Peer: a, Payload: []byte("<n/>")})
	if w.Mirror(self) {
		t.Errorf("Mirror of an entry to oneself: true")
	}
	close(h.release)
	must(t, w.Sync(ctx(t)))
	if !ok || again {
		t.Fatalf("Mirror: %v, then %v; want true, false", ok, again)
	}
	if w.Mirror(tk) {
		t.Errorf("Mirror of a written entry: true")
	}
	if w.Mirror(storage.Ticket{}) {
		t.Errorf("Mirror of a zero ticket: true")
	}
	for owner, peer := range map[string]string{a: b, b: a} {
		p := historyQuery(t, s, owner, storage.Query{Peer: peer})
		if len(p.Entries) != 1 || p.Entries[0].ID != id || string(p.Entries[0].Payload) != "<m/>" {
			t.Errorf("%s's archive with %s: %+v, want the entry %s", owner, peer, p.Entries, id)
		}
	}
}

// testHistoryLargeCount: a count over more chunks than a count reads
// (20,000) is estimated from those it read (close for an even spread);
// a smaller range is counted exactly.
func testHistoryLargeCount(t *testing.T, s storage.Store) {
	o := newOwner(t, newDomain(t))
	const n = 25_000
	es := make([]storage.Entry, n)
	for i := range es { // a chunk each: 2 s apart
		es[i] = storage.Entry{Owner: o, Archive: testHistory, Time: base.Add(time.Duration(i) * 2 * time.Second), Peer: "a@x.example", Payload: []byte("<m/>")}
	}
	must(t, s.History().Write(ctx(t), es))
	got := historyQuery(t, s, o, storage.Query{CountOnly: true}).Count
	if got < n*99/100 || got > n*101/100 {
		t.Errorf("estimated count %d, want about %d", got, n)
	}
	if got := historyQuery(t, s, o, storage.Query{CountOnly: true, Peer: "a@x.example"}).Count; got < n*99/100 || got > n*101/100 {
		t.Errorf("estimated count with a peer %d, want about %d", got, n)
	}
	if got := historyQuery(t, s, o, storage.Query{CountOnly: true, Start: es[n/2].Time}).Count; got != n-n/2 {
		t.Errorf("count of the newer half %d, want %d", got, n-n/2)
	}
	if got := historyQuery(t, s, o, storage.Query{CountOnly: true, Start: es[10].Time, End: es[4000].Time}).Count; got != 3991 {
		t.Errorf("count of a range %d, want 3991", got)
	}
	// Quiet, then busy: 12,000 messages a minute apart, then 12,000 a
	// second apart. An estimate within a factor of two.
	o2 := newOwner(t, newDomain(t))
	es = es[:0]
	at := base
	for i := range 24_000 {
		if i < 12_000 {
			at = at.Add(time.Minute)
		} else {
			at = at.Add(time.Second)
		}
		es = append(es, storage.Entry{Owner: o2, Archive: testHistory, Time: at, Peer: "a@x.example", Payload: []byte("<m/>")})
	}
	must(t, s.History().Write(ctx(t), es))
	if got := historyQuery(t, s, o2, storage.Query{CountOnly: true}).Count; got < 12_000 || got > 48_000 {
		t.Errorf("estimated count of a quiet then busy archive %d, want about 24000", got)
	}
	if got := historyQuery(t, s, o2, storage.Query{CountOnly: true, End: es[15_000].Time}).Count; got < 7_500 || got > 30_000 {
		t.Errorf("estimated count up to an end %d, want about 15001", got)
	}
}
