package check

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/ca"
)

func joined(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		b.WriteString(r.String() + "\n")
	}
	return b.String()
}

// TestDirectChecks: `tern check` reports the Direct certificate profile of each Direct
// domain, a Direct domain without circles, the lab switches and failed bundles.
func TestDirectChecks(t *testing.T) {
	dir := t.TempDir()
	lab, err := ca.Init(filepath.Join(dir, "orga"), ca.Options{Name: "orga", Key: ca.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	good, err := lab.IssueDomain("a.example", nil, ca.ECDSAP256, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	short, err := lab.IssueDomain("b.example", nil, ca.ECDSAP256, 10*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Domains = []config.Domain{
		{Name: "a.example", Direct: true, Cert: good.CertPath, Key: good.KeyPath, Circles: []string{"partners"}},
		{Name: "b.example", Direct: true, Cert: short.CertPath, Key: short.KeyPath},
	}
	cfg.Trust.LabNoCRL, cfg.Trust.AllowHTTP = true, true
	cfg.Trust.FetchTimeout = config.Duration{Duration: time.Second}
	cfg.Trust.Circles = []config.TrustCircle{{Name: "partners", Anchors: []string{filepath.Join(lab.Dir, "ca.pem")},
		Bundles: []config.TrustBundle{{Name: "gone", Path: filepath.Join(dir, "missing.p7b")}}}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	out := joined(Certificates(cfg, now))
	for _, want := range []string{
		"ok    cert a.example: fits the Direct domain certificate profile",
		"warn  cert b.example: Direct certificate:",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("certificates: want %q in\n%s", want, out)
		}
	}
	out = joined((&Checker{Timeout: time.Second}).Trust(context.Background(), cfg))
	for _, want := range []string{
		"warn  trust: lab_no_crl = true",
		"warn  trust: allow_http = true",
		"warn  trust b.example: Direct domain with no circle: it trusts nobody",
		`warn  trust: bundle "gone"`,
		"ok    trust a.example: trusts 1 anchors",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("trust: want %q in\n%s", want, out)
		}
	}
	// A Direct domain whose certificate file is missing is an error, not a generated one.
	os.Remove(short.CertPath)
	if out := joined(Certificates(cfg, now)); !strings.Contains(out, "error cert b.example:") {
		t.Errorf("missing Direct certificate: %s", out)
	}
}

// TestDirectServices: with the file proxy's listener on, a Direct domain's certificate must
// name ftproxystream.<domain> too (TIM+ §3).
func TestDirectServices(t *testing.T) {
	config.RegisterModule("bytestreams", &struct {
		Name   string `toml:"name"`
		Listen string `toml:"listen"`
	}{Name: "ftproxystream"})
	dir := t.TempDir()
	lab, err := ca.Init(filepath.Join(dir, "orga"), ca.Options{Name: "orga", Key: ca.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	is, err := lab.IssueDomain("a.example", nil, ca.ECDSAP256, 365*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse([]byte("[[domain]]\nname = \"a.example\"\ndirect = true\ncert = \"" + is.CertPath + "\"\nkey = \"" + is.KeyPath + "\"\n\n[bytestreams]\nlisten = \"127.0.0.1:7777\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if out := joined(Certificates(cfg, time.Now())); !strings.Contains(out, "ftproxystream.a.example") {
		t.Errorf("want a problem naming ftproxystream.a.example:\n%s", out)
	}
}
