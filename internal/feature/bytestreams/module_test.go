package bytestreams_test

import (
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/bytestreams"
	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func mods() []module.Module {
	c := &clock{t: time.Now()}
	return []module.Module{disco.Module{}, newModule(c)}
}

func credIQ(id string) string {
	return "<iq type='get' id='" + id + "' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'/></iq>"
}

func TestIQ(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "disco-items", Rule: "XEP-0065 §4 (XEP-0030 §4.1): disco#items of the server lists the proxy; TIM+ names it ftproxystream.<domain>",
			Run: func(t *testing.T, h *mt.Harness) {
				r := h.Login("alice", "pc").Reply("<iq type='get' id='i' to='" + mt.Domain + "'><query xmlns='" + disco.NSItems + "'/></iq>")
				var jids []string
				for _, it := range r.Child(disco.NSItems, "query").Elements() {
					jids = append(jids, it.Attr("jid"))
				}
				if !slices.Contains(jids, service) {
					t.Errorf("disco#items %v lack %s", jids, service)
				}
			}},
		{Name: "disco-info", Rule: "XEP-0065 §4 Example 6: the proxy is identity proxy/bytestreams with feature bytestreams (and the TIM+ credRequest namespace)",
			Run: func(t *testing.T, h *mt.Harness) {
				r := h.Login("alice", "pc").Reply("<iq type='get' id='i' to='" + service + "'><query xmlns='" + disco.NSInfo + "'/></iq>")
				q := r.Child(disco.NSInfo, "query")
				id := q.Child(disco.NSInfo, "identity")
				if id == nil || id.Attr("category") != "proxy" || id.Attr("type") != "bytestreams" {
					t.Errorf("identity: %s", r)
				}
				var fs []string
				for _, f := range q.Elements() {
					if f.Name == "feature" {
						fs = append(fs, f.Attr("var"))
					}
				}
				if !slices.Contains(fs, bytestreams.NS) || !slices.Contains(fs, bytestreams.NSCredReq) {
					t.Errorf("features %v", fs)
				}
			}},
		{Name: "streamhost", Rule: "XEP-0065 §4 Example 9-10: a bytestreams query get returns <streamhost jid host port/> of the proxy",
			Run: func(t *testing.T, h *mt.Harness) {
				listening(t, h)
				r := h.Login("alice", "pc").Reply("<iq type='get' id='sh' to='" + service + "'><query xmlns='" + bytestreams.NS + "'/></iq>")
				sh := r.Child(bytestreams.NS, "query").Child(bytestreams.NS, "streamhost")
				if r.Attr("from") != service || sh == nil || sh.Attr("jid") != service || sh.Attr("host") != "127.0.0.1" || sh.Attr("port") == "" || sh.Attr("port") == "0" {
					t.Errorf("streamhost: %s", r)
				}
			}},
		{Name: "streamhost-not-listening", Rule: "XEP-0065 §4: a proxy unable to act as a StreamHost returns not-allowed",
			Run: func(t *testing.T, h *mt.Harness) {
				r := h.Login("alice", "pc").Reply("<iq type='get' id='sh' to='" + service + "'><query xmlns='" + bytestreams.NS + "'/></iq>")
				if c := mt.ErrorCondition(r); c != "not-allowed" {
					t.Errorf("got %s, want not-allowed", r)
				}
			}},
		{Name: "activate-unknown-sid", Rule: "XEP-0065 §6.3.5: activating a bytestream nobody connected for is item-not-found",
			Run: func(t *testing.T, h *mt.Harness) {
				listening(t, h)
				r := h.Login("alice", "pc").Reply(activateIQ("nosuch", "bob@example.org/pc"))
				if c := mt.ErrorCondition(r); c != "item-not-found" || errText(r) == "" {
					t.Errorf("got %s, want item-not-found with a text", r)
				}
			}},
		{Name: "activate-malformed", Rule: "XEP-0065 §6.3.5: an activation without sid or <activate/>, or with a bad JID, is refused naming the problem",
			Run: func(t *testing.T, h *mt.Harness) {
				listening(t, h)
				a := h.Login("alice", "pc")
				for iq, want := range map[string]string{
					"<iq type='set' id='x' to='" + service + "'><query xmlns='" + bytestreams.NS + "'><activate>bob@example.org/pc</activate></query></iq>":                                        "bad-request",
					"<iq type='set' id='x' to='" + service + "'><query xmlns='" + bytestreams.NS + "' sid='s'/></iq>":                                                                              "bad-request",
					"<iq type='set' id='x' to='" + service + "'><query xmlns='" + bytestreams.NS + "' sid='" + strings.Repeat("s", 200) + "'><activate>bob@example.org/pc</activate></query></iq>": "bad-request",
					activateIQ("s", "@@bad"): "jid-malformed",
				} {
					r := a.Reply(iq)
					if c := mt.ErrorCondition(r); c != want || errText(r) == "" {
						t.Errorf("%s:\ngot %s, want %s with a text", iq, r, want)
					}
				}
			}},
		{Name: "activate-by-requester", Rule: "XEP-0065 §6.3.5: with the target and the requester connected under SHA1(SID+requester+target), the requester's activate gets a result and the bytes flow",
			Run: func(t *testing.T, h *mt.Harness) {
				// Covered with a transfer in TestTransfer; here the iq side.
				f := fixtureOf(t, h)
				alice, bob := h.Login("alice", "pc"), h.Login("bob", "pc")
				req, tgt := f.pair(t, alice, bob, "sid1")
				req.Write([]byte("hi"))
				got := make([]byte, 2)
				tgt.Read(got)
				req.Close()
				tgt.Close()
				if string(got) != "hi" {
					t.Errorf("relayed %q", got)
				}
			}},
		{Name: "activate-by-other", Rule: "XEP-0065 §6.3.5: only the requester may activate: anyone else's hash names no bytestream (item-not-found); the target alone connected is not-allowed",
			Run: func(t *testing.T, h *mt.Harness) {
				f := fixtureOf(t, h)
				alice, bob := h.Login("alice", "pc"), h.Login("bob", "pc")
				addr := f.addr(t, alice)
				hash := bytestreams.StreamHash("sid2", alice.JID.String(), bob.JID.String())
				tgt, err := f.dial(addr, credentials(t, bob), hash)
				if err != nil {
					t.Fatal(err)
				}
				defer tgt.Close()
				if r := alice.Reply(activateIQ("sid2", bob.JID.String())); mt.ErrorCondition(r) != "not-allowed" {
					t.Errorf("one party connected: got %s, want not-allowed", r)
				}
				req, err := f.dial(addr, credentials(t, alice), hash)
				if err != nil {
					t.Fatal(err)
				}
				defer req.Close()
				// bob (the target) and alice's other resource are not the requester.
				if r := bob.Reply(activateIQ("sid2", bob.JID.String())); mt.ErrorCondition(r) != "item-not-found" {
					t.Errorf("the target activates: got %s, want item-not-found", r)
				}
				if r := h.Login("alice", "tablet").Reply(activateIQ("sid2", bob.JID.String())); mt.ErrorCondition(r) != "item-not-found" {
					t.Errorf("another resource activates: got %s, want item-not-found", r)
				}
				if r := alice.Reply(activateIQ("sid2", bob.JID.String())); r.Attr("type") != "result" {
					t.Errorf("the requester activates: %s", r)
				}
				if r := alice.Reply(activateIQ("sid2", bob.JID.String())); mt.ErrorCondition(r) != "item-not-found" {
					t.Errorf("activated twice: got %s, want item-not-found", r)
				}
			}},
		{Name: "credrequest-shape", Rule: "TIM+ credRequest: the result holds <credentials subject secret/> of 26 characters and <ca> with the base64 DER anchor of the proxy certificate; each request gets new values",
			Run: func(t *testing.T, h *mt.Harness) {
				listening(t, h)
				a := h.Login("alice", "pc")
				seen := map[string]bool{}
				for i := range 5 {
					r := a.Reply(credIQ("c"))
					cr := r.Child(bytestreams.NSCredReq, "credRequest")
					if cr == nil {
						t.Fatalf("no credRequest: %s", r)
					}
					c := cr.Child(bytestreams.NSCredReq, "credentials")
					if c == nil || len(c.Attr("subject")) != 26 || len(c.Attr("secret")) != 26 || cr.ChildText(bytestreams.NSCredReq, "ca") == "" {
						t.Fatalf("shape: %s", r)
					}
					for _, v := range []string{c.Attr("subject"), c.Attr("secret")} {
						if seen[v] {
							t.Errorf("request %d repeats %s", i, v)
						}
						seen[v] = true
					}
				}
				// The ca verifies the proxy's certificate for its name.
				credentials(t, a)
			}},
		{Name: "credrequest-malformed", Rule: "TIM+ credRequest is an empty get: a set or one with children is bad-request naming the problem",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "pc")
				for _, iq := range []string{
					"<iq type='set' id='c' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'/></iq>",
					"<iq type='get' id='c' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'><x/></credRequest></iq>",
				} {
					if r := a.Reply(iq); mt.ErrorCondition(r) != "bad-request" || errText(r) == "" {
						t.Errorf("%s: got %s", iq, r)
					}
				}
			}},
		{Name: "credrequest-rate", Rule: "issue 13: credential requests are rate-limited per user (credentials_per_user outstanding, credentials_per_minute)",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "pc")
				var last *xml.Element
				for range 17 {
					last = a.Reply(credIQ("c"))
				}
				if c := mt.ErrorCondition(last); c != "resource-constraint" {
					t.Errorf("17th outstanding credential: got %s, want resource-constraint", last)
				}
				if r := h.Login("bob", "pc").Reply(credIQ("c")); r.Attr("type") != "result" {
					t.Errorf("another user is not limited: %s", r)
				}
			}},
		{Name: "remote-user", Rule: "TIM+: the receiver asks the sender's proxy over s2s: a remote user's credRequest is answered (to federation)",
			Run: func(t *testing.T, h *mt.Harness) {
				listening(t, h)
				fed := h.Federate()
				h.FromRemote("<iq type='get' id='rc' from='carol@remote.example/pc' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'/></iq>")
				got := fed.Take()
				if len(got) != 1 || got[0].Attr("type") != "result" || got[0].Attr("to") != "carol@remote.example/pc" || got[0].Attr("from") != service {
					t.Fatalf("to federation: %v", got)
				}
				h.FromRemote("<iq type='get' id='rs' from='remote.example' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'/></iq>")
				if got := fed.Take(); len(got) != 1 || mt.ErrorCondition(got[0]) != "forbidden" {
					t.Errorf("a server (no localpart): %v, want forbidden", got)
				}
			}},
	})
}

// fixtureOf starts the proxy of a Rules harness and returns a fixture
// around it (plain TLS client, the harness's module).
func fixtureOf(t *testing.T, h *mt.Harness) *fixture {
	listening(t, h)
	return &fixture{h: h, tls: true}
}

func TestRemoteOff(t *testing.T) {
	c := &clock{t: time.Now()}
	m := newModule(c, func(c *bytestreams.Config) { c.Remote = false })
	h := mt.New(t, nil, m)
	fed := h.Federate()
	h.FromRemote("<iq type='get' id='rc' from='carol@remote.example/pc' to='" + service + "'><credRequest xmlns='" + bytestreams.NSCredReq + "'/></iq>")
	if got := fed.Take(); len(got) != 1 || mt.ErrorCondition(got[0]) != "forbidden" || errText(got[0]) == "" {
		t.Errorf("remote = false, a remote user: %v, want forbidden with a text", got)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, c := range []struct {
		cfg  func(*bytestreams.Config)
		want string
	}{
		{func(c *bytestreams.Config) { c.Listen = "7777" }, "want host:port"},
		{func(c *bytestreams.Config) { c.Name = "" }, "name is empty"},
	} {
		m := newModule(&clock{}, c.cfg)
		h := module.NewHost(mt.New(t, nil).Router, nil, slog.New(slog.DiscardHandler), nil, nil)
		if err := h.Load([]module.Module{m}, nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want an error saying %q", err, c.want)
		}
	}
	// Off (no listen): no service, nothing provided, nothing listens.
	m := bytestreams.New()
	h := mt.New(t, []string{"alice"}, disco.Module{}, m)
	if _, err := module.Depend[bytestreams.Listener](h.Host, "bytestreams"); err == nil {
		t.Errorf("an unconfigured proxy provides a listener")
	}
	if r := h.Login("alice", "pc").Reply(credIQ("c")); mt.ErrorCondition(r) == "" {
		t.Errorf("an unconfigured proxy answers: %s", r)
	}
}
