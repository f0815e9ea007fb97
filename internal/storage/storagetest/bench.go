package storagetest

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// benchStanza is a typical 1-to-1 chat message with its delay element.
var benchStanza = []byte(`<message xmlns="jabber:client" from="juliet@capulet.example/balcony" ` +
	`to="romeo@montague.example" type="chat" id="a5b2c4d8"><body>Art thou not Romeo, and a Montague?</body>` +
	`<delay xmlns="urn:xmpp:delay" from="capulet.example" stamp="2026-11-25T16:25:00Z"/></message>`)

// BenchOfflineStore measures durable offline stores, one message per call,
// from 4 goroutines per CPU (sessions of a router) to distinct owners,
// with a quota of 1000, and reports msgs/s.
func BenchOfflineStore(b *testing.B, s storage.Store) {
	var n atomic.Int64
	b.SetParallelism(4)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		g := n.Add(1)
		for i := 0; pb.Next(); i++ {
			owner := fmt.Sprintf("bench%d-%d-%d@bench.example", b.N, g, i%100)
			if err := s.Offline().Store(context.Background(), owner, benchStanza, 1000); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchOfflineStoreSerial is BenchOfflineStore from one goroutine: the
// latency of a single store.
func BenchOfflineStoreSerial(b *testing.B, s storage.Store) {
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		owner := fmt.Sprintf("serial%d-%d@bench.example", b.N, i%100)
		if err := s.Offline().Store(context.Background(), owner, benchStanza, 1000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}

// BenchRosterPutItem measures roster writes (item, two groups, version
// bump) with a quota check, cycling over 100 contacts of one owner.
func BenchRosterPutItem(b *testing.B, s storage.Store) {
	owner := fmt.Sprintf("roster%d@bench.example", b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		it := storage.RosterItem{Contact: fmt.Sprintf("c%d@x.example", i%100), Name: "Contact",
			Subscription: storage.SubBoth, Groups: []string{"Friends", "Work"}}
		if _, err := s.Roster().PutItem(context.Background(), owner, it, 1000); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchGetUser measures the account lookup every login does.
func BenchGetUser(b *testing.B, s storage.Store) {
	d := fmt.Sprintf("get%d.example", b.N)
	for i := range 100 {
		if err := s.Users().CreateUser(context.Background(), newUser(d, fmt.Sprintf("user%d", i), byte(i))); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := s.Users().GetUser(context.Background(), d, fmt.Sprintf("user%d", i%100)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchTracking measures the message monitor's writes: per iteration, a
// batch of 32 entries (32 senders, one message each) is added with quota,
// then completed, as the module commits them; it reports µs per entry
// (its add plus its completion).
func BenchTracking(b *testing.B, s storage.Store, quota int) {
	const batch = 32
	deadline := time.Now().Add(time.Hour)
	es := make([]storage.Tracked, batch)
	keys := make([]storage.TrackKey, batch)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		for j := range es {
			owner := fmt.Sprintf("track%d-%d@bench.example", b.N, j)
			es[j] = storage.Tracked{Owner: owner, ID: fmt.Sprintf("m%d", i), Recipient: "peer@remote.example", Sender: owner + "/r", Deadline: deadline}
			keys[j] = es[j].Key()
		}
		if _, err := s.Tracking().Add(context.Background(), quota, es); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Tracking().Complete(context.Background(), keys); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(b.Elapsed().Seconds()*1e6/float64(b.N*batch), "µs/entry")
}

// BenchArchiveWriter measures a Writer's sustained rate: b.N entries (MAM
// copies of benchStanza, 200 owners, a peer each) added, then Sync; it
// reports entries/s.
func BenchArchiveWriter(b *testing.B, s storage.Store) {
	w := storage.NewWriter(s.History(), slog.New(slog.DiscardHandler))
	defer w.Close()
	owners := make([]string, 200)
	for i := range owners {
		owners[i] = fmt.Sprintf("w%d-%d@bench.example", b.N, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w.Add(storage.Entry{Owner: owners[i%200], Archive: "mam", Peer: owners[(i+1)%200], Payload: benchStanza})
	}
	if err := w.Sync(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "entries/s")
}

// BenchHistoryLarge fills one owner's archive with TERN_BENCH_HISTORY
// entries (default 200,000; the case is 10,000,000) with 50
// peers, a message every 50 ms (a busy user's years in one archive: most
// chunks of one entry, a row each), then measures the queries MAM makes
// of it: the last page and a page from the middle, with and without a
// peer, three entries by time (ids), and counts. Pages are of 250;
// reports entries/s for pages.
func BenchHistoryLarge(b *testing.B, s storage.Store) {
	total := 200_000
	if v, err := strconv.Atoi(os.Getenv("TERN_BENCH_HISTORY")); err == nil && v > 0 {
		total = v
	}
	h, ctx := s.History(), context.Background()
	owner := fmt.Sprintf("big%d@bench.example", time.Now().UnixNano())
	peer := func(i int) string { return fmt.Sprintf("p%d@bench.example", i%50) }
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return start.Add(time.Duration(i) * 50 * time.Millisecond) }
	began := time.Now()
	batch := make([]storage.Entry, 0, 2000)
	for i := 0; i < total; {
		n := 2000
		batch = batch[:0]
		for j := 0; j < n && i < total; j++ {
			batch = append(batch, storage.Entry{Owner: owner, Archive: "mam", Time: at(i), Peer: peer(i * 7 / 5), Payload: benchStanza})
			i++
		}
		if err := h.Write(ctx, batch); err != nil {
			b.Fatal(err)
		}
		if i%1_000_000 < len(batch) {
			fmt.Fprintf(os.Stderr, "filled %d of %d entries (%.0fs)\n", i, total, time.Since(began).Seconds())
		}
	}
	fmt.Fprintf(os.Stderr, "filled %d entries in %.0fs\n", total, time.Since(began).Seconds())
	page := func(q storage.Query, want int) func(b *testing.B) {
		return func(b *testing.B) {
			got := 0
			for range b.N {
				p, err := h.Query(ctx, owner, "mam", q)
				if err != nil {
					b.Fatal(err)
				}
				if q.CountOnly && p.Count < want || !q.CountOnly && len(p.Entries) != want {
					b.Fatalf("%d entries, count %d; want %d", len(p.Entries), p.Count, want)
				}
				got += len(p.Entries)
			}
			if got > 0 {
				b.ReportMetric(float64(got)/b.Elapsed().Seconds(), "entries/s")
			}
		}
	}
	mid := at(total / 2)
	b.Run("LastPage", page(storage.Query{Last: true, Max: 250}, 250))
	b.Run("MiddlePage", page(storage.Query{Start: mid, Max: 250}, 250))
	b.Run("PeerLastPage", page(storage.Query{Peer: peer(3), Last: true, Max: 250}, 250))
	b.Run("PeerMiddlePage", page(storage.Query{Peer: peer(3), Start: mid, Max: 250}, min(250, total/50/2)))
	b.Run("Times", page(storage.Query{Times: []time.Time{at(total / 3), mid, at(total - 1)}}, 3))
	b.Run("CountAll", page(storage.Query{CountOnly: true}, total))
	b.Run("CountFromMiddle", page(storage.Query{CountOnly: true, Start: mid}, total/2))
}
