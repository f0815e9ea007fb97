package router

import (
	"context"
	"testing"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func mustJID(s string) jid.JID { return jid.MustParse(s) }

func presenceEl() *xml.Element { return xml.New(xml.NSClient, "presence") }

// BenchmarkFromClientMessage: one chat message from a local client to
// another local client, through the whole routing path.
func BenchmarkFromClientMessage(b *testing.B) { benchMessage(b, false) }

// BenchmarkFromClientMessageHooked: the same with one hook on each
// holdable event that lets every stanza pass (what a feature costs that
// looks at messages and does nothing).
func BenchmarkFromClientMessageHooked(b *testing.B) { benchMessage(b, true) }

func benchMessage(b *testing.B, hooked bool) {
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	if hooked {
		r.Hook(EvStanzaOut, 0, func(*Event) bool { return false })
		r.Hook(EvStanzaIn, 0, func(*Event) bool { return false })
	}
	romeo := &Resource{JID: mustJID("romeo@example.org/a"), Session: discard{&fakeSession{}}}
	r.Bind(context.Background(), romeo)
	romeo.SetPresence(nil, 0)
	juliet := &Resource{JID: mustJID("juliet@example.org/j"), Session: discard{&fakeSession{}}}
	r.Bind(context.Background(), juliet)
	juliet.SetPresence(presenceEl(), 0)
	st := msg("romeo@example.org/a", "juliet@example.org", "chat")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r.FromClient(ctx, romeo, st)
	}
}

type discard struct{ *fakeSession }

func (discard) Send(*xml.Element) bool { return true }
