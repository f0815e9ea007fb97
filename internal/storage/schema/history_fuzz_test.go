package schema

import (
	"bytes"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

// FuzzChunkDecode: a history row's entries as read back from storage,
// of any bytes and count: Decode returns entries or errChunk, never
// panics, and what it returns lies inside the bytes it was given.
func FuzzChunkDecode(f *testing.F) {
	t0 := time.Unix(1700000000, 0)
	chunks, done := Chunks([]storage.Entry{
		{Owner: "a@x", Archive: "mam", Peer: "b@x", Time: t0, Payload: []byte("<message/>")},
		{Owner: "a@x", Archive: "mam", Peer: "b@x", Time: t0.Add(time.Millisecond), Payload: []byte("<message><body>2</body></message>")},
	})
	f.Add(append([]byte(nil), chunks[0].Entries...), 2)
	done()
	f.Add([]byte{0, 0}, 1)
	f.Add([]byte{0, 0x80}, 2)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 5, 'a'}, 3)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		c := Chunk{Owner: "a@x", Archive: "mam", Peer: "b@x", First: t0, Last: t0, N: n, Entries: b}
		got, err := c.Decode()
		if err != nil {
			if err != errChunk {
				t.Fatalf("error %v, want errChunk", err)
			}
			return
		}
		if len(got) != max(n, 1) && n != 1 {
			t.Fatalf("%d entries decoded, the row says %d", len(got), n)
		}
		for _, e := range got {
			if len(e.Payload) > 0 && !bytes.Contains(b, e.Payload) {
				t.Fatalf("a payload not from the row's bytes")
			}
		}
	})
}

// FuzzChunksRoundTrip: entries grouped by Chunks decode to the same
// entries, owner by owner and in time order.
func FuzzChunksRoundTrip(f *testing.F) {
	f.Add([]byte("hello"), []byte{0, 1, 2, 3, 250, 7})
	f.Add([]byte(""), []byte{9, 9, 9, 9})
	f.Fuzz(func(t *testing.T, payload []byte, steps []byte) {
		if len(steps) > 2000 {
			return
		}
		t0 := time.Unix(1700000000, 0)
		owners := []string{"a@x", "b@x", "c@x"}
		var in []storage.Entry
		at := t0
		for i, s := range steps {
			at = at.Add(time.Duration(s) * 10 * time.Millisecond)
			p := append(append([]byte(nil), payload...), byte(i), byte(i>>8))
			in = append(in, storage.Entry{Owner: owners[int(s)%3], Archive: "mam", Peer: owners[int(s>>2)%3], Time: at, Payload: p, Mirror: s&0x40 != 0})
		}
		chunks, done := Chunks(in)
		defer done()
		type key struct{ owner, peer string }
		got := map[key][]storage.Entry{}
		total := 0
		for _, c := range chunks {
			if c.Last.Sub(c.First) >= MaxSpan || c.N > maxChunkEntries {
				t.Fatalf("a chunk spans %v with %d entries", c.Last.Sub(c.First), c.N)
			}
			es, err := c.Decode()
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			if len(es) != c.N {
				t.Fatalf("%d entries, the chunk says %d", len(es), c.N)
			}
			for _, e := range es {
				if e.Time.Before(c.First) || e.Time.After(c.Last) {
					t.Fatalf("an entry at %v outside its chunk [%v, %v]", e.Time, c.First, c.Last)
				}
			}
			k := key{c.Owner, c.Peer}
			got[k] = append(got[k], es...)
			total += len(es)
		}
		if total != len(in) {
			t.Fatalf("%d entries in the chunks, %d given", total, len(in))
		}
		// Each entry is in a chunk of its own owner and peer (mirrored:
		// under the smaller JID), with its payload and time, and each
		// chunk keeps the order entries were given in.
		where, when := map[string]key{}, map[string]time.Time{}
		for k, es := range got {
			for j, e := range es {
				where[string(e.Payload)], when[string(e.Payload)] = k, e.Time
				if j > 0 && e.Time.Before(es[j-1].Time) && chunkOf(chunks, k) == 1 {
					t.Fatalf("entries of %v out of order", k)
				}
			}
		}
		for _, e := range in {
			k := key{e.Owner, e.Peer}
			if e.Mirror && k.peer < k.owner {
				k = key{k.peer, k.owner}
			}
			if where[string(e.Payload)] != k {
				t.Fatalf("entry %q of %v found under %v", e.Payload, k, where[string(e.Payload)])
			}
			if !when[string(e.Payload)].Equal(e.Time) {
				t.Fatalf("entry %q at %v read back at %v", e.Payload, e.Time, when[string(e.Payload)])
			}
		}
	})
}

// chunkOf counts the chunks of k (one chunk: its entries are in time order).
func chunkOf(chunks []Chunk, k struct{ owner, peer string }) int {
	n := 0
	for _, c := range chunks {
		if c.Owner == k.owner && c.Peer == k.peer {
			n++
		}
	}
	return n
}
