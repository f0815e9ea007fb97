package sasl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"testing"

	"github.com/xdg-go/scram"
)

// TestBareJIDAuthcid: the SASL username may be the bare JID of the
// stream's domain (TIM+ clients send it) or the localpart; a bare JID of
// another domain, or with a resource, fails like an unknown user.
func TestBareJIDAuthcid(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	srv, _ := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS13)
	for _, tc := range []struct{ user, want string }{
		{"juliet", ""},
		{"juliet@example.com", ""},
		{"Juliet@Example.COM", ""},
		{"juliet@example.org", NotAuthorized},
		{"juliet@example.com/r", NotAuthorized},
		{"@example.com", NotAuthorized},
	} {
		sess := mustSession(t, Plain, acc.config(&srv, nil, false))
		_, done, err := sess.Step(context.Background(), []byte("\x00"+tc.user+"\x00"+password))
		if condition(err) != tc.want || (tc.want == "" && (!done || sess.Username() != "juliet")) {
			t.Errorf("PLAIN %q: done=%v user=%q err=%v; want %q", tc.user, done, sess.Username(), err, tc.want)
		}
		sess = mustSession(t, ScramSHA256, acc.config(nil, nil, false))
		if err := runXdg(t, scram.SHA256, tc.user, password, xdgOpt{}, sess); condition(err) != tc.want {
			t.Errorf("SCRAM %q: %v; want %q", tc.user, err, tc.want)
		}
	}
}
