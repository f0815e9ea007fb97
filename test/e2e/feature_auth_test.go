package e2e

import (
	"fmt"
	"strings"
	"testing"
)

// saslCondition extracts the SASL failure condition (RFC 6120 §6.5) from a <failure/>.
func saslCondition(failure string) string {
	for _, c := range []string{"aborted", "account-disabled", "credentials-expired", "encryption-required", "incorrect-encoding",
		"invalid-authzid", "invalid-mechanism", "malformed-request", "mechanism-too-weak", "not-authorized", "temporary-auth-failure"} {
		if strings.Contains(failure, "<"+c) {
			return c
		}
	}
	return ""
}

func TestAuth(t *testing.T) {
	t.Parallel()
	t.Run("rules", func(t *testing.T) {
		t.Parallel()
		runFeatureRows(t, ternOpts{}, authRows())
	})
	t.Run("lockout", func(t *testing.T) {
		t.Parallel()
		// auth_failures_per_ip = 3: the 4th attempt from the address is refused even with the
		// right password (RFC 6120 §6.5.12 temporary-auth-failure; pitfalls: brute force).
		srv := startTern(t, ternOpts{ExtraTOML: "auth_failures_per_ip = 3"})
		for i := range 3 {
			ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, srv.users[0], loginOpts{password: "wrong"})
			if ok || saslCondition(f) != "not-authorized" {
				t.Fatalf("wrong password, attempt %d: got %q; want not-authorized", i+1, f)
			}
		}
		ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, srv.users[1], loginOpts{})
		if ok || saslCondition(f) != "temporary-auth-failure" {
			t.Errorf("after 3 failures from this address: got ok=%v %q; want temporary-auth-failure", ok, f)
		}

		// tern unban lifts the address's refusal at once; the account that was guessed at
		// stays refused until it is unbanned too.
		out := ternCLI(t, srv, "unban", "--config", srv.config, "127.0.0.1")
		t.Logf("tern unban 127.0.0.1: %s", strings.TrimSpace(out))
		if ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, srv.users[1], loginOpts{}); !ok {
			t.Errorf("after tern unban of the address: login failed with %q", f)
		}
		if ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, srv.users[0], loginOpts{}); ok || saslCondition(f) != "temporary-auth-failure" {
			t.Errorf("the account guessed at 3 times: got ok=%v %q; want temporary-auth-failure until it is unbanned", ok, f)
		}
		ternCLI(t, srv, "unban", "--config", srv.config, srv.users[0])
		if ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, srv.users[0], loginOpts{}); !ok {
			t.Errorf("after tern unban of the account: login failed with %q", f)
		}
	})
	t.Run("trusted-networks", func(t *testing.T) {
		t.Parallel()
		// An address in limits.trusted_networks (a clinic's NAT) is exempt from the per-IP limits.
		srv := startTern(t, ternOpts{ExtraTOML: "auth_failures_per_ip = 1\nconns_per_ip = 1\ntrusted_networks = [\"127.0.0.0/8\"]"})
		for i := range 3 {
			if ok, _ := authenticate(dialRaw(t, &srv.target, false), &srv.target, fmt.Sprintf("nobody%d@%s", i, srv.domain), loginOpts{}); ok {
				t.Fatal("an unknown user logged in")
			}
		}
		a := online(t, &srv.target, srv.users[0], "a", "")
		b := online(t, &srv.target, srv.users[1], "b", "")
		a.send("<message to='" + b.jid + "' type='chat'><body>from behind the NAT</body></message>")
		b.wait("a message between two sessions from one trusted address", isMessageWithBody("from behind the NAT"))
	})
}

func authRows() []featureRow {
	return []featureRow{
		{name: "wrong-password-and-unknown-user", rule: "RFC 6120 §6.5.10 not-authorized; an unknown user fails exactly like a wrong password (no account enumeration)",
			users: []string{"aa1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
					_, wrong := authenticate(dialRaw(t, &srv.target, false), &srv.target, u[0], loginOpts{mech: mech, password: "wrong"})
					_, unknown := authenticate(dialRaw(t, &srv.target, false), &srv.target, "nobody@"+srv.domain, loginOpts{mech: mech})
					if saslCondition(wrong) != "not-authorized" {
						t.Errorf("%s wrong password: got %q; want not-authorized", mech, wrong)
					}
					if wrong != unknown {
						t.Errorf("%s: unknown user failed with %q, wrong password with %q; want the same", mech, unknown, wrong)
					}
				}
			}},
		{name: "authzid-other-user", rule: "RFC 6120 §6.5.6: an authorization identity other than the user's own is invalid-authzid",
			users: []string{"aa2", "ab2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				for _, mech := range []string{"SCRAM-SHA-256", "PLAIN"} {
					ok, f := authenticate(dialRaw(t, &srv.target, false), &srv.target, u[0], loginOpts{mech: mech, authzid: u[1]})
					if ok || saslCondition(f) != "invalid-authzid" {
						t.Errorf("%s with authzid %s: got ok=%v %q; want invalid-authzid", mech, u[1], ok, f)
					}
				}
				// Logged with the account it was tried with, for operators and fail2ban.
				for _, mech := range []string{"SCRAM-SHA-256", "PLAIN"} {
					waitLog(t, srv, `msg="authentication failed"`, "user="+localpart(u[0])+" ", "mechanism="+mech, "condition=invalid-authzid")
				}
				// The user's own bare JID as authzid is the same identity: allowed.
				c := connect(t, &srv.target, u[0], loginOpts{mech: "PLAIN", authzid: u[0]})
				c.sync()
			}},
		{name: "gs2-y-downgrade-refused-logged-counted", rule: "RFC 5802 §6: GS2 flag 'y' while -PLUS was offered is a downgrade and MUST fail; logged and counted, not a password guess",
			users: []string{"aa4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				// SCRAM-SHA-512: no other row uses it, so its counter is this row's alone.
				const metric = `tern_auth_failures_total{mechanism="SCRAM-SHA-512"}`
				before := metricValue(t, srv, metric)
				for i := range 4 { // more than once, to show it does not lock the account
					c := dialRaw(t, &srv.target, false)
					c.send(streamHeader(srv.domain))
					feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
					if !strings.Contains(feats, "SCRAM-SHA-512-PLUS") {
						t.Fatalf("no -PLUS mechanism offered over TLS: %s", feats)
					}
					c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-512'>" +
						b64("y,,n="+localpart(u[0])+",r=abcdefghijklmnop") + "</auth>")
					f := c.expect(`<failure[\s\S]*?</failure>|<challenge[^>]*>[^<]*</challenge>`)[0]
					if saslCondition(f) != "not-authorized" {
						t.Fatalf("attempt %d: GS2 'y' with -PLUS offered: got %s; want <failure><not-authorized/>", i+1, f)
					}
				}
				waitLog(t, srv, "SASL negotiation refused", "user="+localpart(u[0])+" ", "downgrade")
				if got := metricValue(t, srv, metric); got < before+4 {
					t.Errorf("%s went from %v to %v after 4 refusals; want +4", metric, before, got)
				}
				// Not counted towards a ban: the account still logs in from this address.
				connect(t, &srv.target, u[0], loginOpts{}).sync()
			}},
		{name: "plain-only-over-tls", rule: "RFC 6120 §13.9.4, RFC 4616 §6: PLAIN is offered and accepted only inside TLS",
			users: []string{"aa3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				raw := dialRaw(t, &srv.target, false) // inside STARTTLS: PLAIN works
				if ok, f := authenticate(raw, &srv.target, u[0], loginOpts{mech: "PLAIN"}); !ok {
					t.Errorf("PLAIN over TLS: %s", f)
				}
				c := dialPlainText(t, &srv.target)
				c.send(streamHeader(srv.domain))
				feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>|<(?:stream:)?features[^>]*/>`)[0]
				if strings.Contains(feats, ">PLAIN<") {
					t.Errorf("features before TLS offer PLAIN: %s", feats)
				}
				c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00"+localpart(u[0])+"\x00"+srv.password) + "</auth>")
				got := c.expect(`<success|<failure[\s\S]*?</failure>|<failure[^>]*/>|<stream:error>[\s\S]*?</stream:error>`)[0]
				if strings.HasPrefix(got, "<success") {
					t.Errorf("PLAIN succeeded without TLS")
				}
			}},
	}
}
