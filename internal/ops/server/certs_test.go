package server

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
)

func TestCertificates(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	dir := t.TempDir()
	ext := struct{ cert, key string }{filepath.Join(dir, "b.crt"), filepath.Join(dir, "b.key")}
	if _, err := certs.EnsureSelfSigned(ext.cert, ext.key, "b.example", certs.Options{}); err != nil {
		t.Fatal(err)
	}
	cfg.Domains = append(cfg.Domains, config.Domain{Name: "b.example", Cert: ext.cert, Key: ext.key})
	m, err := Certificates(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	gen := filepath.Join(cfg.CertDir(), "localhost.crt")
	in := m.Infos()
	if len(in) != 2 || in[0].CertFile != gen || in[1].CertFile != ext.cert {
		t.Fatalf("Infos = %+v", in)
	}
	first, _ := os.ReadFile(gen)
	if _, err := Certificates(cfg, nil); err != nil {
		t.Fatal(err)
	}
	if second, _ := os.ReadFile(gen); !bytes.Equal(first, second) {
		t.Error("Certificates regenerated an existing certificate")
	}
}
