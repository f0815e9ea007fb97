package certs_test

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/pki/ca"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
	"software.sslmate.com/src/go-pkcs12"
)

// TestPKCS12WholeChain: a domain's certificate loads from a PKCS#12 file with a password
// file, and the Manager serves leaf and intermediate (peers may lack the intermediate),
// for TLS server and as s2s client certificate; Reload re-reads it.
func TestPKCS12WholeChain(t *testing.T) {
	dir := t.TempDir()
	lab, err := ca.Init(filepath.Join(dir, "lab"), ca.Options{Name: "lab", Key: ca.ECDSAP256, Intermediate: true})
	if err != nil {
		t.Fatal(err)
	}
	is, err := lab.IssueDomain("a.example", nil, ca.ECDSAP256, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if len(is.Chain) != 2 {
		t.Fatalf("chain of %d", len(is.Chain))
	}
	pair, err := keypair.LoadPEMFiles(is.CertPath, is.KeyPath, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	p12, err := pkcs12.Modern.Encode(pair.Key, is.Chain[0], is.Chain[1:], "s3cret")
	if err != nil {
		t.Fatal(err)
	}
	p12File, passFile := filepath.Join(dir, "a.p12"), filepath.Join(dir, "a.pass")
	if err := os.WriteFile(p12File, p12, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(passFile, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	m, err := certs.NewManager(nil, []certs.Source{{Domain: "a.example", PKCS12File: p12File, PasswordFile: passFile}})
	if err != nil {
		t.Fatal(err)
	}
	c, ok := m.Certificate("a.example")
	if !ok || len(c.Certificate) != 2 || c.Leaf.Subject.CommonName != "a.example" {
		t.Fatalf("served %d certificates (ok=%v), want leaf and intermediate", len(c.Certificate), ok)
	}
	if in := m.Infos(); in[0].CertFile != p12File {
		t.Errorf("Infos file = %q", in[0].CertFile)
	}
	// A wrong password on reload keeps the certificate in use.
	if err := os.WriteFile(passFile, []byte("wrong\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := m.Reload(); err == nil {
		t.Fatal("reload with a wrong password succeeded")
	}
	if c2, _ := m.Certificate("a.example"); c2 != c {
		t.Error("a failed reload replaced the certificate")
	}
	// The PEM chain file (leaf + intermediate) is served whole too.
	m2, err := certs.NewManager(nil, []certs.Source{{Domain: "a.example", CertFile: is.CertPath, KeyFile: is.KeyPath}})
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := m2.Certificate("a.example"); len(c.Certificate) != 2 {
		t.Errorf("PEM: served %d certificates", len(c.Certificate))
	}
}
