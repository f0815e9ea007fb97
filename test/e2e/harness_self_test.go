package e2e

import (
	"testing"

	"github.com/BurntSushi/toml"
)

// These tests check the harness itself, without a server.

func TestTernConfigShape(t *testing.T) {
	p := &ternProc{
		target:  target{c2s: "127.0.0.9:1", c2sTLS: "127.0.0.9:2"},
		dataDir: "/tmp/x/data",
	}
	text := ternConfig(p, "127.0.0.9:3", ternOpts{
		Domains: []string{"localhost", "example.test"}, OfflineQuota: 7, ExtraTOML: "[s2s]\nlisten = []",
	})
	var cfg struct {
		DataDir  string `toml:"data_dir"`
		LogLevel string `toml:"log_level"`
		Domain   []struct {
			Name         string
			Registration bool
		}
		C2S struct {
			Listen    []string
			ListenTLS []string `toml:"listen_tls"`
		}
		HTTP   struct{ Listen string }
		Limits struct {
			OfflineQuota int `toml:"offline_quota"`
		}
		S2S struct{ Listen []string }
	}
	md, err := toml.Decode(text, &cfg)
	if err != nil {
		t.Fatalf("config is not TOML: %v\n%s", err, text)
	}
	if und := md.Undecoded(); len(und) > 0 {
		t.Errorf("unexpected keys %v in\n%s", und, text)
	}
	if cfg.DataDir != "/tmp/x/data" || cfg.LogLevel != "debug" || len(cfg.Domain) != 2 ||
		cfg.Domain[1].Name != "example.test" || cfg.Domain[0].Registration ||
		cfg.C2S.Listen[0] != "127.0.0.9:1" || cfg.C2S.ListenTLS[0] != "127.0.0.9:2" ||
		cfg.HTTP.Listen != "127.0.0.9:3" || cfg.Limits.OfflineQuota != 7 {
		t.Errorf("decoded %+v from\n%s", cfg, text)
	}
}

func TestHasStreamError(t *testing.T) {
	const ns = "urn:ietf:params:xml:ns:xmpp-streams"
	rows := []struct {
		got, cond string
		want      bool
	}{
		{"<stream:error><not-well-formed xmlns='" + ns + "'/></stream:error>", "not-well-formed", true},
		{`<stream:error><policy-violation xmlns="` + ns + `"/><text xmlns="` + ns + `">too big</text></stream:error>`, "policy-violation", true},
		{"<error xmlns='http://etherx.jabber.org/streams'><host-unknown xmlns='" + ns + "'/></error>", "host-unknown", true},
		{"<stream:error><not-well-formed xmlns='" + ns + "'/></stream:error>", "not-authorized", false},
		{"<stream:error><restricted-xml/></stream:error>", "restricted-xml", false}, // condition without its namespace
		{"<message type='error'><error><not-authorized xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>", "not-authorized", false},
		{"<stream:error><invalid-from-x xmlns='" + ns + "'/></stream:error>", "invalid-from", false},
	}
	for _, r := range rows {
		if got := hasStreamError(r.got, r.cond); got != r.want {
			t.Errorf("hasStreamError(%q, %q) = %v; want %v", r.got, r.cond, got, r.want)
		}
	}
}

func TestPickMech(t *testing.T) {
	rows := []struct {
		offered []string
		want    string
	}{
		{[]string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256", "SCRAM-SHA-256-PLUS"}, "SCRAM-SHA-256"},
		{[]string{"PLAIN", "SCRAM-SHA-1"}, "SCRAM-SHA-1"},
		{[]string{"PLAIN"}, "PLAIN"},
		{[]string{"EXTERNAL"}, ""},
	}
	for _, r := range rows {
		if got := pickMech(r.offered); got != r.want {
			t.Errorf("pickMech(%v) = %q; want %q", r.offered, got, r.want)
		}
	}
}
