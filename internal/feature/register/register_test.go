package register_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/feature/presence"
	"github.com/tern-xmpp/tern/internal/feature/register"
	"github.com/tern-xmpp/tern/internal/feature/roster"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	alice = "alice@example.org"
	bob   = "bob@example.org"
)

func mods() []module.Module {
	trusted, _ := ratelimit.ParseNetworks([]string{"10.0.0.0/8"})
	return []module.Module{roster.Module{}, presence.Module{}, register.Module{
		Open:        func(d string) bool { return d == mt.Domain },
		PerIP:       ratelimit.NewWindow(2, time.Hour),
		Trusted:     trusted,
		MinPassword: 8,
	}}
}

func form(user, pass string) string {
	return "<query xmlns='jabber:iq:register'><username>" + user + "</username><password>" + pass + "</password></query>"
}

func set(payload string) string { return "<iq type='set' id='r'>" + payload + "</iq>" }

// key is alice's stored SCRAM-SHA-256 key: it changes with the password.
func key(t *testing.T, h *mt.Harness, user string) []byte {
	t.Helper()
	u, err := h.Store.Users().GetUser(context.Background(), mt.Domain, user)
	if err != nil {
		t.Fatal(err)
	}
	return u.SHA256.StoredKey
}

// preAuth sends an iq before authentication, as c2s does, from ip.
func preAuth(t *testing.T, h *mt.Harness, domain, ip string, tls bool, iq string) *xml.Element {
	t.Helper()
	el, err := xml.Parse([]byte("<iq xmlns='jabber:client' " + iq[len("<iq "):]))
	if err != nil {
		t.Fatal(err)
	}
	r := h.Host.PreAuthIQ(context.Background(), domain, ip, tls, el)
	if r == nil {
		t.Fatalf("%s: not handled", iq)
	}
	return r
}

func TestRegisterLoggedIn(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "registered", Rule: "XEP-0077 §3.1 (example 'already registered'): a logged-in get answers <registered/> with the username",
			Run: func(t *testing.T, h *mt.Harness) {
				q := h.Login("alice", "phone").Reply("<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>").Child(register.NS, "query")
				if q == nil || q.Child(register.NS, "registered") == nil || q.ChildText(register.NS, "username") != "alice" {
					t.Errorf("got %v; want <registered/> and username alice", q)
				}
			}},
		{Name: "password-change", Rule: "XEP-0077 §3.3: a logged-in user changes its password; the stored credentials change",
			Run: func(t *testing.T, h *mt.Harness) {
				before := key(t, h, "alice")
				if r := h.Login("alice", "phone").Reply(set(form("alice", "new-password"))); r.Attr("type") != "result" {
					t.Fatalf("got %s", r)
				}
				if bytes.Equal(before, key(t, h, "alice")) {
					t.Errorf("the credentials did not change")
				}
			}},
		{Name: "password-refused", Rule: "XEP-0077 §3.3 (limits.min_password_length), RFC 6120 §8.3.3.9: a short password is not-acceptable with a text saying why, an empty one bad-request, another user's not-allowed; the credentials stay",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				before, bobs := key(t, h, "alice"), key(t, h, "bob")
				for _, tc := range []struct{ form, cond, text string }{
					{form("alice", "short"), "not-acceptable", "password too short: at least 8 characters (limits.min_password_length)"},
					{form("alice", ""), "bad-request", ""},
					{form("bob", "long-enough"), "not-allowed", ""},
				} {
					r := a.Reply(set(tc.form))
					if mt.ErrorCondition(r) != tc.cond {
						t.Errorf("%s: got %s; want %s", tc.form, r, tc.cond)
					} else if tc.text != "" && r.Child("", "error").ChildText("", "text") != tc.text {
						t.Errorf("%s: error text %q; want %q", tc.form, r.Child("", "error").ChildText("", "text"), tc.text)
					}
				}
				if !bytes.Equal(before, key(t, h, "alice")) || !bytes.Equal(bobs, key(t, h, "bob")) {
					t.Errorf("a refused change changed credentials")
				}
			}},
		{Name: "remove", Rule: "XEP-0077 §3.2, RFC 6121 §2.5.2: removal is answered, then every session of the account ends with not-authorized, its contacts are unsubscribed, and the account is gone",
			Run: func(t *testing.T, h *mt.Harness) {
				for _, p := range [][2]string{{alice, bob}, {bob, alice}} {
					h.Store.Roster().PutItem(context.Background(), p[0], storage.RosterItem{Contact: p[1], Subscription: storage.SubBoth}, 0)
				}
				b, a, other := h.Online("bob", "pc"), h.Online("alice", "phone"), h.Online("alice", "laptop")
				b.Take()
				if r := a.Reply(set("<query xmlns='jabber:iq:register'><remove/></query>")); r.Attr("type") != "result" {
					t.Fatalf("got %s", r)
				}
				for _, s := range []*mt.Session{a, other} {
					if e := s.Closed(); e == nil || e.Condition != "not-authorized" {
						t.Errorf("%s closed with %v; want not-authorized", s.JID, e)
					}
				}
				got := mt.Filter(b.Take(), "presence", "from", alice)
				if len(got) != 2 || got[0].Attr("type") != "unsubscribe" || got[1].Attr("type") != "unsubscribed" {
					t.Errorf("bob got %v; want unsubscribe then unsubscribed from %s", got, alice)
				}
				if _, err := h.Store.Users().GetUser(context.Background(), mt.Domain, "alice"); !errors.Is(err, storage.ErrNotFound) {
					t.Errorf("the account is still there: %v", err)
				}
				if h.Router.UserExists(context.Background(), jid.MustParse(alice)) {
					t.Errorf("the router still sees the account")
				}
				// A new account of the same name inherits no roster.
				h.Store.Users().CreateUser(context.Background(), storage.User{Domain: mt.Domain, Username: "alice"})
				if items, _, _ := h.Store.Roster().Items(context.Background(), alice); len(items) != 0 {
					t.Errorf("the re-created account has roster items %v", items)
				}
			}},
	})
}

func TestRegisterBeforeLogin(t *testing.T) {
	mt.Rules(t, []string{"taken"}, mods, []mt.Rule{
		{Name: "closed-domain", Rule: "XEP-0077 §3.1: where registration is off, the form is service-unavailable",
			Run: func(t *testing.T, h *mt.Harness) {
				if r := preAuth(t, h, "other.example", "192.0.2.1", true, "<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>"); mt.ErrorCondition(r) != "service-unavailable" {
					t.Errorf("got %s", r)
				}
			}},
		{Name: "tls-only", Rule: "XEP-0077 Security Considerations: tern takes registrations only over TLS: not-authorized without",
			Run: func(t *testing.T, h *mt.Harness) {
				if r := preAuth(t, h, mt.Domain, "192.0.2.1", false, set(form("new", "long-enough"))); mt.ErrorCondition(r) != "not-authorized" {
					t.Errorf("got %s", r)
				}
			}},
		{Name: "form-and-register", Rule: "XEP-0077 §3.1: the form asks for username and password; a set creates the account; a taken name is conflict",
			Run: func(t *testing.T, h *mt.Harness) {
				q := preAuth(t, h, mt.Domain, "192.0.2.1", true, "<iq type='get' id='g'><query xmlns='jabber:iq:register'/></iq>").Child(register.NS, "query")
				if q == nil || q.Child(register.NS, "username") == nil || q.Child(register.NS, "password") == nil {
					t.Fatalf("form %v; want username and password", q)
				}
				if r := preAuth(t, h, mt.Domain, "192.0.2.1", true, set(form("newbie", "long-enough"))); r.Attr("type") != "result" {
					t.Fatalf("register: %s", r)
				}
				if _, err := h.Store.Users().GetUser(context.Background(), mt.Domain, "newbie"); err != nil {
					t.Errorf("the account was not created: %v", err)
				}
				if r := preAuth(t, h, mt.Domain, "192.0.2.2", true, set(form("taken", "long-enough"))); mt.ErrorCondition(r) != "conflict" {
					t.Errorf("taken name: %s; want conflict", r)
				}
			}},
		{Name: "refused-forms", Rule: "XEP-0077 §3.1: a form the server will not take is not-acceptable (short password, missing field), a bad username jid-malformed, a removal before login not-authorized",
			Run: func(t *testing.T, h *mt.Harness) {
				for _, tc := range []struct{ payload, cond string }{
					{form("newbie", "1234567"), "not-acceptable"},
					{form("newbie", ""), "not-acceptable"},
					{form("", "long-enough"), "not-acceptable"},
					{form("new@bie", "long-enough"), "jid-malformed"},
					{"<query xmlns='jabber:iq:register'><remove/></query>", "not-authorized"},
				} {
					if r := preAuth(t, h, mt.Domain, "192.0.2.1", true, set(tc.payload)); mt.ErrorCondition(r) != tc.cond {
						t.Errorf("%s: %s; want %s", tc.payload, r, tc.cond)
					}
				}
				// Refused forms cost the address none of its registrations (2 per hour here).
				for _, u := range []string{"one", "two"} {
					if r := preAuth(t, h, mt.Domain, "192.0.2.1", true, set(form(u, "long-enough"))); r.Attr("type") != "result" {
						t.Errorf("register %s after refused forms: %s", u, r)
					}
				}
			}},
		{Name: "per-address-limit", Rule: "XEP-0077 Security Considerations (tern: limits.registrations_per_ip): past the limit an address gets resource-constraint; trusted networks are exempt",
			Run: func(t *testing.T, h *mt.Harness) {
				for i, u := range []string{"u1", "u2", "u3"} {
					r := preAuth(t, h, mt.Domain, "192.0.2.9", true, set(form(u, "long-enough")))
					if want := map[bool]string{true: "", false: "resource-constraint"}[i < 2]; mt.ErrorCondition(r) != want {
						t.Errorf("registration %d: %s; want %q", i+1, r, want)
					}
				}
				for _, u := range []string{"t1", "t2", "t3"} {
					if r := preAuth(t, h, mt.Domain, "10.1.2.3", true, set(form(u, "long-enough"))); r.Attr("type") != "result" {
						t.Errorf("trusted %s: %s", u, r)
					}
				}
			}},
		{Name: "stream-feature", Rule: "XEP-0077 §4: the registration stream feature is offered where registration is open, only there",
			Run: func(t *testing.T, h *mt.Harness) {
				if f := h.Host.PreAuthFeatures(mt.Domain); len(f) != 1 || f[0].Name != "register" {
					t.Errorf("features %v; want <register/>", f)
				}
				if f := h.Host.PreAuthFeatures("other.example"); len(f) != 0 {
					t.Errorf("closed domain features %v", f)
				}
			}},
	})
}
