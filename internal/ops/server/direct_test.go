package server

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/metrics"
	"github.com/tern-xmpp/tern/internal/pki/ca"
)

// TestDirectTrustLayer: the hooks name the Direct domains (and their TIM+
// service subdomains) only; SIGHUP's reload applies changed circles and
// refuses a file whose Direct domains changed; no Direct domain and no
// circle means no trust layer at all.
func TestDirectTrustLayer(t *testing.T) {
	dir := t.TempDir()
	lab1, err := ca.Init(filepath.Join(dir, "one"), ca.Options{Name: "one", Key: ca.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	lab2, err := ca.Init(filepath.Join(dir, "two"), ca.Options{Name: "two", Key: ca.ECDSAP256})
	if err != nil {
		t.Fatal(err)
	}
	is, err := lab1.IssueDomain("a.example", nil, ca.ECDSAP256, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	file := func(anchor, extra string) string {
		return "data_dir = \"" + filepath.Join(dir, "data") + "\"\n" + extra +
			"[[domain]]\nname = \"a.example\"\ndirect = true\ncircles = [\"c\"]\ncert = \"" + is.CertPath + "\"\nkey = \"" + is.KeyPath + "\"\n" +
			"[[domain]]\nname = \"plain.example\"\n" +
			"[[trust.circle]]\nname = \"c\"\nanchors = [\"" + anchor + "\"]\n"
	}
	path := filepath.Join(dir, "tern.toml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(file(filepath.Join(lab1.Dir, "ca.pem"), ""))
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, nil))
	dt, err := startDirect(context.Background(), cfg, metrics.New(func() int { return 0 }), nil, log)
	if err != nil || dt == nil {
		t.Fatalf("startDirect: %v %v", dt, err)
	}
	defer dt.stop()
	h := dt.hooks()
	for d, want := range map[string]bool{"a.example": true, "ftproxystream.a.example": true, "groupchat.a.example": true, "plain.example": false, "other.example": false} {
		if h.IsDirect(d) != want {
			t.Errorf("IsDirect(%s) = %v", d, !want)
		}
	}
	fingerprint := func() string {
		a, _ := dt.reg.CircleAnchors("c")
		if len(a) != 1 {
			t.Fatalf("circle c has %d anchors", len(a))
		}
		return a[0].Fingerprint
	}
	before := fingerprint()
	write(file(filepath.Join(lab2.Dir, "ca.pem"), ""))
	dt.reload()
	if fingerprint() == before {
		t.Errorf("reload kept the old anchor; log:\n%s", logs.String())
	}
	changed := fingerprint()
	write(strings.Replace(file(filepath.Join(lab1.Dir, "ca.pem"), ""), "name = \"plain.example\"\n", "name = \"plain.example\"\ndirect = true\ncert = \""+is.CertPath+"\"\nkey = \""+is.KeyPath+"\"\n", 1))
	dt.reload()
	if fingerprint() != changed || !strings.Contains(logs.String(), "the set of Direct domains changed") {
		t.Errorf("a reload with another set of Direct domains was applied; log:\n%s", logs.String())
	}

	plain := config.Default()
	plain.DataDir = t.TempDir()
	if dt, err := startDirect(context.Background(), plain, metrics.New(func() int { return 0 }), nil, log); dt != nil || err != nil {
		t.Errorf("no Direct domain: %v %v", dt, err)
	}
	if got := (*directTrust)(nil).hooks(); got.IsDirect != nil {
		t.Error("nil trust layer has hooks")
	}
}
