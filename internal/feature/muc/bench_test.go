package muc

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/mam"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
)

// BenchmarkRoomBroadcast: one room of 200 occupants, 5 of them sending;
// each message goes to all 200 sessions (the router's deliveries, without
// the c2s stream's serialization). Reports deliveries/s and the CPU per
// delivery of the room and router (on GOMAXPROCS cores).
func BenchmarkRoomBroadcast(b *testing.B) {
	const occupants, senders = 200, 5
	users := make([]string, occupants)
	for i := range users {
		users[i] = fmt.Sprintf("u%03d", i)
	}
	h := moduletest.New(moduletest.Standalone(), users, roster.Module{}, presence.Module{}, mam.New(), New())
	defer h.Close()
	s := make([]*moduletest.Session, occupants)
	for i, u := range users {
		s[i] = h.Online(u, "pc")
	}
	for _, x := range s {
		x.Take()
	}
	heap0 := heapInUse()
	s[0].Send("<presence to='" + room + "/n0'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
	s[0].Reply("<iq type='set' id='c' to='" + room + "'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
	for i := 1; i < occupants; i++ {
		s[i].Send(fmt.Sprintf("<presence to='%s/n%d'><x xmlns='http://jabber.org/protocol/muc'/></presence>", room, i))
	}
	for _, x := range s {
		x.Take()
	}
	perOccupant := float64(heapInUse()-heap0) / occupants
	var delivered atomic.Int64
	b.ResetTimer()
	start, cpu0 := time.Now(), moduletest.CPUTime()
	per := b.N/senders + 1
	done := make(chan struct{})
	for k := range senders {
		go func() {
			for j := 0; j < per; j++ {
				s[k].Send("<message to='" + room + "' type='groupchat'><body>a message of about the size of a chat line</body></message>")
				if j%50 == 49 { // the sessions' queues, drained as a client would read them
					for _, x := range s {
						delivered.Add(int64(len(x.Take())))
					}
				}
			}
			done <- struct{}{}
		}()
	}
	for range senders {
		<-done
	}
	for _, x := range s {
		delivered.Add(int64(len(x.Take())))
	}
	elapsed, cpu := time.Since(start), moduletest.CPUTime()-cpu0
	b.StopTimer()
	n := delivered.Load()
	b.ReportMetric(float64(n)/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-us/delivery")
	b.ReportMetric(perOccupant, "heap-B/occupant")
}

// heapInUse is the live heap after a collection.
func heapInUse() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}
