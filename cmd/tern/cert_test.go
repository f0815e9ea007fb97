package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

func TestCertHelp(t *testing.T) {
	for _, sub := range []string{"init", "issue", "revoke", "crl", "list", "show", "p12"} {
		code, out, _ := tern(t, "", "cert", sub, "--help")
		if code != 0 || !strings.Contains(out, "Usage: tern cert "+sub) {
			t.Errorf("cert %s --help = %d %q", sub, code, out)
		}
	}
	if code, out, _ := tern(t, "", "cert", "--help"); code != 0 || !strings.Contains(out, "docs/direct-pki.md") {
		t.Errorf("cert --help = %d %q", code, out)
	}
	if code, out, _ := tern(t, "", "--help"); code != 0 || !strings.Contains(out, "  cert ") {
		t.Errorf("tern --help lacks cert: %q", out)
	}
}

func TestCertUsageErrors(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cert"}, "Usage: tern cert"},
		{[]string{"cert", "sign"}, "unknown subcommand"},
		{[]string{"cert", "init", "--name", "x"}, "missing --dir"},
		{[]string{"cert", "init", "--dir", dir}, "missing --name"},
		{[]string{"cert", "init", "--dir", dir, "--name", "x", "--key", "dsa"}, "unknown key type"},
		{[]string{"cert", "init", "--dir", dir, "--name", "x", "extra"}, "unexpected argument"},
		{[]string{"cert", "issue", "--dir", dir}, "exactly one of --domain and --address"},
		{[]string{"cert", "issue", "--dir", dir, "--domain", "a", "--address", "b@c"}, "exactly one of"},
		{[]string{"cert", "issue", "--dir", dir, "--address", "b@c", "--usage", "both"}, "unknown usage"},
		{[]string{"cert", "issue", "--domain", "a.example"}, "missing --dir"},
		{[]string{"cert", "revoke", "--dir", dir}, "missing the serial"},
		{[]string{"cert", "revoke", "--dir", dir, "01", "--reason", "bored"}, "unknown revocation reason"},
		{[]string{"cert", "crl", "--dir", dir, "--days", "0"}, "--days must be positive"},
		{[]string{"cert", "show"}, "missing the certificate file"},
		{[]string{"cert", "p12", "--cert", "c"}, "--cert, --key and --out are required"},
		{[]string{"cert", "list", "--bogus"}, "flag provided but not defined"},
	} {
		code, _, errOut := tern(t, "", tt.args...)
		if code != 2 || !strings.Contains(errOut, tt.want) {
			t.Errorf("tern %q = %d, stderr %q; want 2 and %q", tt.args, code, errOut, tt.want)
		}
	}
	if code, _, errOut := tern(t, "", "cert", "issue", "--dir", dir, "--domain", "a.example"); code != 1 || !strings.Contains(errOut, "tern cert init") {
		t.Errorf("issue without a CA = %d %q", code, errOut)
	}
}

func TestCertFlow(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	run := func(stdin string, wantCode int, want string, args ...string) string {
		t.Helper()
		code, out, errOut := tern(t, stdin, args...)
		if code != wantCode || !strings.Contains(out+errOut, want) {
			t.Fatalf("tern %q = %d, want %d and %q:\n%s%s", args, code, wantCode, want, out, errOut)
		}
		return out
	}
	run("", 0, "trust bundle: "+filepath.Join(dir, "bundle.p7b"), "cert", "init", "--dir", dir, "--name", "lab", "--key", "ecdsa")
	run("", 1, "already holds a CA", "cert", "init", "--dir", dir, "--name", "lab")
	out := run("", 0, "issued serial 01 to a.example (RSA-2048, domain-bound) by CA lab", "cert", "issue", "--dir", dir, "--domain", "a.example")
	if !strings.Contains(out, "names:  a.example, groupchat.a.example, ftproxystream.a.example") {
		t.Errorf("issue output:\n%s", out)
	}
	leaf := filepath.Join(dir, "issued", "a.example.pem")
	key := filepath.Join(dir, "issued", "a.example.key")
	run("", 0, "Direct domain certificate check for a.example: no problems", "cert", "show", leaf, "--domain", "a.example")
	run("", 0, "issued serial 02 to nurse@a.example (ECDSA P-256, address-bound, sign)", "cert", "issue", "--dir", dir, "--address", "nurse@a.example", "--usage", "sign", "--key", "ecdsa")
	out = run("", 0, "names:         email:nurse@a.example", "cert", "show", filepath.Join(dir, "issued", "nurse@a.example.pem"))
	if !strings.Contains(out, "ext key usage: emailProtection") || !strings.Contains(out, "key usage:     digitalSignature\n") {
		t.Errorf("show address:\n%s", out)
	}
	// A domain certificate without the service names: every problem listed, exit 1.
	run("", 0, "issued serial 03", "cert", "issue", "--dir", dir, "--domain", "a.example", "--services", "", "--days", "10")
	out = run("", 1, "error: subjectAltName lacks dNSName groupchat.a.example", "cert", "show", filepath.Join(dir, "issued", "a.example-03.pem"), "--domain", "a.example")
	if !strings.Contains(out, "ftproxystream.a.example") || !strings.Contains(out, "warning: expires on") {
		t.Errorf("problems:\n%s", out)
	}
	run("", 0, "revoked serial 02 (nurse@a.example), reason superseded\npublished CRL number 2 of CA lab: 1 revoked",
		"cert", "revoke", "--dir", dir, filepath.Join(dir, "issued", "nurse@a.example.pem"), "--reason", "superseded")
	run("", 1, "already revoked", "cert", "revoke", "--dir", dir, "2")
	run("", 0, "published CRL number 3 of CA lab: 1 revoked", "cert", "crl", "--dir", dir)
	out = run("", 0, "02  revoked (superseded)", "cert", "list", "--dir", dir)
	if !strings.Contains(out, "01  valid") {
		t.Errorf("list:\n%s", out)
	}

	// PKCS#12 export, both encodings, loaded back.
	pw := filepath.Join(t.TempDir(), "pw")
	os.WriteFile(pw, []byte("lab-password\n"), 0o600)
	for _, legacy := range []bool{false, true} {
		p12 := filepath.Join(t.TempDir(), "a.p12")
		args := []string{"cert", "p12", "--cert", leaf, "--key", key, "--out", p12, "--password-file", pw}
		want := "AES-256"
		if legacy {
			args, want = append(args, "--legacy"), "3DES"
		}
		run("", 0, want, args...)
		p, err := keypair.LoadPKCS12File(p12, "lab-password", time.Now())
		if err != nil || p.Leaf().Subject.CommonName != "a.example" {
			t.Errorf("legacy=%v: %v", legacy, err)
		}
		run("lab-password\n", 0, "DNS:groupchat.a.example", "cert", "show", p12, "--password-file", "-")
		// The real OpenSSL reads what we write.
		if openssl, err := exec.LookPath("openssl"); err == nil {
			oargs := []string{"pkcs12", "-in", p12, "-passin", "pass:lab-password", "-nokeys"}
			if legacy {
				oargs = append(oargs, "-legacy")
			}
			if b, err := exec.Command(openssl, oargs...).CombinedOutput(); err != nil || !strings.Contains(string(b), "BEGIN CERTIFICATE") {
				t.Errorf("openssl %v: %v\n%s", oargs, err, b)
			}
		} else if os.Getenv("CI") == "true" {
			t.Error("openssl is not installed; CI must have it")
		}
		run("wrong\n", 1, "wrong PKCS#12 password", "cert", "show", p12, "--password-file", "-")
	}
	garbage := filepath.Join(t.TempDir(), "x.crt")
	os.WriteFile(garbage, []byte("hello"), 0o644)
	run("", 1, "neither a certificate (PEM or DER) nor PKCS#12", "cert", "show", garbage)
	run("", 1, "--crl needs the issuer", "cert", "show", leaf, "--crl")
}
