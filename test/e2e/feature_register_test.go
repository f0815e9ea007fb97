package e2e

import (
	"strings"
	"testing"
)

const nsRegister = "jabber:iq:register"

// preAuthStream opens a TLS stream without authenticating and returns the stream features.
func preAuthStream(t *testing.T, srv *target) (*rawClient, string) {
	t.Helper()
	raw := dialRaw(t, srv, true)
	raw.send(streamHeader(srv.domain))
	return raw, raw.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
}

// rawIQ sends an iq on a raw (unauthenticated) stream and returns the reply as a tree.
func rawIQ(t *testing.T, raw *rawClient, id, typ, payload string) *elem {
	t.Helper()
	raw.send("<iq type='" + typ + "' id='" + id + "'>" + payload + "</iq>")
	return parseElem(t, raw.expect(`(?s)<iq[^>]*\bid=['"]` + id + `['"][^>]*?(?:/>|>.*?</iq>)`)[0])
}

func registerQuery(user, password string) string {
	return "<query xmlns='" + nsRegister + "'><username>" + user + "</username><password>" + password + "</password></query>"
}

func TestRegistration(t *testing.T) {
	t.Parallel()
	t.Run("off-by-default", func(t *testing.T) {
		t.Parallel()
		srv := startTern(t, ternOpts{})
		raw, feats := preAuthStream(t, &srv.target)
		if strings.Contains(feats, "http://jabber.org/features/iq-register") {
			t.Errorf("features %s advertise registration while it is off", feats)
		}
		r := rawIQ(t, raw, "reg1", "get", "<query xmlns='"+nsRegister+"'/>")
		wantCondition(t, "XEP-0077 §3.1: registration disabled -> service-unavailable", r, "service-unavailable")
	})
	t.Run("on", func(t *testing.T) {
		t.Parallel()
		runFeatureRows(t, ternOpts{Registration: true}, registrationRows())
	})
}

func registrationRows() []featureRow {
	return []featureRow{
		{name: "password-too-short", rule: "XEP-0077 §3.1 not-acceptable for a form the server will not take; a password change to a short one refused and the old password kept (limits.min_password_length, default 8)",
			run: func(t *testing.T, srv *ternProc, u []string) {
				const why = "password too short: at least 8 characters (limits.min_password_length)"
				raw, _ := preAuthStream(t, &srv.target)
				r := rawIQ(t, raw, "short1", "set", registerQuery("shorty", "1234567"))
				wantCondition(t, "register with 7 characters", r, "not-acceptable")
				if got := r.path("error", nsStanzaErr+" text").Text; got != why {
					t.Errorf("error text %q, want %q", got, why)
				}
				// Counted in characters, not bytes: 8 two-byte characters are enough.
				wantCondition(t, "register with 8 characters", rawIQ(t, raw, "short2", "set", registerQuery("shorty", "éééééééé")), "")

				me := srv.user("shorty")
				c := connect(t, &srv.target, me, loginOpts{password: "éééééééé"})
				r = c.iq("set", "", registerQuery("shorty", "short"))
				wantCondition(t, "change to 5 characters (§3.3)", r, "not-acceptable")
				if got := r.path("error", nsStanzaErr+" text").Text; got != why {
					t.Errorf("password change: error text %q, want %q", got, why)
				}
				if ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, me, loginOpts{password: "éééééééé"}); !ok {
					t.Errorf("the password no longer works after a refused change: %s", f)
				}
			}},
		{name: "register-login-change-remove", rule: "XEP-0077 §3.1 register (conflict when taken), §3.3 password change, §3.2 removal ends the stream and the account",
			users: []string{"taken"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				raw, feats := preAuthStream(t, &srv.target)
				if !strings.Contains(feats, "http://jabber.org/features/iq-register") {
					t.Errorf("features %s: no <register xmlns='http://jabber.org/features/iq-register'/> (XEP-0077 §4)", feats)
				}
				form := rawIQ(t, raw, "reg1", "get", "<query xmlns='"+nsRegister+"'/>")
				if q := form.child(nsRegister, "query"); q == nil || q.child(nsRegister, "username") == nil || q.child(nsRegister, "password") == nil {
					t.Fatalf("registration form: got %s; want <username/> and <password/> (§3.1)", form)
				}
				wantCondition(t, "register a new account", rawIQ(t, raw, "reg2", "set", registerQuery("newbie", "first-pass")), "")
				wantCondition(t, "register the same name again (§3.1: conflict)", rawIQ(t, raw, "reg3", "set", registerQuery("newbie", "other-pass")), "conflict")
				wantCondition(t, "register a name created by the admin", rawIQ(t, raw, "reg4", "set", registerQuery("taken", "other-pass")), "conflict")

				me := srv.user("newbie")
				c := connect(t, &srv.target, me, loginOpts{password: "first-pass"})
				wantCondition(t, "password change (§3.3)", c.iq("set", "", registerQuery("newbie", "second-pass")), "")
				if ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, me, loginOpts{password: "first-pass"}); ok {
					t.Errorf("the old password still works after a change")
				} else if !strings.Contains(f, "not-authorized") {
					t.Errorf("old password: got %s; want not-authorized", f)
				}
				c2 := connect(t, &srv.target, me, loginOpts{password: "second-pass", resource: "two"})
				wantCondition(t, "account removal (§3.2)", c2.iq("set", "", "<query xmlns='"+nsRegister+"'><remove/></query>"), "")
				c2.waitStreamEnd()
				c.waitStreamEnd()
				if ok, _ := authenticate(dialRaw(t, &srv.target, false), &srv.target, me, loginOpts{password: "second-pass"}); ok {
					t.Errorf("a removed account can still log in")
				}
			}},
	}
}
