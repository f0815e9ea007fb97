package vcard_test

import (
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/feature/vcard"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice    = "alice@example.org"
	bob      = "bob@example.org"
	maxBytes = 512
	card     = "<vCard xmlns='vcard-temp'><FN>Alice Liddell</FN><NICKNAME>al</NICKNAME><DESC> &amp; &lt;x&gt; </DESC></vCard>"
)

func mods() []module.Module { return []module.Module{&vcard.Module{MaxBytes: maxBytes}} }

func iq(typ, to, payload string) string {
	if to != "" {
		to = " to='" + to + "'"
	}
	return "<iq type='" + typ + "' id='v'" + to + ">" + payload + "</iq>"
}

const get = "<vCard xmlns='vcard-temp'/>"

func TestVCard(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "own-empty", Rule: "XEP-0054 §3.1: with no vCard stored, one's own get is an empty <vCard/>",
			Run: func(t *testing.T, h *mt.Harness) {
				r := h.Login("alice", "phone").Reply(iq("get", "", get))
				if v := r.Child(vcard.NS, "vCard"); r.Attr("type") != "result" || v == nil || len(v.Children) != 0 {
					t.Errorf("got %s; want an empty <vCard/>", r)
				}
			}},
		{Name: "set-then-get", Rule: "XEP-0054 §3.2, §3.3: a user sets its own vCard (at no 'to' or its bare JID); it and others read it back unchanged at the bare JID",
			Run: func(t *testing.T, h *mt.Harness) {
				a, b := h.Login("alice", "phone"), h.Login("bob", "pc")
				if r := a.Reply(iq("set", alice, card)); r.Attr("type") != "result" {
					t.Fatalf("set: %s", r)
				}
				want, _ := xml.Parse([]byte(card))
				for _, tc := range []struct {
					who *mt.Session
					to  string
				}{{a, ""}, {a, alice}, {b, alice}} {
					v := tc.who.Reply(iq("get", tc.to, get)).Child(vcard.NS, "vCard")
					if v == nil || v.String() != want.String() {
						t.Errorf("%s gets %v; want %s", tc.who.JID, v, want)
					}
				}
			}},
		{Name: "other-missing", Rule: "XEP-0054 §3.3: another user's missing vCard, or an account that does not exist, is service-unavailable",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				for _, to := range []string{bob, "nobody@example.org"} {
					if r := a.Reply(iq("get", to, get)); mt.ErrorCondition(r) != "service-unavailable" {
						t.Errorf("get at %s: %s; want service-unavailable", to, r)
					}
				}
			}},
		{Name: "set-other-forbidden", Rule: "XEP-0054 §3.2: only the user sets its vCard: a set at another account is forbidden and changes nothing",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				if r := a.Reply(iq("set", bob, card)); mt.ErrorCondition(r) != "forbidden" {
					t.Errorf("set at bob: %s; want forbidden", r)
				}
				if r := h.Login("bob", "pc").Reply(iq("get", "", get)); len(r.Child(vcard.NS, "vCard").Children) != 0 {
					t.Errorf("bob's vCard after alice's refused set: %s", r)
				}
			}},
		{Name: "too-large", Rule: "tern ([vcard] max_bytes): a vCard over the limit is not-acceptable (RFC 6120 §8.3.3.9), and the stored one is kept",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				a.Reply(iq("set", "", card))
				big := "<vCard xmlns='vcard-temp'><PHOTO><BINVAL>" + strings.Repeat("QUFB", maxBytes/4) + "</BINVAL></PHOTO></vCard>"
				if r := a.Reply(iq("set", "", big)); mt.ErrorCondition(r) != "not-acceptable" {
					t.Errorf("set of %d bytes: %s; want not-acceptable", len(big), r)
				}
				if v := a.Reply(iq("get", "", get)).Child(vcard.NS, "vCard"); v == nil || v.ChildText("", "FN") != "Alice Liddell" {
					t.Errorf("after the refused set: %v; want the earlier vCard", v)
				}
			}},
		{Name: "set-wrong-element", Rule: "RFC 6120 §8.3.3.1: a set whose payload is not <vCard/> is bad-request",
			Run: func(t *testing.T, h *mt.Harness) {
				if r := h.Login("alice", "phone").Reply(iq("set", "", "<card xmlns='vcard-temp'/>")); mt.ErrorCondition(r) != "bad-request" {
					t.Errorf("got %s; want bad-request", r)
				}
			}},
		{Name: "remote-reader", Rule: "XEP-0054 §3.3: an entity at another domain reads a vCard at the bare JID too",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				h.Login("alice", "phone").Reply(iq("set", "", card))
				h.FromRemote("<iq type='get' id='r1' from='romeo@remote.example/r' to='" + alice + "'>" + get + "</iq>")
				got := fed.Take()
				if len(got) != 1 || got[0].Attr("type") != "result" || got[0].Child(vcard.NS, "vCard").ChildText("", "NICKNAME") != "al" {
					t.Errorf("federation got %v; want the result with alice's vCard", got)
				}
			}},
		{Name: "discoverable", Rule: "XEP-0054 §4: support is advertised as vcard-temp in the server's disco#info",
			Run: func(t *testing.T, h *mt.Harness) {
				for _, f := range h.Router.Features(router.Host) {
					if f == vcard.NS {
						return
					}
				}
				t.Errorf("server features %v lack %s", h.Router.Features(router.Host), vcard.NS)
			}},
	})
}

// TestVCardDirect: TIM+ (timplus.md §5 item 26): on a Direct domain a
// client's vCard set is refused (not-allowed, naming the setting) unless
// direct_client_set allows it; reading is unchanged.
func TestVCardDirect(t *testing.T) {
	direct := func(d string) bool { return d == mt.Domain }
	for _, allow := range []bool{false, true} {
		mods := func() []module.Module {
			return []module.Module{&vcard.Module{MaxBytes: maxBytes, Direct: direct, DirectClientSet: allow}}
		}
		name := "set-refused"
		if allow {
			name = "set-allowed"
		}
		mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
			{Name: name, Rule: "TIM+ item 26: vCard set by a client of a Direct domain refused unless allowed by config",
				Run: func(t *testing.T, h *mt.Harness) {
					a := h.Login("alice", "phone")
					r := a.Reply(iq("set", "", card))
					if allow {
						if r.Attr("type") != "result" {
							t.Fatalf("direct_client_set = true: set got %s; want a result", r)
						}
						if v := h.Login("bob", "pc").Reply(iq("get", alice, get)).Child(vcard.NS, "vCard"); v == nil || len(v.Children) == 0 {
							t.Errorf("bob reads %v; want alice's vCard", v)
						}
						return
					}
					if mt.ErrorCondition(r) != "not-allowed" || !strings.Contains(r.String(), "direct_client_set") {
						t.Errorf("set got %s; want not-allowed naming direct_client_set", r)
					}
					if v := a.Reply(iq("get", "", get)).Child(vcard.NS, "vCard"); v == nil || len(v.Children) != 0 {
						t.Errorf("after a refused set, own get %v; want the empty vCard", v)
					}
				}},
		})
	}
}
