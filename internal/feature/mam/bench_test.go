package mam

import (
	"context"
	"fmt"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// BenchmarkChat: a chat message between two local users through the
// router, with the archive off and on (with -cpu 1 the writer's share is
// in ns/op; the writer is synced at the end).
func BenchmarkChat(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("archive=%v", on), func(b *testing.B) {
			m := New()
			m.cfg.Enabled = on
			h := moduletest.New(b, []string{"alice", "bob"}, roster.Module{}, presence.Module{}, m)
			alice, bob := h.Online("alice", "pc"), h.Online("bob", "phone")
			const raw = `<message xmlns="jabber:client" from="alice@example.org/pc" to="bob@example.org" type="chat" id="m1"><body>hello there, bob: a message of some sixty bytes</body></message>`
			ctx := context.Background()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				el, err := xml.Parse([]byte(raw))
				if err != nil {
					b.Fatal(err)
				}
				st, _ := router.NewStanza(el)
				h.Router.FromClient(ctx, alice.Res, st)
				if i++; i%1024 == 0 {
					bob.Take()
				}
			}
			if on {
				if err := m.w.Sync(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
