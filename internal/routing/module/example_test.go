package module_test

import (
	"context"
	"fmt"

	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Echo is a whole feature: a service on a domain of its own that sends
// every message back to its sender, and a count of what it echoed, kept on
// each session in a typed slot.
type Echo struct{ Domain string }

var echoed = router.NewKey[int]("echo.count")

func (Echo) Name() string { return "echo" }

func (e Echo) Register(h *module.Host) error {
	r := h.Router
	h.AddService(router.Service{
		Domain: e.Domain, Parent: moduletest.Domain, Name: "Echo",
		Identities: []router.Identity{{Category: "component", Type: "generic", Name: "Echo"}},
		Features:   []string{"urn:example:echo"},
		Handle: func(ctx context.Context, st *router.Stanza) bool {
			if st.Kind != "message" || st.Type == "error" {
				return false // disco#info is answered from the fields above
			}
			if res := r.Resource(st.From); res != nil {
				echoed.Update(res, func(n int) int { return n + 1 })
			}
			back := xml.New(xml.NSClient, "message", "from", st.To.String(), "to", st.From.String(), "type", st.Type)
			back.Append(st.El.Child("", "body"))
			r.Route(ctx, &router.Stanza{El: back, Kind: "message", Type: st.Type, From: st.To, To: st.From})
			return true
		},
	})
	return nil
}

// Example adds a feature: one Module, and one line in the server's list
// (internal/ops/server/modules.go). It appears in disco#items of its parent
// domain at once.
func Example() {
	h := moduletest.New(moduletest.Standalone(), []string{"alice"}, disco.Module{}, Echo{Domain: "echo.example.org"})
	defer h.Close()
	alice := h.Online("alice", "phone")
	alice.Take()

	items := alice.Reply(`<iq type='get' id='i1' to='example.org'><query xmlns='http://jabber.org/protocol/disco#items'/></iq>`)
	for _, it := range items.FirstElement().Elements() {
		fmt.Println("disco#items:", it.Attr("jid"), it.Attr("name"))
	}
	info := alice.Reply(`<iq type='get' id='i2' to='echo.example.org'><query xmlns='http://jabber.org/protocol/disco#info'/></iq>`)
	fmt.Println("disco#info feature:", info.FirstElement().Child("", "feature").Attr("var"))

	alice.Send(`<message to='echo.example.org' type='chat'><body>hello</body></message>`)
	for _, m := range alice.Take() {
		fmt.Println("alice got:", m.Attr("from"), m.ChildText("", "body"))
	}
	fmt.Println("echoed to this session:", echoed.Of(alice.Res))
	// Output:
	// disco#items: echo.example.org Echo
	// disco#info feature: urn:example:echo
	// alice got: echo.example.org hello
	// echoed to this session: 1
}
