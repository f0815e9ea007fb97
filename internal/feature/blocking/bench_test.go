package blocking_test

import (
	"context"
	"testing"

	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// BenchmarkMessageBlockChecked: one chat message between two local users,
// through the router with roster, presence and blocking loaded, the
// recipient blocking three other JIDs: the per-stanza cost of the block
// checks (inbound and outbound) on the routing path.
func BenchmarkMessageBlockChecked(b *testing.B) {
	h := mt.New(b, []string{"alice", "bob"}, mods()...)
	a := h.Online("alice", "phone")
	a.Reply(cmd("block", "spam@example.net", "example.com", carol))
	bs := h.Online("bob", "pc")
	a.Take()
	el, err := xml.Parse([]byte(`<message xmlns='jabber:client' type='chat' from='bob@example.org/pc' to='alice@example.org'><body>hi</body></message>`))
	if err != nil {
		b.Fatal(err)
	}
	st, serr := router.NewStanza(el)
	if serr != nil {
		b.Fatal(serr)
	}
	ctx := context.Background()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Router.FromClient(ctx, bs.Res, st)
		if i%1024 == 0 {
			a.Take()
		}
	}
}
