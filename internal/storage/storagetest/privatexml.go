package storagetest

import (
	"bytes"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
)

const (
	nsBookmarks = "storage:bookmarks"
	nsNotes     = "storage:rosternotes"
)

var privateTests = []test{
	{"MissingIsNotFound", func(t *testing.T, s storage.Store) {
		_, err := s.PrivateXML().GetPrivate(ctx(t), newOwner(t, newDomain(t)), nsBookmarks)
		wantErr(t, "GetPrivate of a new owner", err, storage.ErrNotFound)
	}},
	{"SetReplacesPerNamespace", func(t *testing.T, s storage.Store) {
		d := newDomain(t)
		o, other := newOwner(t, d), newOwner(t, d)
		p := s.PrivateXML()
		b1 := []byte(`<storage xmlns="storage:bookmarks"><conference jid="a@muc.example"/></storage>`)
		b2 := []byte(`<storage xmlns="storage:bookmarks"><conference jid="b@muc.example" name="☃"/></storage>`)
		n1 := []byte(`<storage xmlns="storage:rosternotes"><note jid="c@x.example">hi</note></storage>`)
		must(t, p.SetPrivate(ctx(t), o, nsBookmarks, b1, 0, 0))
		must(t, p.SetPrivate(ctx(t), o, nsNotes, n1, 0, 0))
		must(t, p.SetPrivate(ctx(t), o, nsBookmarks, b2, 0, 0))
		checkPrivate(t, s, o, nsBookmarks, b2)
		checkPrivate(t, s, o, nsNotes, n1)
		_, err := p.GetPrivate(ctx(t), other, nsBookmarks)
		wantErr(t, "GetPrivate of another owner", err, storage.ErrNotFound)
	}},
	{"Remove", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		p := s.PrivateXML()
		must(t, p.SetPrivate(ctx(t), o, nsBookmarks, []byte("<storage/>"), 0, 0))
		must(t, p.SetPrivate(ctx(t), o, nsNotes, []byte("<storage/>"), 0, 0))
		must(t, p.RemovePrivate(ctx(t), o, nsBookmarks))
		must(t, p.RemovePrivate(ctx(t), o, nsBookmarks)) // absent: no error
		_, err := p.GetPrivate(ctx(t), o, nsBookmarks)
		wantErr(t, "GetPrivate after RemovePrivate", err, storage.ErrNotFound)
		checkPrivate(t, s, o, nsNotes, []byte("<storage/>"))
	}},
	{"QuotaNamespaces", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		p := s.PrivateXML()
		must(t, p.SetPrivate(ctx(t), o, "a", []byte("<a/>"), 2, 0))
		must(t, p.SetPrivate(ctx(t), o, "b", []byte("<b/>"), 2, 0))
		wantErr(t, "a third namespace with a limit of 2", p.SetPrivate(ctx(t), o, "c", []byte("<c/>"), 2, 0), storage.ErrQuotaExceeded)
		must(t, p.SetPrivate(ctx(t), o, "b", []byte("<b>replaced</b>"), 2, 0)) // replacing is always allowed
		must(t, p.RemovePrivate(ctx(t), o, "a"))
		must(t, p.SetPrivate(ctx(t), o, "c", []byte("<c/>"), 2, 0))
		_, err := p.GetPrivate(ctx(t), o, "a")
		wantErr(t, "GetPrivate of the removed namespace", err, storage.ErrNotFound)
	}},
	{"QuotaBytes", func(t *testing.T, s storage.Store) {
		o := newOwner(t, newDomain(t))
		p := s.PrivateXML()
		x := func(n int) []byte { return bytes.Repeat([]byte("x"), n) }
		must(t, p.SetPrivate(ctx(t), o, "a", x(60), 0, 100))
		must(t, p.SetPrivate(ctx(t), o, "b", x(40), 0, 100)) // exactly the limit
		wantErr(t, "one byte over the total", p.SetPrivate(ctx(t), o, "c", x(1), 0, 100), storage.ErrQuotaExceeded)
		wantErr(t, "growing b over the total", p.SetPrivate(ctx(t), o, "b", x(41), 0, 100), storage.ErrQuotaExceeded)
		must(t, p.SetPrivate(ctx(t), o, "a", x(10), 0, 100)) // the replaced size does not count
		must(t, p.SetPrivate(ctx(t), o, "c", x(50), 0, 100))
		checkPrivate(t, s, o, "b", x(40))
	}},
	{"QuotaExactUnderConcurrency", func(t *testing.T, s storage.Store) {
		const workers, each, quota = 6, 5, 10
		o := newOwner(t, newDomain(t))
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for w := range workers {
			wg.Go(func() {
				for i := range each {
					err := s.PrivateXML().SetPrivate(ctx(t), o, fmt.Sprintf("ns%d-%d", w, i), []byte("<x/>"), quota, 0)
					mu.Lock()
					switch {
					case err == nil:
						ok++
					case !errors.Is(err, storage.ErrQuotaExceeded):
						t.Errorf("SetPrivate: %v", err)
					}
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if ok != quota {
			t.Errorf("%d concurrent SetPrivate of new namespaces succeeded; want exactly %d", ok, quota)
		}
	}},
}

func checkPrivate(t *testing.T, s storage.Store, owner, ns string, want []byte) {
	t.Helper()
	got, err := s.PrivateXML().GetPrivate(ctx(t), owner, ns)
	must(t, err)
	if !bytes.Equal(got, want) {
		t.Errorf("GetPrivate(%s, %s) = %q, want %q", owner, ns, got, want)
	}
}
