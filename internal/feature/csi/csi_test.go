package csi_test

import (
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/csi"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
)

func mods() []module.Module { return []module.Module{roster.Module{}, presence.Module{}, csi.Module{}} }

func TestClientState(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "stream-feature", Rule: "XEP-0352 §2: the server offers <csi xmlns='urn:xmpp:csi:0'/> among the stream features of a bound session",
			Run: func(t *testing.T, h *mt.Harness) {
				for _, f := range h.Router.StreamFeatures() {
					if f.Space == csi.NS && f.Name == "csi" {
						return
					}
				}
				t.Errorf("stream features %v lack <csi/>", h.Router.StreamFeatures())
			}},
		{Name: "inactive-active", Rule: "XEP-0352 §3: a session starts active; <inactive/> and <active/> set its state, per session",
			Run: func(t *testing.T, h *mt.Harness) {
				a, other := h.Online("alice", "phone"), h.Online("alice", "laptop")
				if csi.Inactive(a.Res) {
					t.Fatal("a new session is inactive")
				}
				for _, tc := range []struct {
					nonza    string
					inactive bool
				}{{"<inactive xmlns='urn:xmpp:csi:0'/>", true}, {"<inactive xmlns='urn:xmpp:csi:0'/>", true}, {"<active xmlns='urn:xmpp:csi:0'/>", false}, {"<inactive xmlns='urn:xmpp:csi:0'/>", true}} {
					if !a.Nonza(tc.nonza) {
						t.Fatalf("%s: no handler", tc.nonza)
					}
					if csi.Inactive(a.Res) != tc.inactive {
						t.Errorf("after %s: inactive = %v", tc.nonza, !tc.inactive)
					}
				}
				if csi.Inactive(other.Res) {
					t.Errorf("another session of the same account turned inactive")
				}
			}},
		{Name: "inactive-still-delivered", Rule: "XEP-0352 §1: the state only lets the server defer what is not urgent; messages to an inactive client still arrive (tern defers nothing)",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Online("alice", "phone"), h.Online("bob", "pc")
				a.Nonza("<inactive xmlns='urn:xmpp:csi:0'/>")
				a.Take()
				b.Send("<message type='chat' to='alice@example.org/phone'><body>while inactive</body></message>")
				if got := mt.Filter(a.Take(), "message"); len(got) != 1 {
					t.Errorf("an inactive client got %v; want the message", got)
				}
			}},
	})
}
