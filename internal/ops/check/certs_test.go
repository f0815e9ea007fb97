package check

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/certs"
)

func TestCertificate(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		domain string
		spec   certSpec
		sev    Severity
		want   string
	}{
		{"valid", "example.org", certSpec{names: []string{"example.org"}}, OK, "names cover example.org"},
		{"untrusted CA", "example.org", certSpec{names: []string{"example.org"}}, Warning, "not trusted"},
		{"expired", "example.org", certSpec{names: []string{"example.org"}, notBefore: now.Add(-400 * 24 * time.Hour), notAfter: now.Add(-time.Hour)}, Error, "expired"},
		{"not yet valid", "example.org", certSpec{names: []string{"example.org"}, notBefore: now.Add(24 * time.Hour)}, Error, "not valid before"},
		{"expires soon", "example.org", certSpec{names: []string{"example.org"}, notAfter: now.Add(10 * 24 * time.Hour)}, Warning, "renew it soon"},
		{"later", "example.org", certSpec{names: []string{"example.org"}, notAfter: now.Add(40 * 24 * time.Hour)}, OK, "valid until"},
		{"expires in 1 day", "example.org", certSpec{names: []string{"example.org"}, notAfter: now.Add(36 * time.Hour)}, Warning, ", in 1 day: renew it soon"},
		{"expires today", "example.org", certSpec{names: []string{"example.org"}, notAfter: now.Add(5 * time.Hour)}, Warning, ", in less than a day: renew it soon"},
		{"valid 40 days", "example.org", certSpec{names: []string{"example.org"}, notAfter: now.Add(40*24*time.Hour + time.Hour)}, OK, "(40 days)"},
		{"wrong name", "example.org", certSpec{names: []string{"example.net"}}, Error, "does not cover example.org"},
		// RFC 6125 §6.4.3: the wildcard matches one label only, and not the parent.
		{"wildcard covers one label", "chat.example.org", certSpec{names: []string{"*.example.org"}}, OK, "names cover"},
		{"wildcard not parent", "example.org", certSpec{names: []string{"*.example.org"}}, Error, "does not cover"},
		{"wildcard not two labels", "a.b.example.org", certSpec{names: []string{"*.example.org"}}, Error, "does not cover"},
		{"IDN", "café.example", certSpec{names: []string{"xn--caf-dma.example"}}, OK, "names cover café.example"},
		{"client-only EKU", "example.org", certSpec{names: []string{"example.org"}, eku: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, Error, "serverAuth"},
		{"self-signed", "example.org", certSpec{names: []string{"example.org"}, selfSign: true}, Warning, "federation will need dialback"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, k := makeCert(t, tt.spec)
			cfg := config.Default()
			d := config.Domain{Name: tt.domain, Cert: c, Key: k}
			rs := Certificate(cfg, d, now)
			if !has(rs, tt.sev, tt.want) {
				t.Errorf("no %v result containing %q:%s", tt.sev, tt.want, dump(rs))
			}
		})
	}
}

func TestCertificateFiles(t *testing.T) {
	now := time.Now()
	c1, k1 := makeCert(t, certSpec{names: []string{"example.org"}})
	_, k2 := makeCert(t, certSpec{names: []string{"example.org"}})
	junk := filepath.Join(t.TempDir(), "junk.pem")
	os.WriteFile(junk, []byte("hello"), 0o644)
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	tests := []struct {
		name string
		d    config.Domain
		sev  Severity
		want string
	}{
		{"missing cert", config.Domain{Name: "example.org", Cert: "/nonexistent.pem", Key: k1}, Error, "cannot read"},
		{"missing key", config.Domain{Name: "example.org", Cert: c1, Key: "/nonexistent.key"}, Error, "cannot read"},
		{"key mismatch", config.Domain{Name: "example.org", Cert: c1, Key: k2}, Error, "do not make a pair"},
		{"not PEM", config.Domain{Name: "example.org", Cert: junk, Key: k1}, Error, "no PEM certificate"},
		{"not generated yet", config.Domain{Name: "localhost"}, Info, "will generate"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rs := Certificate(cfg, tt.d, now)
			if !has(rs, tt.sev, tt.want) {
				t.Errorf("no %v result containing %q:%s", tt.sev, tt.want, dump(rs))
			}
		})
	}
	// Once generated: self-signed warning.
	cert, key, _ := cfg.CertFiles(config.Domain{Name: "localhost"})
	if _, err := certs.EnsureSelfSigned(cert, key, "localhost", certs.Options{}); err != nil {
		t.Fatal(err)
	}
	if rs := Certificate(cfg, config.Domain{Name: "localhost"}, now); !has(rs, Warning, "self-signed") || Count(rs, Error) > 0 {
		t.Errorf("generated cert:%s", dump(rs))
	}
}
