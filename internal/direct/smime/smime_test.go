package smime

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/smallstep/pkcs7"

	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

// lab: a.test's CA issued the sender's certificates, b.test's the
// recipient's; b.test (the receiver) trusts a.test's root. Another root is
// trusted by nobody.
type lab struct {
	dir                 string
	rootA, rootB, rogue *trusttest.CA
	sender, recipient   *trusttest.Leaf
	v                   *trust.Validator
	rev                 *trusttest.Revocations
}

var email = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}

func (l *lab) leaf(t testing.TB, ca *trusttest.CA, address string, o trusttest.Opts) *trusttest.Leaf {
	o.Emails, o.DNSNames, o.EKU = []string{address}, []string{}, email
	if o.Key == nil && o.Bits == 0 {
		o.RSA = true
	}
	return ca.Leaf(t, address, o)
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := &lab{dir: t.TempDir(), rev: &trusttest.Revocations{}}
	l.rootA = trusttest.NewRoot(t, "Org A Root", trusttest.Opts{})
	l.rootB = trusttest.NewRoot(t, "Org B Root", trusttest.Opts{})
	l.rogue = trusttest.NewRoot(t, "Rogue Root", trusttest.Opts{})
	l.sender = l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{})
	l.recipient = l.leaf(t, l.rootB, "nurse@b.test", trusttest.Opts{})
	anchor := l.write(t, "rootA.pem", trusttest.PEM(l.rootA.Cert))
	reg, err := trust.NewRegistry(trust.Config{Circles: []trust.Circle{{Name: "c", Anchors: []string{anchor}}},
		Domains: []trust.Domain{{Name: "b.test", Circles: []string{"c"}}}}, trust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.v, err = trust.NewValidator(reg, trust.ValidatorOptions{Revocation: trust.RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (trust.RevocationStatus, error) {
		st, err := l.rev.Check(ctx, c, i)
		return trust.RevocationStatus(st), err
	})})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *lab) write(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func keyPEM(t testing.TB, k crypto.Signer) []byte {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func (l *lab) verifier() Verifier {
	return func(ctx context.Context, sender string, chain []*x509.Certificate) (*trust.Result, error) {
		return l.v.ValidateFor(ctx, "b.test", sender, trust.PurposeVerify, chain, time.Now())
	}
}

func (l *lab) rcpt() []Recipient {
	return []Recipient{{Cert: l.recipient.Cert, Key: l.recipient.Key}}
}

func testMessage() *Message {
	return &Message{From: "drjones@a.test", To: []string{"nurse@b.test"}, Subject: "Discharge summary",
		Parts: []Part{{Data: []byte("See the summary attached.\n")},
			{Filename: "summary.xml", Data: []byte("<ClinicalDocument xmlns='urn:hl7-org:v3'/>\n")}}}
}

// TestSealOpen: what Seal makes, Open accepts, for each algorithm choice.
func TestSealOpen(t *testing.T) {
	l := newLab(t)
	ec := l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{KeyUsage: x509.KeyUsageDigitalSignature})
	for _, c := range []struct {
		name   string
		signer *trusttest.Leaf
		o      Options
		cipher string
		digest string
	}{
		{"defaults", l.sender, Options{}, "AES-128-CBC", "SHA-256"},
		{"oaep-aes256-sha384", l.sender, Options{Cipher: AES256CBC, KeyTransport: RSAOAEP, Digest: SHA384}, "AES-256-CBC", "SHA-384"},
		{"ecdsa-signer-sha512", ec, Options{Digest: SHA512}, "AES-128-CBC", "SHA-512"},
		{"aes128-gcm", l.sender, Options{Cipher: AES128GCM}, "AES-128-GCM", "SHA-256"},
		{"aes256-gcm-oaep", l.sender, Options{Cipher: AES256GCM, KeyTransport: RSAOAEP}, "AES-256-GCM", "SHA-256"},
	} {
		t.Run(c.name, func(t *testing.T) {
			raw, err := Seal(testMessage(), Signer{Cert: c.signer.Cert, Key: c.signer.Key}, []*x509.Certificate{l.recipient.Cert}, c.o)
			if err != nil {
				t.Fatal(err)
			}
			op, err := openBoth(t, raw, l.rcpt(), l.verifier())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !op.Wrapped || op.From != "drjones@a.test" || op.Cipher != c.cipher || op.Digest != c.digest || !op.Signer.Equal(c.signer.Cert) ||
				!bytes.Contains(op.Message, []byte("Subject: Discharge summary")) || !op.Trust.Trusted {
				t.Errorf("opened %+v", op)
			}
			if m := testMessage(); op.MessageID == "" || !strings.HasSuffix(op.MessageID, "@a.test>") || (m.MessageID != "" && m.MessageID != op.MessageID) {
				t.Errorf("MessageID %q; want the signed inner <...@a.test>", op.MessageID)
			}
		})
	}
}

// TestSignatureAlgorithm: a signature algorithm naming SHA-1 or MD5 is
// refused whatever the digest algorithm says (the verifier follows the
// signature algorithm), and DSA is no Direct algorithm.
func TestSignatureAlgorithm(t *testing.T) {
	for _, c := range []struct {
		oid  asn1.ObjectIdentifier
		rule Rule
	}{
		{pkcs7.OIDEncryptionAlgorithmRSA, ""},
		{pkcs7.OIDEncryptionAlgorithmRSASHA256, ""},
		{pkcs7.OIDEncryptionAlgorithmRSASHA512, ""},
		{pkcs7.OIDDigestAlgorithmECDSASHA256, ""},
		{pkcs7.OIDDigestAlgorithmECDSASHA384, ""},
		{pkcs7.OIDEncryptionAlgorithmRSASHA1, RuleWeakDigest},
		{pkcs7.OIDEncryptionAlgorithmRSAMD5, RuleWeakDigest},
		{pkcs7.OIDDigestAlgorithmECDSASHA1, RuleWeakDigest},
		{pkcs7.OIDDigestAlgorithmDSASHA1, RuleWeakDigest},
		{pkcs7.OIDDigestAlgorithmDSA, RuleWeakKey},
		{asn1.ObjectIdentifier{1, 2, 3}, RuleWeakKey},
	} {
		err := checkSignatureAlgorithm(c.oid)
		var rej *Rejection
		switch {
		case c.rule == "" && err != nil:
			t.Errorf("%s: %v; want allowed", c.oid, err)
		case c.rule != "" && (!errors.As(err, &rej) || rej.Rule != c.rule):
			t.Errorf("%s: %v; want rule %s", c.oid, err, c.rule)
		}
	}
}

// TestCheckMessageID: what a notification quotes and a log prints is a
// msg-id with nothing that could end a header line.
func TestCheckMessageID(t *testing.T) {
	for v, ok := range map[string]bool{
		"<abc@a.test>": true, " <abc@a.test> ": true, "": true,
		"abc@a.test": false, "<abc>": false, "<a b@a.test>": false, "<abc@a.test>\r\nBcc: x@y": false,
		"<abc@a.test\n>": false, "<" + strings.Repeat("a", 300) + "@a.test>": false, "<a<b@a.test>": false, "<\u00e9@a.test>": false,
	} {
		if _, err := CheckMessageID(v); (err == nil) != ok {
			t.Errorf("CheckMessageID(%q): %v; want ok=%v", v, err, ok)
		}
	}
}

func openssl(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("openssl")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("openssl not installed; .ci/run installs it")
		}
		t.Skip("openssl not installed")
	}
	return p
}

func run(t *testing.T, stdin []byte, name string, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Stdin = bytes.NewReader(stdin)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr.String())
	}
	return out
}

// TestOpenSSLOpensOurs: `openssl cms` (the independent check) decrypts
// what Seal sends and verifies its signature against the sender's root,
// for PKCS#1 v1.5 and OAEP key transport.
func TestOpenSSLOpensOurs(t *testing.T) {
	ossl := openssl(t)
	l := newLab(t)
	rc := l.write(t, "rcpt.pem", trusttest.PEM(l.recipient.Cert))
	rk := l.write(t, "rcpt.key", keyPEM(t, l.recipient.Key))
	root := l.write(t, "rootA.pem", trusttest.PEM(l.rootA.Cert))
	for _, o := range []Options{{}, {Cipher: AES256CBC, KeyTransport: RSAOAEP}, {Cipher: AES128GCM}, {Cipher: AES256GCM, KeyTransport: RSAOAEP}} {
		raw, err := Seal(testMessage(), Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, o)
		if err != nil {
			t.Fatal(err)
		}
		signed := run(t, raw, ossl, "cms", "-decrypt", "-recip", rc, "-inkey", rk)
		content := run(t, signed, ossl, "cms", "-verify", "-CAfile", root, "-purpose", "smimesign")
		if !bytes.Contains(content, []byte("Subject: Discharge summary")) || !bytes.Contains(content, []byte("Content-Type: message/rfc822")) {
			t.Errorf("%+v: openssl's verified content:\n%s", o, content)
		}
	}
}

// opensslMessage builds a Direct message with openssl cms: the wrapped
// inner message signed by signer (with extra sign args), then encrypted
// to the recipient (with extra encrypt args).
func (l *lab) opensslMessage(t *testing.T, ossl string, signer *trusttest.Leaf, inner string, signArgs, encArgs []string) []byte {
	t.Helper()
	sc := l.write(t, "signer.pem", trusttest.PEM(signer.Cert))
	sk := l.write(t, "signer.key", keyPEM(t, signer.Key))
	rc := l.write(t, "rcpt.pem", trusttest.PEM(l.recipient.Cert))
	ent := []byte("Content-Type: message/rfc822\r\n\r\n" + inner)
	if strings.HasPrefix(inner, "Content-Type:") { // an unwrapped body part (AS 1.0 senders)
		ent = []byte(inner)
	}
	if signer != nil && signArgs != nil {
		ent = run(t, ent, ossl, append([]string{"cms", "-sign", "-signer", sc, "-inkey", sk}, signArgs...)...)
	}
	if encArgs == nil {
		return ent
	}
	args := []string{"cms", "-encrypt", "-from", "drjones@a.test", "-to", "nurse@b.test", "-subject", "Discharge summary"}
	if i := slices.Index(encArgs, "-keyopt"); i >= 0 { // key options follow the -recip they are for
		args = append(append(append(args, encArgs[:i]...), "-recip", rc), encArgs[i:]...)
	} else {
		args = append(append(args, encArgs...), rc)
	}
	return run(t, ent, ossl, args...)
}

const innerMsg = "From: drjones@a.test\r\nTo: nurse@b.test\r\nSubject: Discharge summary\r\nMessage-ID: <1@a.test>\r\n" +
	"MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\nThe patient went home.\r\n"

// TestOpenOpenSSLs: Open accepts what `openssl cms` sends as a Direct
// sender would (AS 1.2 and 1.3 algorithms), and refuses each thing Direct
// forbids with its rule.
func TestOpenOpenSSLs(t *testing.T) {
	ossl := openssl(t)
	l := newLab(t)
	weak := l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{RSA: true, Bits: 1024})
	expired := l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	rogue := l.leaf(t, l.rogue, "drjones@a.test", trusttest.Opts{})
	other := l.leaf(t, l.rootA, "someone@a.test", trusttest.Opts{})
	revoked := l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{})
	l.rev.Revoke(revoked.Cert)
	signOnly := l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{KeyUsage: x509.KeyUsageKeyEncipherment})
	sha256 := []string{"-md", "sha256"}
	aes := []string{"-aes128"}
	for _, c := range []struct {
		name      string
		signer    *trusttest.Leaf
		inner     string
		sign, enc []string
		rule      Rule // "": accepted
		edit      func([]byte) []byte
	}{
		{name: "aes128-sha256", signer: l.sender, inner: innerMsg, sign: sha256, enc: aes},
		{name: "aes256-oaep-sha384", signer: l.sender, inner: innerMsg, sign: []string{"-md", "sha384"},
			enc: []string{"-aes256", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha256", "-keyopt", "rsa_mgf1_md:sha256"}},
		// -stream: BER, indefinite lengths, the content in constructed octet-string chunks.
		{name: "aes128-streamed-ber", signer: l.sender, inner: innerMsg, sign: sha256, enc: []string{"-aes128", "-stream"}},
		{name: "unwrapped", signer: l.sender, inner: "Content-Type: text/plain\r\n\r\nThe patient went home.\r\n", sign: sha256, enc: aes},
		{name: "sha512", signer: l.sender, inner: innerMsg, sign: []string{"-md", "sha512"}, enc: aes},
		{name: "aes128-gcm", signer: l.sender, inner: innerMsg, sign: sha256, enc: []string{"-aes-128-gcm"}},
		{name: "aes256-gcm-oaep-sha1", signer: l.sender, inner: innerMsg, sign: sha256, enc: []string{"-aes-256-gcm", "-keyopt", "rsa_padding_mode:oaep"}},
		{name: "aes256-gcm-oaep-sha512", signer: l.sender, inner: innerMsg, sign: sha256,
			enc: []string{"-aes-256-gcm", "-keyopt", "rsa_padding_mode:oaep", "-keyopt", "rsa_oaep_md:sha512", "-keyopt", "rsa_mgf1_md:sha512"}},
		{name: "3des", signer: l.sender, inner: innerMsg, sign: sha256, enc: []string{"-des3"}, rule: RuleWeakEncryption},
		{name: "sha1", signer: l.sender, inner: innerMsg, sign: []string{"-md", "sha1"}, enc: aes, rule: RuleWeakDigest},
		{name: "unsigned", signer: l.sender, inner: innerMsg, enc: aes, rule: RuleNotSigned},
		{name: "unencrypted", signer: l.sender, inner: innerMsg, sign: sha256, rule: RuleNotEncrypted},
		{name: "rsa-1024-signer", signer: weak, inner: innerMsg, sign: sha256, enc: aes, rule: RuleWeakKey},
		{name: "expired-signer", signer: expired, inner: innerMsg, sign: sha256, enc: aes, rule: RuleExpired},
		{name: "untrusted-signer", signer: rogue, inner: innerMsg, sign: sha256, enc: aes, rule: RuleUntrusted},
		{name: "revoked-signer", signer: revoked, inner: innerMsg, sign: sha256, enc: aes, rule: RuleRevoked},
		{name: "not-allowed-to-sign", signer: signOnly, inner: innerMsg, sign: sha256, enc: aes, rule: RuleKeyUsage},
		{name: "signer-of-another-address", signer: other, inner: innerMsg, sign: sha256, enc: aes, rule: RuleBinding},
		{name: "outer-to-differs", signer: l.sender, inner: strings.Replace(innerMsg, "To: nurse@b.test", "To: clerk@b.test", 1), sign: sha256, enc: aes, rule: RuleHeaderMismatch},
	} {
		t.Run(c.name, func(t *testing.T) {
			signArgs := c.sign
			raw := l.opensslMessage(t, ossl, c.signer, c.inner, signArgs, c.enc)
			op, err := openBoth(t, raw, l.rcpt(), l.verifier())
			if c.rule == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if op.From != "drjones@a.test" || op.Wrapped != (c.name != "unwrapped") || !bytes.Contains(op.Message, []byte("The patient went home.")) {
					t.Errorf("opened %+v", op)
				}
				return
			}
			rej, ok := err.(*Rejection)
			if !ok || rej.Rule != c.rule {
				t.Fatalf("got %v; want the rule %s", err, c.rule)
			}
		})
	}
}

// TestOpenTampered: one byte of the signed content changed after signing
// (re-encrypted to the recipient): the signature no longer holds.
func TestOpenTampered(t *testing.T) {
	ossl := openssl(t)
	l := newLab(t)
	signed := l.opensslMessage(t, ossl, l.sender, innerMsg, []string{"-md", "sha256"}, nil)
	tampered := bytes.Replace(signed, []byte("went home"), []byte("went away"), 1)
	if bytes.Equal(tampered, signed) {
		t.Fatal("nothing replaced")
	}
	rc := l.write(t, "rcpt.pem", trusttest.PEM(l.recipient.Cert))
	raw := run(t, tampered, ossl, "cms", "-encrypt", "-aes128", "-from", "drjones@a.test", "-to", "nurse@b.test", rc)
	_, err := openBoth(t, raw, l.rcpt(), l.verifier())
	if rej, ok := err.(*Rejection); !ok || rej.Rule != RuleBadSignature {
		t.Fatalf("got %v; want bad-signature", err)
	}
	// And to a certificate the receiver does not hold: no-recipient.
	other := l.leaf(t, l.rootB, "clerk@b.test", trusttest.Opts{})
	raw, err = Seal(testMessage(), Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{other.Cert}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := openBoth(t, raw, l.rcpt(), l.verifier()); err == nil || err.(*Rejection).Rule != RuleNotForUs {
		t.Fatalf("got %v; want no-recipient", err)
	}
}

// TestOpenGCMTampered: one bit of AES-GCM content changed: the tag does
// not authenticate and the message is refused as decrypt-failed, nothing
// of it read.
func TestOpenGCMTampered(t *testing.T) {
	l := newLab(t)
	raw, err := Seal(testMessage(), Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert}, Options{Cipher: AES128GCM})
	if err != nil {
		t.Fatal(err)
	}
	ent, err := parseEntity(raw)
	if err != nil {
		t.Fatal(err)
	}
	der, err := ent.decodedBody()
	if err != nil {
		t.Fatal(err)
	}
	der[len(der)-40] ^= 1 // in the ciphertext, before the 16-byte tag and its header
	var b bytes.Buffer
	b.Write(raw[:bytes.Index(raw, []byte("\r\n\r\n"))+4])
	writeBase64(&b, der)
	_, err = openBoth(t, b.Bytes(), l.rcpt(), l.verifier())
	if rej, ok := err.(*Rejection); !ok || rej.Rule != RuleDecryptFailed {
		t.Fatalf("got %v; want decrypt-failed", err)
	}
}

// TestECDHRecipient: an EC (P-256, P-384) recipient certificate gets the
// content key by ECDH key agreement (RFC 5753): Seal to it beside an RSA
// one; Open and `openssl cms -decrypt` open it; what openssl encrypts to
// it (its default SHA-1 KDF, and SHA-256) opens too.
func TestECDHRecipient(t *testing.T) {
	ossl := openssl(t)
	l := newLab(t)
	for _, curve := range []elliptic.Curve{elliptic.P256(), elliptic.P384()} {
		k, _ := ecdsa.GenerateKey(curve, rand.Reader)
		ec := l.leaf(t, l.rootB, "nurse@b.test", trusttest.Opts{Key: k, KeyUsage: x509.KeyUsageKeyAgreement | x509.KeyUsageDigitalSignature})
		rcpt := []Recipient{{Cert: ec.Cert, Key: ec.Key}}
		name := curve.Params().Name
		for _, o := range []Options{{}, {Cipher: AES256GCM}} {
			raw, err := Seal(testMessage(), Signer{Cert: l.sender.Cert, Key: l.sender.Key}, []*x509.Certificate{l.recipient.Cert, ec.Cert}, o)
			if err != nil {
				t.Fatalf("%s %+v: Seal: %v", name, o, err)
			}
			if _, err := openBoth(t, raw, rcpt, l.verifier()); err != nil {
				t.Errorf("%s %+v: Open with the EC key: %v", name, o, err)
			}
			if _, err := openBoth(t, raw, l.rcpt(), l.verifier()); err != nil {
				t.Errorf("%s %+v: Open with the RSA key beside it: %v", name, o, err)
			}
			rc := l.write(t, "ec.pem", trusttest.PEM(ec.Cert))
			rk := l.write(t, "ec.key", keyPEM(t, ec.Key))
			if signed := run(t, raw, ossl, "cms", "-decrypt", "-recip", rc, "-inkey", rk); !bytes.Contains(signed, []byte("multipart/signed")) {
				t.Errorf("%s %+v: openssl decrypted %q", name, o, signed[:min(len(signed), 200)])
			}
		}
		for _, kdf := range [][]string{nil, {"-keyopt", "ecdh_kdf_md:sha256"}} {
			raw := l.opensslMessageTo(t, ossl, ec, kdf)
			if _, err := openBoth(t, raw, rcpt, l.verifier()); err != nil {
				t.Errorf("%s openssl %v: %v", name, kdf, err)
			}
		}
	}
}

// opensslMessageTo is opensslMessage encrypted to another recipient.
func (l *lab) opensslMessageTo(t *testing.T, ossl string, rcpt *trusttest.Leaf, keyopts []string) []byte {
	t.Helper()
	ent := l.opensslMessage(t, ossl, l.sender, innerMsg, []string{"-md", "sha256"}, nil)
	rc := l.write(t, "to.pem", trusttest.PEM(rcpt.Cert))
	args := append([]string{"cms", "-encrypt", "-aes128", "-from", "drjones@a.test", "-to", "nurse@b.test", "-subject", "Discharge summary", "-recip", rc}, keyopts...)
	return run(t, ent, ossl, args...)
}

// TestSealStream: a message whose document is a file, sealed without
// holding it: Open and `openssl cms` (decrypt, verify) read it as they
// read Seal's, the document intact, for RSA and EC signers and recipients.
func TestSealStream(t *testing.T) {
	ossl := openssl(t)
	l := newLab(t)
	doc := make([]byte, 3<<20+17) // not a multiple of 57, 16 or 76
	rand.Read(doc)
	path := l.write(t, "scan.pdf", doc)
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecSigner := l.leaf(t, l.rootA, "drjones@a.test", trusttest.Opts{Key: k, KeyUsage: x509.KeyUsageDigitalSignature})
	rc := l.write(t, "rcpt.pem", trusttest.PEM(l.recipient.Cert))
	rk := l.write(t, "rcpt.key", keyPEM(t, l.recipient.Key))
	root := l.write(t, "rootA.pem", trusttest.PEM(l.rootA.Cert))
	for _, c := range []struct {
		name   string
		signer *trusttest.Leaf
		o      Options
	}{{"rsa", l.sender, Options{}}, {"ecdsa-sha384-aes256-oaep", ecSigner, Options{Digest: SHA384, Cipher: AES256CBC, KeyTransport: RSAOAEP}}} {
		t.Run(c.name, func(t *testing.T) {
			m := &Message{From: "drjones@a.test", To: []string{"nurse@b.test"}, Subject: "Imaging",
				Parts: []Part{{Data: []byte("The scan.\n")}, {Filename: "scan.pdf", Path: path}}}
			var out bytes.Buffer
			n, err := SealStream(&out, m, Signer{Cert: c.signer.Cert, Key: c.signer.Key}, []*x509.Certificate{l.recipient.Cert}, c.o, t.TempDir())
			if err != nil || n != int64(out.Len()) {
				t.Fatalf("SealStream: %d, %v (%d written)", n, err, out.Len())
			}
			op, err := openBoth(t, out.Bytes(), l.rcpt(), l.verifier())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if op.MessageID != m.MessageID || op.From != "drjones@a.test" {
				t.Errorf("opened %q from %s; want %q", op.MessageID, op.From, m.MessageID)
			}
			mm, _ := mail.ReadMessage(bytes.NewReader(op.Message))
			var found bool
			_, params, _ := mime.ParseMediaType(mm.Header.Get("Content-Type"))
			mr := multipart.NewReader(mm.Body, params["boundary"])
			for {
				p, err := mr.NextPart()
				if err != nil {
					break
				}
				if p.FileName() == "scan.pdf" {
					b, _ := io.ReadAll(base64.NewDecoder(base64.StdEncoding, p))
					found = bytes.Equal(b, doc)
				}
			}
			if !found {
				t.Error("the document did not come out as it went in")
			}
			signed := run(t, out.Bytes(), ossl, "cms", "-decrypt", "-recip", rc, "-inkey", rk)
			run(t, signed, ossl, "cms", "-verify", "-CAfile", root, "-purpose", "smimesign", "-out", "/dev/null")
		})
	}
}

// openBoth opens raw with Open and, from a file, with OpenFile, and fails
// unless both come to the same verdict and message.
func openBoth(t *testing.T, raw []byte, rcpts []Recipient, verify Verifier) (*Opened, error) {
	t.Helper()
	op, err := Open(context.Background(), raw, rcpts, verify)
	dir := t.TempDir()
	path := filepath.Join(dir, "in.eml")
	if werr := os.WriteFile(path, raw, 0o600); werr != nil {
		t.Fatal(werr)
	}
	fop, ferr := OpenFile(context.Background(), path, rcpts, verify, dir)
	switch {
	case (err == nil) != (ferr == nil):
		t.Fatalf("Open: %v; OpenFile: %v", err, ferr)
	case err != nil:
		r1, _ := err.(*Rejection)
		r2, _ := ferr.(*Rejection)
		if r1 == nil || r2 == nil || r1.Rule != r2.Rule || r1.Unauthenticated != r2.Unauthenticated {
			t.Fatalf("Open: %#v; OpenFile: %#v", err, ferr)
		}
	default:
		got, rerr := io.ReadAll(fop.Reader())
		if rerr != nil || !bytes.Equal(got, op.Message) || fop.From != op.From || fop.MessageID != op.MessageID || fop.Wrapped != op.Wrapped ||
			fop.Cipher != op.Cipher || fop.Digest != op.Digest || !fop.Signer.Equal(op.Signer) || fop.Size() != int64(len(op.Message)) {
			t.Fatalf("OpenFile's message differs from Open's (%d bytes, %d; %v)", len(got), len(op.Message), rerr)
		}
		if fop.Dir() == "" {
			t.Fatal("OpenFile gave no directory for what is taken out of the message")
		}
		if err := fop.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(fop.Dir()); !os.IsNotExist(err) {
			t.Fatalf("Close left %s behind: %v", fop.Dir(), err)
		}
	}
	return op, err
}

// TestOpenFileFlat: opening a 24 MiB document from a file allocates a
// small fraction of its size (buffers and header blocks, not the message).
func TestOpenFileFlat(t *testing.T) {
	l := newLab(t)
	path := l.streamSealed(t, 24<<20)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	op, err := OpenFile(context.Background(), path, l.rcpt(), l.verifier(), t.TempDir())
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	defer op.Close()
	if got := after.TotalAlloc - before.TotalAlloc; got > 8<<20 {
		t.Errorf("OpenFile allocated %d bytes for a 24 MiB document; it must stream", got)
	}
	if op.Size() < 24<<20 || op.Message != nil {
		t.Errorf("the message: %d bytes, %d in memory", op.Size(), len(op.Message))
	}
}

// TestTooManySigners: a signature of five SignerInfos (each a pass over
// the content) is refused before any is verified.
func TestTooManySigners(t *testing.T) {
	l := newLab(t)
	inner, err := testMessage().Bytes()
	if err != nil {
		t.Fatal(err)
	}
	ent := append([]byte("Content-Type: message/rfc822\r\n\r\n"), inner...)
	sd, err := pkcs7.NewSignedData(ent)
	if err != nil {
		t.Fatal(err)
	}
	sd.SetDigestAlgorithm(pkcs7.OIDDigestAlgorithmSHA256)
	for range 5 {
		if err := sd.AddSigner(l.sender.Cert, l.sender.Key, pkcs7.SignerInfoConfig{}); err != nil {
			t.Fatal(err)
		}
	}
	sd.Detach()
	sig, err := sd.Finish()
	if err != nil {
		t.Fatal(err)
	}
	head, tail := signedAround(SHA256, sig)
	der, err := Encrypt(cat(head, ent, tail), []*x509.Certificate{l.recipient.Cert}, AES128CBC, RSAPKCS1)
	if err != nil {
		t.Fatal(err)
	}
	raw := []byte("From: drjones@a.test\r\nTo: nurse@b.test\r\nMIME-Version: 1.0\r\nContent-Type: application/pkcs7-mime; smime-type=enveloped-data\r\n" +
		"Content-Transfer-Encoding: base64\r\n\r\n" + base64.StdEncoding.EncodeToString(der) + "\r\n")
	_, err = openBoth(t, raw, l.rcpt(), l.verifier())
	if rej, ok := err.(*Rejection); !ok || rej.Rule != RuleMalformed || !strings.Contains(rej.Detail, "5 signers") {
		t.Fatalf("five signers: %v; want malformed, naming them", err)
	}
}
