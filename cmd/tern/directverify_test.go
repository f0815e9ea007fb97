package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestDirectVerify: `tern direct verify` on messages `openssl cms` made as a
// Direct sender would, with a lab PKI made by `tern cert`: accepted (PEM key
// and certificate, or PKCS#12), then refused once the signer is revoked
// (the CRL given with --crl), refused when tampered or signed with SHA-1;
// usage errors and unreadable files exit 2.
func TestDirectVerify(t *testing.T) {
	ossl, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not installed; .ci/run installs it")
		}
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	orga, orgb := filepath.Join(dir, "orga"), filepath.Join(dir, "orgb")
	for _, args := range [][]string{
		{"init", "--dir", orga, "--name", "orga"},
		{"init", "--dir", orgb, "--name", "orgb"},
		{"issue", "--dir", orga, "--address", "drjones@a.example"},
		{"issue", "--dir", orgb, "--address", "nurse@b.example"},
	} {
		if code, out, errb := tern(t, "", append([]string{"cert"}, args...)...); code != 0 {
			t.Fatalf("tern cert %v: %d\n%s%s", args, code, out, errb)
		}
	}
	signer, signerKey := filepath.Join(orga, "issued", "drjones@a.example.pem"), filepath.Join(orga, "issued", "drjones@a.example.key")
	rcpt, rcptKey := filepath.Join(orgb, "issued", "nurse@b.example.pem"), filepath.Join(orgb, "issued", "nurse@b.example.key")
	sh := func(stdin []byte, args ...string) []byte {
		t.Helper()
		cmd := exec.Command(ossl, args...)
		cmd.Stdin = bytes.NewReader(stdin)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("openssl %v: %v", args, err)
		}
		return out
	}
	inner := "From: drjones@a.example\r\nTo: nurse@b.example\r\nSubject: Referral\r\nMessage-ID: <r1@a.example>\r\n" +
		"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nPlease see Mr Smith on Monday.\r\n"
	message := func(md string, edit func([]byte) []byte) string {
		signed := sh([]byte("Content-Type: message/rfc822\r\n\r\n"+inner), "cms", "-sign", "-md", md, "-signer", signer, "-inkey", signerKey)
		if edit != nil {
			signed = edit(signed)
		}
		enc := sh(signed, "cms", "-encrypt", "-aes256", "-from", "drjones@a.example", "-to", "nurse@b.example", "-subject", "Referral", rcpt)
		f := filepath.Join(dir, "m-"+md+".eml")
		if edit != nil {
			f = filepath.Join(dir, "tampered.eml")
		}
		if err := os.WriteFile(f, enc, 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	good := message("sha256", nil)
	anchors := filepath.Join(orga, "bundle.p7b")
	crlFile := filepath.Join(orga, "crl.der")
	verify := func(args ...string) (int, string) {
		t.Helper()
		code, out, errb := tern(t, "", append([]string{"direct", "verify"}, args...)...)
		return code, out + errb
	}
	if code, out := verify(good, "--key", rcptKey, "--cert", rcpt, "--anchors", anchors, "--crl", crlFile); code != 0 ||
		!strings.Contains(out, "accept: from drjones@a.example") || !strings.Contains(out, "AES-256-CBC") || !strings.Contains(out, "address-bound") {
		t.Errorf("good message: exit %d\n%s", code, out)
	}
	p12, pass := filepath.Join(dir, "nurse.p12"), filepath.Join(dir, "pass")
	os.WriteFile(pass, []byte("s3cret-pass\n"), 0o600)
	if code, out, errb := tern(t, "", "cert", "p12", "--cert", rcpt, "--key", rcptKey, "--out", p12, "--password-file", pass); code != 0 {
		t.Fatalf("tern cert p12: %s%s", out, errb)
	}
	if code, out := verify(good, "--p12", p12, "--password-file", pass, "--anchors", filepath.Join(orga, "ca.pem"), "--crl", crlFile); code != 0 {
		t.Errorf("good message, PKCS#12 and PEM anchors: exit %d\n%s", code, out)
	}
	if code, out := verify(message("sha1", nil), "--key", rcptKey, "--cert", rcpt, "--anchors", anchors, "--crl", crlFile); code != 1 || !strings.Contains(out, "reject: weak-digest") {
		t.Errorf("SHA-1: exit %d\n%s", code, out)
	}
	tampered := message("sha256", func(b []byte) []byte { return bytes.Replace(b, []byte("Monday"), []byte("Friday"), 1) })
	if code, out := verify(tampered, "--key", rcptKey, "--cert", rcpt, "--anchors", anchors, "--crl", crlFile); code != 1 || !strings.Contains(out, "reject: bad-signature") {
		t.Errorf("tampered: exit %d\n%s", code, out)
	}
	if code, out := verify(good, "--key", rcptKey, "--cert", rcpt, "--anchors", filepath.Join(orgb, "ca.pem"), "--crl", crlFile); code != 1 || !strings.Contains(out, "reject: untrusted") {
		t.Errorf("anchors of another organisation: exit %d\n%s", code, out)
	}
	if code, out, errb := tern(t, "", "cert", "revoke", "--dir", orga, signer, "--reason", "keyCompromise"); code != 0 {
		t.Fatalf("tern cert revoke: %s%s", out, errb)
	}
	if code, out := verify(good, "--key", rcptKey, "--cert", rcpt, "--anchors", anchors, "--crl", crlFile); code != 1 || !strings.Contains(out, "reject: revoked") {
		t.Errorf("after revocation: exit %d\n%s", code, out)
	}
	for _, args := range [][]string{
		{good, "--key", rcptKey, "--cert", rcpt}, // no anchors
		{good, "--anchors", anchors},             // no key
		{filepath.Join(dir, "missing.eml"), "--key", rcptKey, "--cert", rcpt, "--anchors", anchors},
		{good, "--key", rcptKey, "--cert", rcpt, "--anchors", filepath.Join(dir, "pass")}, // not certificates
	} {
		if code, out := verify(args...); code != 2 {
			t.Errorf("%v: exit %d; want 2\n%s", args, code, out)
		}
	}
}
