package sasl

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
	"testing"
)

// FuzzScramServer feeds arbitrary client-first and client-final messages
// to every SCRAM mechanism: no panic, every error a *Failure, and no
// success without the password.
func FuzzScramServer(f *testing.F) {
	acc := newAccounts(f, "juliet", password)
	srv, _ := tlsPair(f, testCert(f, x509.ECDSAWithSHA256), tls.VersionTLS13)
	for _, s := range [][2]string{
		{"n,,n=juliet,r=abc", "c=biws,r=NONCE,p=AAAA"},
		{"y,,n=juliet,r=abc", "c=eSws,r=NONCE,p=" + strings.Repeat("A", 43) + "="},
		{"p=tls-exporter,,n=juliet,r=abc", "c=cD10bHMtZXhwb3J0ZXIsLA==,r=NONCE,x=y,p=AAAA"},
		{"p=tls-server-end-point,a=juliet@example.com,n=juliet,r=abc", "c=,r=NONCE,p="},
		{"n,a=juliet=2C,n=jul=3Diet,r=abc,e=f", "c=biws,r=NONCE"},
		{"n,,n=romeo,r=abc", "c=biws,r=NONCE,p=" + strings.Repeat("A", 86) + "=="},
		{"", ""},
	} {
		f.Add(s[0], s[1], uint8(0))
	}
	mechs := []string{ScramSHA1, ScramSHA256, ScramSHA512, ScramSHA1Plus, ScramSHA256Plus, ScramSHA512Plus}
	f.Fuzz(func(t *testing.T, first, final string, sel uint8) {
		mech := mechs[int(sel)%len(mechs)]
		sess, err := NewSession(mech, acc.config(&srv, nil, sel&0x80 == 0 || strings.HasSuffix(mech, "-PLUS")))
		if err != nil {
			t.Fatal(err)
		}
		check := func(err error) {
			var fl *Failure
			if err != nil && !errors.As(err, &fl) {
				t.Fatalf("error %v is not a *Failure", err)
			}
		}
		out, _, err := sess.Step(context.Background(), []byte(first))
		check(err)
		if err != nil {
			return
		}
		// Echo the server nonce so the fuzzer can reach the proof check.
		nonce := strings.TrimPrefix(strings.SplitN(string(out), ",", 2)[0], "r=")
		_, done, err := sess.Step(context.Background(), []byte(strings.ReplaceAll(final, "NONCE", nonce)))
		check(err)
		if done {
			t.Fatalf("authenticated without the password: %q / %q", first, final)
		}
	})
}

func FuzzPlain(f *testing.F) {
	acc := newAccounts(f, "juliet", password)
	srv, _ := tlsPair(f, testCert(f, x509.ECDSAWithSHA256), tls.VersionTLS13)
	f.Add([]byte("\x00juliet\x00wrong"))
	f.Add([]byte("juliet@example.com\x00juliet\x00x"))
	f.Fuzz(func(t *testing.T, msg []byte) {
		sess, err := NewSession(Plain, acc.config(&srv, nil, false))
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := sess.Step(context.Background(), msg)
		var fl *Failure
		if err != nil && !errors.As(err, &fl) {
			t.Fatalf("error %v is not a *Failure", err)
		}
		if done && !strings.HasSuffix(string(msg), "\x00"+password) {
			t.Fatalf("PLAIN accepted %q", msg)
		}
	})
}
