package sasl

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/xdg-go/scram"
	msasl "mellium.im/sasl"
)

const (
	password = "correct horse battery staple"
	// SASLprep maps NO-BREAK SPACE to SPACE (RFC 4013 §2.1): xdg-go's client
	// sends the prepared form, NewUser stores it.
	passwordNBSP = "correct\u00a0horse"
)

// runMellium drives a mellium.im/sasl client against sess.
func runMellium(t *testing.T, m msasl.Mechanism, user, pass, authz string, cs *tls.ConnectionState, sess Session) error {
	t.Helper()
	opts := []msasl.Option{
		msasl.Credentials(func() ([]byte, []byte, []byte) { return []byte(user), []byte(pass), []byte(authz) }),
		msasl.RemoteMechanisms(m.Name),
	}
	if cs != nil {
		opts = append(opts, msasl.TLSState(*cs))
	}
	c := msasl.NewClient(m, opts...)
	_, resp, err := c.Step(nil)
	if err != nil {
		t.Fatalf("mellium first step: %v", err)
	}
	for range 4 {
		out, done, err := sess.Step(context.Background(), resp)
		if err != nil {
			return err
		}
		if done {
			if len(out) > 0 {
				// The client checks the server signature (mutual auth).
				if _, _, err := c.Step(out); err != nil {
					t.Fatalf("mellium rejected the server's final message %q: %v", out, err)
				}
			}
			return nil
		}
		if _, resp, err = c.Step(out); err != nil {
			t.Fatalf("mellium step on %q: %v", out, err)
		}
	}
	t.Fatal("exchange did not finish")
	return nil
}

// xdgClient makes an xdg-go/scram client conversation.
type xdgOpt struct {
	authz     string
	cb        *scram.ChannelBinding
	advertise bool // 'y' flag
}

func runXdg(t *testing.T, h scram.HashGeneratorFcn, user, pass string, o xdgOpt, sess Session) error {
	t.Helper()
	cl, err := h.NewClient(user, pass, o.authz)
	if err != nil {
		t.Fatal(err)
	}
	var conv *scram.ClientConversation
	switch {
	case o.cb != nil:
		conv = cl.NewConversationWithChannelBinding(*o.cb)
	case o.advertise:
		conv = cl.NewConversationAdvertisingChannelBinding()
	default:
		conv = cl.NewConversation()
	}
	resp, err := conv.Step("")
	if err != nil {
		t.Fatal(err)
	}
	for range 4 {
		out, done, err := sess.Step(context.Background(), []byte(resp))
		if err != nil {
			return err
		}
		if done {
			if _, err := conv.Step(string(out)); err != nil || !conv.Valid() {
				t.Fatalf("xdg client rejected the server's final message %q: %v", out, err)
			}
			return nil
		}
		if resp, err = conv.Step(string(out)); err != nil {
			t.Fatalf("xdg step on %q: %v", out, err)
		}
	}
	t.Fatal("exchange did not finish")
	return nil
}

func mustSession(t *testing.T, mech string, cfg Config) Session {
	t.Helper()
	s, err := NewSession(mech, cfg)
	if err != nil {
		t.Fatalf("NewSession(%s): %v", mech, err)
	}
	return s
}

func TestScramWithMellium(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	cert := testCert(t, x509.ECDSAWithSHA256)
	srv13, cli13 := tlsPair(t, cert, tls.VersionTLS13)
	for _, tc := range []struct {
		m        msasl.Mechanism
		srv, cli *tls.ConnectionState
	}{
		{msasl.ScramSha1, nil, nil},
		{msasl.ScramSha256, nil, nil},
		{msasl.ScramSha1, &srv13, &cli13},
		{msasl.ScramSha256, &srv13, &cli13},
		{msasl.ScramSha1Plus, &srv13, &cli13}, // tls-exporter on TLS 1.3
		{msasl.ScramSha256Plus, &srv13, &cli13},
	} {
		t.Run(tc.m.Name, func(t *testing.T) {
			sess := mustSession(t, tc.m.Name, acc.config(tc.srv, nil, tc.srv != nil))
			// The authcid is prepared: "Juliet" logs in as "juliet".
			if err := runMellium(t, tc.m, "Juliet", password, "", tc.cli, sess); err != nil {
				t.Fatalf("login failed: %v", err)
			}
			if sess.Username() != "juliet" {
				t.Errorf("Username() = %q; want juliet", sess.Username())
			}
			if _, _, err := sess.Step(context.Background(), []byte("x")); condition(err) != MalformedRequest {
				t.Errorf("Step after success: %v; want malformed-request", err)
			}
		})
	}
}

// mellium's -PLUS on TLS 1.2 uses tls-unique, which we never accept.
func TestScramTLSUniqueRefused(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	srv, cli := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS12)
	sess := mustSession(t, ScramSHA256Plus, acc.config(&srv, nil, true))
	err := runMellium(t, msasl.ScramSha256Plus, "juliet", password, "", &cli, sess)
	if condition(err) != NotAuthorized || !strings.Contains(err.Error(), "tls-unique") {
		t.Fatalf("tls-unique: %v; want not-authorized naming the type", err)
	}
}

func TestScramWithXdg(t *testing.T) {
	acc := newAccounts(t, "juliet", passwordNBSP)
	hashes := map[string]scram.HashGeneratorFcn{"SHA-1": scram.SHA1, "SHA-256": scram.SHA256, "SHA-512": scram.SHA512}
	for _, version := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		for _, alg := range []x509.SignatureAlgorithm{x509.ECDSAWithSHA256, x509.ECDSAWithSHA384} {
			cert := testCert(t, alg)
			srv, cli := tlsPair(t, cert, version)
			exp, err := scram.NewTLSExporterBinding(&cli)
			if err != nil {
				t.Fatal(err)
			}
			// The client hashes the certificate it received (RFC 5929 §4.1).
			sep, err := scram.NewTLSServerEndpointBinding(&cli)
			if err != nil {
				t.Fatal(err)
			}
			for hname, h := range hashes {
				for _, tc := range []struct {
					mech string
					cb   *scram.ChannelBinding
				}{
					{"SCRAM-" + hname, nil},
					{"SCRAM-" + hname + "-PLUS", &exp},
					{"SCRAM-" + hname + "-PLUS", &sep},
				} {
					name := tc.mech + "/" + tls.VersionName(version) + "/" + alg.String()
					if tc.cb != nil {
						name += "/" + string(tc.cb.Type)
					}
					t.Run(name, func(t *testing.T) {
						sess := mustSession(t, tc.mech, acc.config(&srv, cert.Leaf, true))
						if err := runXdg(t, h, "juliet", passwordNBSP, xdgOpt{cb: tc.cb}, sess); err != nil {
							t.Fatalf("login failed: %v", err)
						}
						if sess.Username() != "juliet" {
							t.Errorf("Username() = %q", sess.Username())
						}
					})
				}
			}
		}
	}
}

func TestScramChannelBindingRules(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	cert := testCert(t, x509.ECDSAWithSHA256)
	srv, cli := tlsPair(t, cert, tls.VersionTLS13)
	_, otherCli := tlsPair(t, cert, tls.VersionTLS13)
	exp, _ := scram.NewTLSExporterBinding(&cli)
	otherExp, _ := scram.NewTLSExporterBinding(&otherCli)
	sep, _ := scram.NewTLSServerEndpointBinding(&cli)
	for _, tc := range []struct {
		name     string
		mech     string
		cfg      Config
		opt      xdgOpt
		wantCond string
	}{
		{"y flag when -PLUS was offered is a downgrade", ScramSHA256, acc.config(&srv, nil, true), xdgOpt{advertise: true}, NotAuthorized},
		{"y flag when -PLUS was not offered is fine", ScramSHA256, acc.config(&srv, nil, false), xdgOpt{advertise: true}, ""},
		{"n flag on a non-PLUS mechanism is fine with -PLUS offered", ScramSHA256, acc.config(&srv, nil, true), xdgOpt{}, ""},
		{"p flag needs a -PLUS mechanism", ScramSHA256, acc.config(&srv, nil, true), xdgOpt{cb: &exp}, MalformedRequest},
		{"-PLUS needs a p flag", ScramSHA256Plus, acc.config(&srv, nil, true), xdgOpt{}, MalformedRequest},
		{"-PLUS with y flag", ScramSHA256Plus, acc.config(&srv, nil, true), xdgOpt{advertise: true}, NotAuthorized},
		{"binding data of another connection", ScramSHA256Plus, acc.config(&srv, nil, true), xdgOpt{cb: &otherExp}, NotAuthorized},
		{"tls-server-end-point without a configured certificate", ScramSHA256Plus, acc.config(&srv, nil, true), xdgOpt{cb: &sep}, NotAuthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sess := mustSession(t, tc.mech, tc.cfg)
			err := runXdg(t, scram.SHA256, "juliet", password, tc.opt, sess)
			if condition(err) != tc.wantCond {
				t.Fatalf("got %v; want condition %q", err, tc.wantCond)
			}
		})
	}
}

func TestScramWrongPasswordAndUnknownUser(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	var texts []string
	for _, tc := range []struct{ user, pass string }{
		{"juliet", "wrong"},
		{"romeo", password},
		{"romeo", "wrong"},
	} {
		sess := mustSession(t, ScramSHA256, acc.config(nil, nil, false))
		err := runXdg(t, scram.SHA256, tc.user, tc.pass, xdgOpt{}, sess)
		if condition(err) != NotAuthorized {
			t.Fatalf("%s/%s: %v; want not-authorized", tc.user, tc.pass, err)
		}
		if sess.Username() != "" {
			t.Errorf("Username() = %q after a failure", sess.Username())
		}
		texts = append(texts, err.Error())
	}
	for _, txt := range texts[1:] {
		if txt != texts[0] {
			t.Errorf("failures differ: %q vs %q (an unknown user must look like a wrong password)", txt, texts[0])
		}
	}
}

// serverFirst returns the server-first-message for user.
func serverFirst(t *testing.T, mech string, acc *accounts, user string) (salt []byte, iters string) {
	t.Helper()
	sess := mustSession(t, mech, acc.config(nil, nil, false))
	out, _, err := sess.Step(context.Background(), []byte("n,,n="+user+",r=abcdefgh"))
	if err != nil {
		t.Fatalf("client-first for %s: %v", user, err)
	}
	f := strings.Split(string(out), ",")
	if len(f) != 3 || !strings.HasPrefix(f[0], "r=abcdefgh") || len(f[0]) < 20 {
		t.Fatalf("server-first %q", out)
	}
	salt, err = base64.StdEncoding.DecodeString(strings.TrimPrefix(f[1], "s="))
	if err != nil {
		t.Fatal(err)
	}
	return salt, f[2]
}

func TestUnknownUserSalt(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	realSalt, realIters := serverFirst(t, ScramSHA256, acc, "juliet")
	s1, i1 := serverFirst(t, ScramSHA256, acc, "romeo")
	s2, i2 := serverFirst(t, ScramSHA256, acc, "romeo")
	s3, _ := serverFirst(t, ScramSHA256, acc, "tybalt")
	s4, _ := serverFirst(t, ScramSHA512, acc, "romeo")
	if !bytes.Equal(s1, s2) || i1 != i2 {
		t.Errorf("fake salt changes between attempts: %x/%s vs %x/%s", s1, i1, s2, i2)
	}
	if len(s1) != len(realSalt) || i1 != realIters {
		t.Errorf("fake salt shape %d bytes %s; real %d bytes %s", len(s1), i1, len(realSalt), realIters)
	}
	if bytes.Equal(s1, s3) || bytes.Equal(s1, s4) {
		t.Errorf("fake salts repeat across names or hashes")
	}
	// The name is prepared before the lookup, so "Romeo" is "romeo".
	if s5, _ := serverFirst(t, ScramSHA256, acc, "Romeo"); !bytes.Equal(s1, s5) {
		t.Errorf("fake salt depends on the unprepared name")
	}
	// Another server secret gives other salts.
	other := acc.config(nil, nil, false)
	other.Secret = []byte("another secret of enough length")
	sess := mustSession(t, ScramSHA256, other)
	out, _, _ := sess.Step(context.Background(), []byte("n,,n=romeo,r=abcdefgh"))
	if strings.Contains(string(out), base64.StdEncoding.EncodeToString(s1)) {
		t.Errorf("fake salt does not depend on the secret")
	}
}

func TestStorageErrorIsTemporary(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	acc.err = context.DeadlineExceeded
	sess := mustSession(t, ScramSHA256, acc.config(nil, nil, false))
	if err := runXdg(t, scram.SHA256, "juliet", password, xdgOpt{}, sess); condition(err) != TemporaryAuthFailure {
		t.Fatalf("SCRAM with storage down: %v; want temporary-auth-failure", err)
	}
	srv, cli := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS13)
	_ = cli
	sess = mustSession(t, Plain, acc.config(&srv, nil, false))
	if _, _, err := sess.Step(context.Background(), []byte("\x00juliet\x00"+password)); condition(err) != TemporaryAuthFailure {
		t.Fatalf("PLAIN with storage down: %v; want temporary-auth-failure", err)
	}
}

func TestScramAuthzid(t *testing.T) {
	acc := newAccounts(t, "juliet", password, "romeo", password)
	for _, tc := range []struct {
		authz, want string
	}{
		{"", ""},
		{"juliet@example.com", ""},
		{"Juliet@Example.COM.", ""}, // compared after preparation
		{"romeo@example.com", InvalidAuthzid},
		{"juliet@example.org", InvalidAuthzid},
		{"juliet@example.com/balcony", InvalidAuthzid},
		{"example.com", InvalidAuthzid},
		{"juliet", InvalidAuthzid},
		{"@@", InvalidAuthzid},
	} {
		sess := mustSession(t, ScramSHA256, acc.config(nil, nil, false))
		if err := runXdg(t, scram.SHA256, "juliet", password, xdgOpt{authz: tc.authz}, sess); condition(err) != tc.want {
			t.Errorf("authzid %q: %v; want %q", tc.authz, err, tc.want)
		}
	}
	// mellium sends the authzid too.
	sess := mustSession(t, ScramSHA1, acc.config(nil, nil, false))
	if err := runMellium(t, msasl.ScramSha1, "juliet", password, "romeo@example.com", nil, sess); condition(err) != InvalidAuthzid {
		t.Errorf("mellium authzid of another user: %v", err)
	}
}

func TestScramNoInitialResponse(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	sess := mustSession(t, ScramSHA256, acc.config(nil, nil, false))
	out, done, err := sess.Step(context.Background(), nil)
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("nil initial response: %q %v %v; want an empty challenge", out, done, err)
	}
	if err := runXdg(t, scram.SHA256, "juliet", password, xdgOpt{}, sess); err != nil {
		t.Fatalf("login after an empty challenge: %v", err)
	}
}

// Broken client messages fail with malformed-request and never panic.
func TestScramMalformed(t *testing.T) {
	acc := newAccounts(t, "juliet", password)
	srv, _ := tlsPair(t, testCert(t, x509.ECDSAWithSHA256), tls.VersionTLS13)
	for _, first := range []string{
		"",                   // "=" initial response
		"n,,n=juliet",        // no nonce
		"n,,r=abc,n=juliet",  // order
		"x,,n=juliet,r=abc",  // bad flag
		"p,,n=juliet,r=abc",  // p without name
		"p=,,n=juliet,r=abc", // empty cb-name
		"p=tls exporter,,n=juliet,r=abc",
		"n,b=x,n=juliet,r=abc",    // authzid field not a=
		"n,a=,n=juliet,r=abc",     // empty authzid
		"n,,n=,r=abc",             // empty username
		"n,,n=jul=iet,r=abc",      // bad escape
		"n,,n=jul=2,r=abc",        // truncated escape
		"n,,n=juliet,r=",          // empty nonce
		"n,,n=juliet,r=a b",       // nonce not printable
		"n,,m=ext,n=juliet,r=abc", // mandatory extension
		"n,,n=juliet,r=abc,m=x",   // mandatory extension at the end
		"n,,n=juliet,r=abc,1",     // bad extension
		"n,,n=jul\x00iet,r=abc",   // NUL
		"n,,n=jul\xffiet,r=abc",   // invalid UTF-8
		"n,,n=juliet,r=" + strings.Repeat("a", 9000),
	} {
		sess := mustSession(t, ScramSHA256, acc.config(&srv, nil, false))
		if _, _, err := sess.Step(context.Background(), []byte(first)); condition(err) != MalformedRequest {
			t.Errorf("client-first %.40q: %v; want malformed-request", first, err)
		}
	}
	proof := base64.StdEncoding.EncodeToString(make([]byte, 32))
	for _, final := range []string{
		"",
		"c=biws",
		"c=biws,r=NONCE",
		"r=NONCE,c=biws,p=" + proof,
		"c=bi!s,r=NONCE,p=" + proof,
		"c=biws,r=NONCE,p=" + base64.StdEncoding.EncodeToString(make([]byte, 20)), // SHA-1 sized proof
		"c=biws,r=NONCE,p=***",
		"c=biws,r=NONCE,m=x,p=" + proof,
		"c=biws,r=other,p=" + proof, // a nonce that is not ours
		"c=biws,r=,p=" + proof,
		"c=biws,r=NONCE,p=" + proof + "\x00",
	} {
		sess := mustSession(t, ScramSHA256, acc.config(&srv, nil, false))
		out, _, err := sess.Step(context.Background(), []byte("n,,n=juliet,r=abcdefgh"))
		if err != nil {
			t.Fatal(err)
		}
		nonce := strings.TrimPrefix(strings.Split(string(out), ",")[0], "r=")
		msg := strings.ReplaceAll(final, "NONCE", nonce)
		if _, _, err := sess.Step(context.Background(), []byte(msg)); condition(err) != MalformedRequest {
			t.Errorf("client-final %.60q: %v; want malformed-request", final, err)
		}
		if _, _, err := sess.Step(context.Background(), []byte(msg)); condition(err) != MalformedRequest {
			t.Errorf("Step after a failure: %v", err)
		}
	}
	// A well-formed final message with a wrong gs2 header in c= is a
	// channel-binding mismatch.
	sess := mustSession(t, ScramSHA256, acc.config(&srv, nil, false))
	out, _, _ := sess.Step(context.Background(), []byte("n,,n=juliet,r=abcdefgh"))
	nonce := strings.TrimPrefix(strings.Split(string(out), ",")[0], "r=")
	if _, _, err := sess.Step(context.Background(), []byte("c=eSws,r="+nonce+",p="+proof)); condition(err) != NotAuthorized {
		t.Errorf("c= of another gs2 header: %v; want not-authorized", err)
	}
}
