package storagetest

import (
	"slices"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// The message monitor's store (TIM+ delivery tracking): entries keyed by
// (owner, id, recipient), durable, bounded per owner, scanned by deadline.
var trackingTests = []test{
	{"AddCompleteOnce", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		es := []storage.Tracked{
			{Owner: o, ID: "m1", Recipient: "b@x.example", Sender: o + "/phone", Deadline: at},
			{Owner: o, ID: "m1", Recipient: "c@x.example", Sender: o + "/phone", Deadline: at},
			{Owner: o, ID: "m2", Recipient: "b@x.example", Sender: o + "/pc", Deadline: at},
		}
		stored, err := s.Tracking().Add(ctx(t), 0, es)
		must(t, err)
		if !slices.Equal(stored, []bool{true, true, true}) {
			t.Fatalf("Add stored %v; want all", stored)
		}
		wantTracked(t, s, o, 3)
		done, err := s.Tracking().Complete(ctx(t), []storage.TrackKey{es[0].Key(), {Owner: o, ID: "m1", Recipient: "nobody@x.example"}, es[0].Key()})
		must(t, err)
		if !slices.Equal(done, []bool{true, false, false}) {
			t.Errorf("Complete = %v; want the first only (an unknown key and a second completion are not pending)", done)
		}
		wantTracked(t, s, o, 2)
	}},
	{"SameKeyReplaces", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		old := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := s.Tracking().Add(ctx(t), 1, []storage.Tracked{{Owner: o, ID: "m", Recipient: "b@x.example", Sender: o + "/a", Deadline: old}})
		must(t, err)
		later := time.Date(2099, 1, 1, 0, 0, 0, 0, time.UTC)
		stored, err := s.Tracking().Add(ctx(t), 1, []storage.Tracked{{Owner: o, ID: "m", Recipient: "b@x.example", Sender: o + "/b", Deadline: later}})
		must(t, err)
		if !stored[0] {
			t.Error("a resent message (same key) counts against a full quota; want it replaced")
		}
		wantTracked(t, s, o, 1)
		if due := dueOf(t, s, o, time.Date(2050, 1, 1, 0, 0, 0, 0, time.UTC)); len(due) != 0 {
			t.Errorf("due %v; want none (the deadline was replaced by a later one)", due)
		}
	}},
	{"Quota", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		var es []storage.Tracked
		for _, id := range []string{"1", "2", "3", "4"} {
			es = append(es, storage.Tracked{Owner: o, ID: id, Recipient: "b@x.example", Sender: o + "/r", Deadline: at})
		}
		stored, err := s.Tracking().Add(ctx(t), 3, es)
		must(t, err)
		if !slices.Equal(stored, []bool{true, true, true, false}) {
			t.Errorf("Add with quota 3 stored %v; want the first three", stored)
		}
		wantTracked(t, s, o, 3)
		other := newOwner(t, newDomain(t))
		stored, err = s.Tracking().Add(ctx(t), 3, []storage.Tracked{{Owner: other, ID: "1", Recipient: "b@x.example", Sender: other + "/r", Deadline: at}})
		must(t, err)
		if !stored[0] {
			t.Error("the quota of one owner stopped another's")
		}
	}},
	{"DueByDeadline", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		base := time.Date(2001, 2, 3, 4, 5, 6, 7000, time.UTC)
		es := []storage.Tracked{
			{Owner: o, ID: "late", Recipient: "b@x.example", Sender: o + "/r", Deadline: base.Add(2 * time.Hour)},
			{Owner: o, ID: "first", Recipient: "b@x.example", Sender: o + "/r", Deadline: base},
			{Owner: o, ID: "second", Recipient: "c@x.example", Sender: o + "/s", Deadline: base.Add(time.Minute)},
		}
		_, err := s.Tracking().Add(ctx(t), 0, es)
		must(t, err)
		due := dueOf(t, s, o, base.Add(time.Minute))
		if len(due) != 2 || due[0] != es[1] || due[1] != es[2] {
			t.Fatalf("Due = %+v; want first then second, fields intact (deadline to the microsecond)", due)
		}
		got, err := s.Tracking().Due(ctx(t), base.Add(-time.Hour), 0)
		must(t, err)
		for _, e := range got {
			if e.Owner == o {
				t.Errorf("Due before every deadline returned %+v", e)
			}
		}
		lim, err := s.Tracking().Due(ctx(t), base.Add(time.Minute), 1)
		must(t, err)
		if len(lim) != 1 {
			t.Errorf("Due with limit 1 returned %d entries", len(lim))
		}
	}},
	{"ApplyAddsThenCompletes", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		old := storage.Tracked{Owner: o, ID: "old", Recipient: "b@x.example", Sender: o + "/r", Deadline: at}
		_, err := s.Tracking().Add(ctx(t), 0, []storage.Tracked{old})
		must(t, err)
		quick := storage.Tracked{Owner: o, ID: "quick", Recipient: "b@x.example", Sender: o + "/r", Deadline: at}
		slow := storage.Tracked{Owner: o, ID: "slow", Recipient: "b@x.example", Sender: o + "/r", Deadline: at}
		stored, done, err := s.Tracking().Apply(ctx(t), 0, []storage.Tracked{quick, slow}, []storage.TrackKey{quick.Key(), old.Key(), {Owner: o, ID: "never", Recipient: "b@x.example"}})
		must(t, err)
		if !slices.Equal(stored, []bool{true, true}) || !slices.Equal(done, []bool{true, true, false}) {
			t.Errorf("Apply = %v, %v; want both stored, then quick and old completed (adds come first), never not", stored, done)
		}
		wantTracked(t, s, o, 1)
	}},
	{"NoQuotaReplaces", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		e := storage.Tracked{Owner: o, ID: "m", Recipient: "b@x.example", Sender: o + "/a", Deadline: time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)}
		_, err := s.Tracking().Add(ctx(t), 0, []storage.Tracked{e})
		must(t, err)
		e.Sender, e.Deadline = o+"/b", time.Date(2001, 1, 2, 0, 0, 0, 0, time.UTC)
		stored, err := s.Tracking().Add(ctx(t), 0, []storage.Tracked{e})
		must(t, err)
		if !stored[0] {
			t.Error("a resent message with no quota: not stored")
		}
		if due := dueOf(t, s, o, time.Date(2001, 1, 3, 0, 0, 0, 0, time.UTC)); len(due) != 1 || due[0] != e {
			t.Errorf("due %+v; want the one entry, replaced", due)
		}
	}},
	{"DeleteOwner", func(t *testing.T, s storage.Store) {
		o, keep := newOwner(t, newDomain(t)), newOwner(t, newDomain(t))
		at := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
		_, err := s.Tracking().Add(ctx(t), 0, []storage.Tracked{
			{Owner: o, ID: "1", Recipient: "b@x.example", Sender: o + "/r", Deadline: at},
			{Owner: keep, ID: "1", Recipient: "b@x.example", Sender: keep + "/r", Deadline: at},
		})
		must(t, err)
		must(t, s.Tracking().DeleteOwner(ctx(t), o))
		wantTracked(t, s, o, 0)
		wantTracked(t, s, keep, 1)
	}},
}

func wantTracked(t *testing.T, s storage.Store, owner string, want int) {
	t.Helper()
	n, err := s.Tracking().Count(ctx(t), owner)
	must(t, err)
	if n != want {
		t.Errorf("Count(%s) = %d; want %d", owner, n, want)
	}
}

// dueOf returns owner's due entries (the database may be shared).
func dueOf(t *testing.T, s storage.Store, owner string, now time.Time) []storage.Tracked {
	t.Helper()
	all, err := s.Tracking().Due(ctx(t), now, 0)
	must(t, err)
	var out []storage.Tracked
	for _, e := range all {
		if e.Owner == owner {
			out = append(out, e)
		}
	}
	return out
}
