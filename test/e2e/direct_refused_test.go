package e2e

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"html"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/sealed"
	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/ops/server"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
)

// TestDirectRefusedMessages: what B must refuse, each by its rule, nothing
// delivered: a message signed with a revoked certificate (its CA's CRL,
// served by A, says so; sent by A, whose user is told the rule), and, sent
// by the test speaking for a.example over s2s with a.example's certificate
// (as a careless or hostile HISP would), one signed with an expired
// certificate, one signed with a certificate bound to another address, and
// one changed on the way (a byte of the ciphertext flipped). A itself
// refuses to sign with an expired certificate, or for an address its
// certificate is not bound to, saying why.
func TestDirectRefusedMessages(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	a, b, l := messagingPairWith(t, pairOpts{usersA: []string{"expired@a.example", "revoked@a.example", "mallory@a.example"}})
	ternCert(t, "issue", "--dir", l.ca("orga"), "--address", "expired@a.example", "--days", "-1")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--address", "revoked@a.example")
	revoked, revokedKey := l.issued("orga", "revoked@a.example")
	if out, err := exec.Command(ternBin, "direct", "cert", "--config", a.config, "add", "revoked@a.example", "--cert", revoked, "--key", revokedKey).CombinedOutput(); err != nil {
		t.Fatalf("tern direct cert add revoked@: %v\n%s", err, out)
	}
	ternCert(t, "revoke", "--dir", l.ca("orga"), revoked)
	expired, expiredKey := l.issued("orga", "expired@a.example")
	drjones, drjonesKey := l.issued("orga", "drjones@a.example")
	putSigner(t, a, "expired@a.example", expired, expiredKey)
	putSigner(t, a, "mallory@a.example", drjones, drjonesKey) // drjones@'s certificate, stored for mallory@

	nurse := dialRaw(t, &b.target, true)
	nurseFull := nurse.login(withDomain(b, "b.example"), "nurse@b.example")
	nurse.send("<presence/>")
	send := func(from string) (string, error) {
		out, err := exec.Command(ternBin, "direct", "send", "--config", a.config, "--from", from, "--to", "nurse@b.example",
			"--subject", "Refused", "--text", "Not for nurse: "+from).CombinedOutput()
		return string(out), err
	}
	if out, err := send("revoked@a.example"); err == nil || !strings.Contains(out, "nurse@b.example: sent <") || !strings.Contains(out, "nurse@b.example: FAILED: refused by its server (rule revoked)") {
		t.Fatalf("send as revoked@ (A does not check its own signer's CRL; B does): %v\n%s", err, out)
	}
	for _, from := range []string{"expired@a.example", "mallory@a.example"} {
		if out, err := send(from); err == nil || !strings.Contains(out, "FAILED: no signing certificate") {
			t.Errorf("send as %s: %v; want A to refuse its certificate\n%s", from, err, out)
		}
	}

	// Over s2s as a.example: sealed by the test for nurse@.
	nurseCert, _ := l.issued("orgb", "nurse@b.example")
	rc, err := x509.ParseCertificate(readDER(t, nurseCert))
	if err != nil {
		t.Fatal(err)
	}
	domainPair, err := tls.LoadX509KeyPair(l.issued("orga", "a.example"))
	if err != nil {
		t.Fatal(err)
	}
	conf, err := os.ReadFile(b.config)
	if err != nil {
		t.Fatal(err)
	}
	listen := regexp.MustCompile(`(?m)^listen = \["([^"]+:5269)"\]`).FindSubmatch(conf)
	if listen == nil {
		t.Fatalf("no s2s listen address in %s", b.config)
	}
	s2s := dialS2S(t, string(listen[1]), "a.example", "b.example", &domainPair, nil)
	s2s.authExternal("a.example", "b.example")
	sendSealed := func(id, from, certFile, keyFile string, tamper bool) {
		t.Helper()
		pair, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			t.Fatal(err)
		}
		msg := &smime.Message{From: from, To: []string{"nurse@b.example"}, Subject: id, Parts: []smime.Part{{Data: []byte("Not for nurse: " + id + "\n")}}}
		raw, err := smime.Seal(msg, smime.Signer{Cert: pair.Leaf, Key: pair.PrivateKey.(crypto.Signer)}, []*x509.Certificate{rc}, smime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if tamper {
			body := strings.Index(string(raw), "\r\n\r\n") + 4
			i := body + (len(raw)-body)/2
			raw[i] = map[bool]byte{true: 'B', false: 'A'}[raw[i] == 'A']
		}
		s2s.send("<message xmlns='jabber:server' from='" + from + "' to='nurse@b.example' type='normal' id='" + id + "'>" +
			"<direct xmlns='urn:tern:direct:message:0' message-id='" + html.EscapeString(msg.MessageID) + "'>" + base64.StdEncoding.EncodeToString(raw) + "</direct></message>")
	}
	sendSealed("expired1", "expired@a.example", expired, expiredKey, false)
	sendSealed("mallory1", "mallory@a.example", drjones, drjonesKey, false)
	sendSealed("tampered1", "drjones@a.example", drjones, drjonesKey, true)

	// B refused each by its rule; A told revoked@ and recorded it.
	for _, rule := range []string{"revoked", "expired", "binding-mismatch"} {
		logHas(t, b, `Direct message refused.*rule=`+rule, rawTimeout)
	}
	// Changed AES-CBC ciphertext decrypts to garbage where the byte was: what breaks
	// first (the MIME, the signature) depends on where it lands. The log names it; the
	// sender is told decrypt-failed whatever it was (no padding oracle).
	logHas(t, b, `Direct message refused.*id=tampered1 rule=(malformed|bad-signature|not-signed|decrypt-failed)`, rawTimeout)
	deadline := time.Now().Add(20 * time.Second)
	for {
		out, err := exec.Command(ternBin, "direct", "log", "--config", a.config).CombinedOutput()
		if err != nil {
			t.Fatalf("tern direct log: %v\n%s", err, out)
		}
		if regexp.MustCompile(`refused-by-peer revoked@a\.example -> nurse@b\.example .* rule revoked`).Match(out) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("A's audit trail lacks the refusal of revoked@'s message:\n%s", out)
		}
		time.Sleep(200 * time.Millisecond)
	}
	out, err := exec.Command(ternBin, "direct", "log", "--config", b.config).CombinedOutput()
	for _, rule := range []string{"revoked", "expired", "binding-mismatch"} {
		if !regexp.MustCompile(`rejected\s+nurse@b\.example <- \S+@a\.example .* rule ` + rule).Match(out) {
			t.Errorf("B's audit trail lacks the %s rejection (%v):\n%s", rule, err, out)
		}
	}
	// Nothing reached nurse.
	expectNothingBefore(t, nurse, nurseFull, "Not for nurse")
}

// putSigner writes address's certificate and key (PEM files) into p's
// store as `tern direct cert add` would, without its checks, and tells p.
func putSigner(t *testing.T, p *ternProc, address, certFile, keyFile string) {
	t.Helper()
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(pair.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(p.config)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := server.SealingKey(cfg)
	if err != nil {
		t.Fatal(err)
	}
	box, err := sealed.New(secret)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(pair.Leaf.Raw)
	c := storage.DirectCert{Address: address, SHA256: hex.EncodeToString(sum[:]), DER: pair.Leaf.Raw, Added: time.Now().UTC()}
	if c.Key, err = box.Seal(keyDER, address+"/"+c.SHA256); err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(p.dataDir, "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.DirectCerts().PutCert(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	if _, err := control.Call(ctx, filepath.Join(p.dataDir, "tern.sock"), "direct.certs.changed", nil); err != nil {
		t.Fatalf("telling tern its certificates changed: %v", err)
	}
}
