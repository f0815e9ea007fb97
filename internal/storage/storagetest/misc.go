package storagetest

import (
	"bytes"
	"slices"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

var vcardTests = []test{
	{"MissingIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.VCards().GetVCard(ctx(t), newOwner(t, newDomain(t)))
		wantErr(t, "GetVCard of a new owner", err, storage.ErrNotFound)
	}},
	{"SetReplaces", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		v1 := []byte(`<vCard xmlns="vcard-temp"><FN>One</FN></vCard>`)
		v2 := []byte(`<vCard xmlns="vcard-temp"><FN>Two ☃</FN><PHOTO><BINVAL>AAEC</BINVAL></PHOTO></vCard>`)
		must(t, s.VCards().SetVCard(ctx(t), o, v1))
		got, err := s.VCards().GetVCard(ctx(t), o)
		must(t, err)
		if !bytes.Equal(got, v1) {
			t.Errorf("GetVCard = %q, want %q", got, v1)
		}
		must(t, s.VCards().SetVCard(ctx(t), o, v2))
		got, err = s.VCards().GetVCard(ctx(t), o)
		must(t, err)
		if !bytes.Equal(got, v2) {
			t.Errorf("GetVCard after replace = %q, want %q", got, v2)
		}
	}},
}

var blockingTests = []test{
	{"EmptyList", func(t *testing.T, s storage.Store) {
		l, err := s.Blocking().BlockList(ctx(t), newOwner(t, newDomain(t)))
		must(t, err)
		if len(l) != 0 {
			t.Errorf("BlockList of a new owner = %q, want none", l)
		}
	}},
	{"BlockSortedUnique", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		must(t, s.Blocking().Block(ctx(t), o, []string{"z@x.example", "evil.example", "a@x.example/res", "z@x.example"}))
		must(t, s.Blocking().Block(ctx(t), o, []string{"a@x.example/res", "B@x.example"})) // re-blocking is no error
		checkBlockList(t, s, o, "B@x.example", "a@x.example/res", "evil.example", "z@x.example")
	}},
	{"UnblockSome", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		must(t, s.Blocking().Block(ctx(t), o, []string{"a@x.example", "b@x.example", "c@x.example"}))
		must(t, s.Blocking().Unblock(ctx(t), o, []string{"b@x.example", "never@x.example"}))
		checkBlockList(t, s, o, "a@x.example", "c@x.example")
	}},
	{"UnblockAll", func(t *testing.T, s storage.Store) {
		d := newDomain(t)
		o, other := newOwner(t, d), newOwner(t, d)
		must(t, s.Blocking().Block(ctx(t), o, []string{"a@x.example", "b@x.example"}))
		must(t, s.Blocking().Block(ctx(t), other, []string{"a@x.example"}))
		must(t, s.Blocking().Unblock(ctx(t), o, nil))
		checkBlockList(t, s, o)
		checkBlockList(t, s, other, "a@x.example")
		must(t, s.Blocking().Unblock(ctx(t), o, []string{})) // empty list too, on an empty list
		checkBlockList(t, s, o)
	}},
}

func checkBlockList(t *testing.T, s storage.Store, owner string, want ...string) {
	t.Helper()
	got, err := s.Blocking().BlockList(ctx(t), owner)
	must(t, err)
	if len(got) != len(want) || (len(want) > 0 && !slices.Equal(got, want)) {
		t.Errorf("BlockList(%s) = %q, want %q", owner, got, want)
	}
}

var lastTests = []test{
	{"MissingIsNotFound", func(t *testing.T, s storage.Store) {
		_, _, err := s.LastActivity().GetLast(ctx(t), newOwner(t, newDomain(t)))
		wantErr(t, "GetLast of a new owner", err, storage.ErrNotFound)
	}},
	{"SetReplaces", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		at1 := time.Date(2026, 5, 6, 7, 8, 9, 10000, time.FixedZone("EST", -5*3600))
		at2 := time.Date(2026, 5, 7, 0, 0, 0, 0, time.UTC)
		must(t, s.LastActivity().SetLast(ctx(t), o, at1, "Gone fishing"))
		checkLast(t, s, o, at1, "Gone fishing")
		must(t, s.LastActivity().SetLast(ctx(t), o, at2, ""))
		checkLast(t, s, o, at2, "")
	}},
}

func checkLast(t *testing.T, s storage.Store, owner string, at time.Time, status string) {
	t.Helper()
	gotAt, gotStatus, err := s.LastActivity().GetLast(ctx(t), owner)
	must(t, err)
	if !gotAt.Equal(at) || gotStatus != status {
		t.Errorf("GetLast = %v %q, want %v %q", gotAt, gotStatus, at, status)
	}
	if gotAt.Location() != time.UTC {
		t.Errorf("GetLast location = %v, want UTC", gotAt.Location())
	}
}
