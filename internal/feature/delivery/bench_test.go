package delivery_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/delivery"
	"github.com/tern-xmpp/tern/internal/feature/offline"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
)

// BenchmarkChat: chat messages between 32 pairs of online local users, round robin, through
// the router and the real SQLite store, without the module, with it off,
// and with notify and track on: each message then is tracked (a batched
// insert, the message held until it commits), delivered, answered with a
// deliver notice, which completes the entry (a batched delete). ns/op is
// the wall time per message with the pipeline full (sends do not wait for
// the commits); every message and notice has arrived when the clock stops.
func BenchmarkChat(b *testing.B) {
	const pairs = 32
	for _, mode := range []struct {
		name, notify, track string
		linger              time.Duration
	}{
		{"absent", "", "", 0},
		{"off", delivery.ModeOff, delivery.ModeOff, 0},
		{"notify", delivery.ModeAll, delivery.ModeOff, 0},
		{"track", delivery.ModeOff, delivery.ModeAll, 0},
		{"all", delivery.ModeAll, delivery.ModeAll, 0},
		{"all-nolinger", delivery.ModeAll, delivery.ModeAll, -1},
	} {
		b.Run(mode.name, func(b *testing.B) {
			mods := []module.Module{roster.Module{}, presence.Module{}, offline.Module{Quota: 100}}
			notices := 0
			if mode.name != "absent" {
				m := delivery.New(100)
				m.Cfg.Notify, m.Cfg.Track, m.Linger = mode.notify, mode.track, mode.linger
				mods = append(mods, m)
				b.Cleanup(m.Close)
				if mode.notify == delivery.ModeAll {
					notices = 1
				}
			}
			var users []string
			for i := range 2 * pairs {
				users = append(users, "u"+strconv.Itoa(i))
			}
			h := mt.New(b, users, mods...)
			var from, to []*mt.Session
			for i := range pairs {
				from = append(from, h.Online("u"+strconv.Itoa(i), "r"))
				to = append(to, h.Online("u"+strconv.Itoa(pairs+i), "r"))
			}
			take := func(ss []*mt.Session) (n int) {
				for _, s := range ss {
					n += len(mt.Filter(s.Take(), "message"))
				}
				return n
			}
			sent, got, back := 0, 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := moduletest.CPUTime()
			for b.Loop() {
				i := sent % pairs
				sent++
				from[i].Send("<message type='chat' id='m" + strconv.Itoa(sent) + "' to='u" + strconv.Itoa(pairs+i) + "@example.org'><body>a typical chat line of about forty bytes</body></message>")
				if sent%1024 == 0 { // keep the recorded stanzas bounded, and the holds too
					got += take(to)
					back += take(from)
					for got < sent-4096 {
						time.Sleep(50 * time.Microsecond)
						got += take(to)
					}
				}
			}
			for deadline := time.Now().Add(60 * time.Second); got < sent || back < notices*sent; time.Sleep(100 * time.Microsecond) {
				got += take(to)
				back += take(from)
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d messages, %d notices arrived", got, sent, back)
				}
			}
			b.ReportMetric(float64((moduletest.CPUTime()-cpu0).Microseconds())/float64(sent), "cpu-µs/msg")
		})
	}
}

// BenchmarkChatRemote: 32 local senders to users of another domain
// (moduletest's fake federation); the benchmark answers each message that
// reaches federation with the peer's deliver notice, as a TIM+ peer does.
// With the module each message waits for its entry's commit before it
// leaves and each notice for its completion's; without it the same
// messages and notices only pass.
func BenchmarkChatRemote(b *testing.B) {
	const pairs = 32
	for _, on := range []bool{false, true} {
		name := "absent"
		if on {
			name = "all"
		}
		b.Run(name, func(b *testing.B) {
			mods := []module.Module{roster.Module{}, presence.Module{}, offline.Module{Quota: 100}}
			if on {
				m := delivery.New(100)
				m.Cfg.Notify, m.Cfg.Track = delivery.ModeAll, delivery.ModeAll
				mods = append(mods, m)
				b.Cleanup(m.Close)
			}
			var users []string
			for i := range pairs {
				users = append(users, "u"+strconv.Itoa(i))
			}
			h := mt.New(b, users, mods...)
			fed := h.Federate()
			var from []*mt.Session
			for i := range pairs {
				from = append(from, h.Online("u"+strconv.Itoa(i), "r"))
			}
			take := func() (n int) {
				for _, s := range from {
					n += len(mt.Filter(s.Take(), "message"))
				}
				return n
			}
			answer := func() (n int) {
				for _, m := range fed.Take() {
					h.FromRemote("<message id='" + m.Attr("id") + "' from='" + m.Attr("to") + "' to='" + m.Attr("from") + "'><amp xmlns='http://jabber.org/protocol/amp' status='notify'><rule action='notify' condition='deliver' value='direct'/></amp></message>")
					n++
				}
				return n
			}
			sent, out, back := 0, 0, 0
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := moduletest.CPUTime()
			for b.Loop() {
				i := sent % pairs
				sent++
				from[i].Send("<message type='chat' id='m" + strconv.Itoa(sent) + "' to='p" + strconv.Itoa(i) + "@remote.example'><body>a typical chat line of about forty bytes</body></message>")
				if sent%256 == 0 {
					out += answer()
					back += take()
				}
			}
			for deadline := time.Now().Add(60 * time.Second); out < sent || back < sent; time.Sleep(100 * time.Microsecond) {
				out += answer()
				back += take()
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d messages left, %d notices arrived", out, sent, back)
				}
			}
			b.ReportMetric(float64((moduletest.CPUTime()-cpu0).Microseconds())/float64(sent), "cpu-µs/msg")
		})
	}
}
