package sasl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"strings"
	"testing"

	msasl "mellium.im/sasl"
)

func TestPlain(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	srv, cli := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS13)
	cfg := acc.config(&srv, nil, false)

	sess := mustSession(t, Plain, cfg)
	if err := runMellium(t, msasl.Plain, "Juliet", password, "juliet@example.com", &cli, sess); err != nil {
		t.Fatalf("PLAIN login: %v", err)
	}
	if sess.Username() != "juliet" {
		t.Errorf("Username() = %q", sess.Username())
	}

	for _, tc := range []struct {
		name, msg, want string
	}{
		{"ok", "\x00juliet\x00" + password, ""},
		{"wrong password", "\x00juliet\x00wrong", NotAuthorized},
		{"unknown user", "\x00romeo\x00" + password, NotAuthorized},
		{"invalid username", "\x00jul iet\x00" + password, NotAuthorized},
		{"other authzid", "romeo@example.com\x00juliet\x00" + password, InvalidAuthzid},
		{"full JID authzid", "juliet@example.com/r\x00juliet\x00" + password, InvalidAuthzid},
		{"no separators", "juliet" + password, MalformedRequest},
		{"one separator", "juliet\x00" + password, MalformedRequest},
		{"four fields", "\x00juliet\x00" + password + "\x00x", MalformedRequest},
		{"empty authcid", "\x00\x00" + password, MalformedRequest},
		{"empty password", "\x00juliet\x00", MalformedRequest},
		{"empty message", "", MalformedRequest},
		{"invalid UTF-8", "\x00juliet\x00\xff", MalformedRequest},
		{"too long", "\x00juliet\x00" + strings.Repeat("a", 4000), MalformedRequest},
	} {
		sess := mustSession(t, Plain, cfg)
		_, done, err := sess.Step(context.Background(), []byte(tc.msg))
		if condition(err) != tc.want || done != (tc.want == "") {
			t.Errorf("%s: done=%v err=%v; want %q", tc.name, done, err, tc.want)
		}
	}
	// An unknown user and a wrong password give the same failure.
	a := mustSession(t, Plain, cfg)
	_, _, e1 := a.Step(context.Background(), []byte("\x00juliet\x00wrong"))
	b := mustSession(t, Plain, cfg)
	_, _, e2 := b.Step(context.Background(), []byte("\x00romeo\x00wrong"))
	if e1.Error() != e2.Error() {
		t.Errorf("wrong password %q vs unknown user %q", e1, e2)
	}

	// No initial response: empty challenge, then the message.
	sess = mustSession(t, Plain, cfg)
	out, done, err := sess.Step(context.Background(), nil)
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("nil initial response: %q %v %v", out, done, err)
	}
	if _, done, err := sess.Step(context.Background(), []byte("\x00juliet\x00"+password)); err != nil || !done {
		t.Fatalf("PLAIN after empty challenge: %v %v", done, err)
	}
	if _, _, err := sess.Step(context.Background(), []byte("\x00juliet\x00"+password)); condition(err) != MalformedRequest {
		t.Errorf("Step after success: %v", err)
	}
}

func TestPlainPolicy(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	srv, _ := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS13)
	cfg := acc.config(nil, nil, false)
	if _, err := NewSession(Plain, cfg); condition(err) != EncryptionRequired {
		t.Errorf("PLAIN without TLS: %v; want encryption-required", err)
	}
	cfg = acc.config(&srv, nil, false)
	cfg.AllowPlain = false
	if _, err := NewSession(Plain, cfg); condition(err) != InvalidMechanism {
		t.Errorf("PLAIN not allowed: %v; want invalid-mechanism", err)
	}
}
