package config

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// normalize makes nil and empty lists/maps equal, as TOML cannot tell them apart.
func normalize(c *Config) *Config {
	cp := *c
	cp.Domains = append([]Domain(nil), c.Domains...)
	for i := range cp.Domains {
		if len(cp.Domains[i].Admins) == 0 {
			cp.Domains[i].Admins = nil
		}
		if len(cp.Domains[i].Contacts) == 0 {
			cp.Domains[i].Contacts = nil
		}
		if len(cp.Domains[i].Circles) == 0 {
			cp.Domains[i].Circles = nil
		}
	}
	if len(cp.S2S.Listen) == 0 {
		cp.S2S.Listen = nil
	}
	if len(cp.S2S.ListenTLS) == 0 {
		cp.S2S.ListenTLS = nil
	}
	if len(cp.S2S.Routes) == 0 {
		cp.S2S.Routes = nil
	}
	if len(cp.S2S.InsecureDomains) == 0 {
		cp.S2S.InsecureDomains = nil
	}
	return &cp
}

func TestDefaultValidates(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatalf("Default().Validate() = %v", err)
	}
}

func TestExampleEqualsDefault(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tern.toml")
	if err := os.WriteFile(path, Example(), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatalf("Load(example) = %v", err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("example does not validate: %v", err)
	}
	if c.Path != path {
		t.Errorf("Path = %q, want %q", c.Path, path)
	}
	c.Path = ""
	if got, want := normalize(c), normalize(Default()); !reflect.DeepEqual(got, want) {
		t.Errorf("example differs from Default():\n got %+v\nwant %+v", got, want)
	}
}

func TestEmptyFileIsDefault(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c, Default()) {
		t.Errorf("Parse(\"\") = %+v, want Default()", c)
	}
}

func TestOverlay(t *testing.T) {
	c, err := Parse([]byte(`
data_dir = "/var/lib/tern"
[[domain]]
name = "Example.ORG."
registration = true
contacts = { admin = ["xmpp:admin@example.org"], abuse = ["mailto:abuse@example.org"] }
[[domain]]
name = "b.example"
cert = "b.crt"
key = "b.key"
[c2s]
listen = []
[limits]
ping_interval = "0s"
conns_per_ip = 20000
`))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := c.DomainNames(); !reflect.DeepEqual(got, []string{"example.org", "b.example"}) {
		t.Errorf("DomainNames = %q", got)
	}
	if !c.Domains[0].Registration || c.Domains[1].Registration {
		t.Errorf("registration must not leak between domains: %+v", c.Domains)
	}
	if len(c.C2S.Listen) != 0 || !reflect.DeepEqual(c.C2S.ListenTLS, []string{"127.0.0.1:5223"}) {
		t.Errorf("c2s = %+v: listen must be replaced, listen_tls kept", c.C2S)
	}
	if c.Limits.PingInterval.Duration != 0 || c.Limits.PingTimeout.Duration != time.Minute || c.Limits.ConnsPerIP != 20000 {
		t.Errorf("limits = %+v", c.Limits)
	}
	if got := c.StoragePath(); got != filepath.Join("/var/lib/tern", "tern.db") {
		t.Errorf("StoragePath = %q", got)
	}
	if got := c.CertDir(); got != filepath.Join("/var/lib/tern", "certs") {
		t.Errorf("CertDir = %q", got)
	}
	cert, key, gen := c.CertFiles(c.Domains[0])
	if !gen || cert != "/var/lib/tern/certs/example.org.crt" || key != "/var/lib/tern/certs/example.org.key" {
		t.Errorf("CertFiles(example.org) = %q %q %v", cert, key, gen)
	}
	if cert, key, gen := c.CertFiles(c.Domains[1]); gen || cert != "b.crt" || key != "b.key" {
		t.Errorf("CertFiles(b.example) = %q %q %v", cert, key, gen)
	}
}

func TestUnknownKeys(t *testing.T) {
	tests := []struct {
		name, toml string
		want       []string // substrings of the error
	}{
		{"top level typo", "log_levl = \"debug\"\n", []string{`line 1`, `"log_levl"`, `did you mean "log_level"`}},
		{"domain typo", "[[domain]]\nname = \"a.example\"\nregistation = true\n", []string{`line 3`, `"domain.registation"`, `"domain.registration"`}},
		{"table typo", "[limit]\nmax_depth = 3\n", []string{`line 1`, `"limit"`, `"limits"`}},
		{"nested unknown once", "[foo]\nbar = 1\nbaz = 2\n", []string{`"foo"`, "remove it"}},
		{"same name in another table", "[[domain]]\nname = \"a.example\"\n[storage]\nname = \"x\"\n", []string{`line 4`, `"storage.name"`}},
		{"dotted key", "limits.max_deph = 3\n", []string{`line 1`, `"limits.max_deph"`, `"limits.max_depth"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.toml))
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "foo.bar") {
				t.Errorf("keys under an unknown table reported separately: %v", err)
			}
		})
	}
}

func TestTypeErrorsNameLine(t *testing.T) {
	for _, in := range []string{"[limits]\nauth_timeout = \"soon\"\n", "[limits]\nmax_depth = \"x\"\n", "data_dir = \n"} {
		_, err := Parse([]byte(in))
		if err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("Parse(%q) = %v, want an error with a line", in, err)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(c *Config)
		want string // substring; "" means valid
	}{
		{"default", func(c *Config) {}, ""},
		{"empty data dir", func(c *Config) { c.DataDir = "" }, "data_dir"},
		{"bad log level", func(c *Config) { c.LogLevel = "verbose" }, "log_level"},
		{"bad log format", func(c *Config) { c.LogFormat = "xml" }, "log_format"},
		{"no domain", func(c *Config) { c.Domains = nil }, "no [[domain]]"},
		{"invalid domain", func(c *Config) { c.Domains[0].Name = "bad domain" }, "domain[0].name"},
		{"domain with @", func(c *Config) { c.Domains[0].Name = "a@b" }, "domain[0].name"},
		{"duplicate domain", func(c *Config) {
			c.Domains = []Domain{{Name: "a.example"}, {Name: "A.example"}}
		}, "configured twice"},
		{"cert without key", func(c *Config) { c.Domains[0].Cert = "x.crt" }, "cert is set but key is not"},
		{"key without cert", func(c *Config) { c.Domains[0].Key = "x.key" }, "key is set but cert is not"},
		{"admin not bare", func(c *Config) { c.Domains[0].Admins = []string{"a@localhost/res"} }, "admins"},
		{"admin no local", func(c *Config) { c.Domains[0].Admins = []string{"localhost"} }, "admins"},
		{"contact kind", func(c *Config) { c.Domains[0].Contacts = map[string][]string{"boss": {"xmpp:a@b"}} }, "unknown kind"},
		{"contact not URI", func(c *Config) { c.Domains[0].Contacts = map[string][]string{"admin": {"admin@b"}} }, "not a URI"},
		{"contact ok", func(c *Config) {
			c.Domains[0].Contacts = map[string][]string{"admin": {"xmpp:a@b"}, "abuse": {"mailto:x@y", "https://y/abuse"}}
		}, ""},
		{"listen no port", func(c *Config) { c.C2S.Listen = []string{"127.0.0.1"} }, "c2s.listen"},
		{"listen bad port", func(c *Config) { c.C2S.ListenTLS = []string{"127.0.0.1:70000"} }, "c2s.listen_tls"},
		{"listen hostname", func(c *Config) { c.C2S.Listen = []string{"example.org:5222"} }, "not an IP"},
		{"listen port 0 ok", func(c *Config) { c.C2S.Listen = []string{"127.0.0.1:0"} }, ""},
		{"listen ipv6 ok", func(c *Config) { c.C2S.Listen = []string{"[::1]:5222", ":5222"} }, ""},
		{"duplicate listener", func(c *Config) { c.S2S.Listen = []string{"127.0.0.1:5222"} }, "also used by c2s.listen"},
		{"no c2s listener", func(c *Config) { c.C2S.Listen, c.C2S.ListenTLS = nil, nil }, "both empty"},
		{"bad http listen", func(c *Config) { c.HTTP.Listen = "5280" }, "http.listen"},
		{"http disabled", func(c *Config) { c.HTTP.Listen = "" }, ""},
		{"bad route", func(c *Config) { c.S2S.Routes = map[string]string{"example.net": "nohost"} }, "s2s.routes"},
		{"missing s2s ca_file", func(c *Config) { c.S2S.CAFile = "/nonexistent/ca.pem" }, "s2s.ca_file"},
		// A device or FIFO must be refused, not read: /dev/zero never ends.
		{"device s2s ca_file", func(c *Config) { c.S2S.CAFile = "/dev/zero" }, "not a regular file"},
		{"directory s2s ca_file", func(c *Config) { c.S2S.CAFile = "/" }, "not a regular file"},
		{"bad trusted network", func(c *Config) { c.Limits.TrustedNetworks = []string{"10.0.0.0/33"} }, "limits.trusted_networks"},
		{"trusted networks", func(c *Config) { c.Limits.TrustedNetworks = []string{"192.0.2.7", "10.20.0.0/16", "2001:db8::/32"} }, ""},
		{"s2s stanza limit too small", func(c *Config) { c.Limits.MaxS2SStanzaBytes = 9999 }, "max_s2s_stanza_bytes"},
		{"bad insecure domain", func(c *Config) { c.S2S.InsecureDomains = []string{"a b"} }, "s2s.insecure_domains"},
		{"insecure domains without dialback", func(c *Config) { c.S2S.Dialback = false; c.S2S.InsecureDomains = []string{"example.net"} }, "dialback is false"},
		{"s2s connect_timeout too short", func(c *Config) { c.S2S.ConnectTimeout = Duration{time.Millisecond} }, "s2s.connect_timeout"},
		{"s2s idle_timeout zero", func(c *Config) { c.S2S.IdleTimeout = Duration{} }, "s2s.idle_timeout"},
		{"s2s queue_max zero", func(c *Config) { c.S2S.QueueMax = 0 }, "s2s.queue_max"},
		{"s2s dns_server not ip:port", func(c *Config) { c.S2S.DNSServer = "dns.example:53" }, "s2s.dns_server"},
		{"unknown backend", func(c *Config) { c.Storage.Backend = "mysql" }, `storage.backend "mysql"`},
		{"postgres no dsn", func(c *Config) { c.Storage.Backend = "postgres" }, "storage.dsn is empty"},
		{"postgres ok", func(c *Config) { c.Storage.Backend, c.Storage.DSN = "postgres", "postgres://x/y" }, ""},
		{"sqlite with dsn", func(c *Config) { c.Storage.DSN = "postgres://x/y" }, "storage.dsn is set"},
		{"stanza too small", func(c *Config) { c.Limits.MaxStanzaBytes = 9999 }, "max_stanza_bytes"},
		{"stanza minimum", func(c *Config) { c.Limits.MaxStanzaBytes = 10000 }, ""},
		{"depth", func(c *Config) { c.Limits.MaxDepth = 0 }, "max_depth"},
		{"attrs too few", func(c *Config) { c.Limits.MaxAttrs = 8 }, "limits.max_attrs = 8 is out of range: use 16..1024"},
		{"attrs minimum", func(c *Config) { c.Limits.MaxAttrs = 16 }, ""},
		{"no password minimum", func(c *Config) { c.Limits.MinPasswordLength = 0 }, "limits.min_password_length = 0 is out of range: use 1..1024"},
		{"password minimum 1", func(c *Config) { c.Limits.MinPasswordLength = 1 }, ""},
		{"negative quota", func(c *Config) { c.Limits.OfflineQuota = -1 }, "offline_quota"},
		{"roster", func(c *Config) { c.Limits.RosterMaxItems = 1 << 30 }, "roster_max_items"},
		{"conns", func(c *Config) { c.Limits.ConnsPerIP = -5 }, "conns_per_ip"},
		{"auth failures", func(c *Config) { c.Limits.AuthFailuresPerIP = -1 }, "auth_failures_per_ip"},
		{"auth timeout", func(c *Config) { c.Limits.AuthTimeout.Duration = 0 }, "auth_timeout"},
		{"ping disabled", func(c *Config) { c.Limits.PingInterval.Duration = 0 }, ""},
		{"ping too often", func(c *Config) { c.Limits.PingInterval.Duration = 500 * time.Millisecond }, "ping_interval"},
		{"ping timeout", func(c *Config) { c.Limits.PingTimeout.Duration = time.Hour }, "ping_timeout"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.edit(c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && err == nil:
				t.Errorf("Validate() = nil, want error containing %q", tt.want)
			case tt.want != "" && !strings.Contains(err.Error(), tt.want):
				t.Errorf("Validate() = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestValidateReportsAll(t *testing.T) {
	c := Default()
	c.LogLevel, c.Storage.Backend, c.Limits.MaxDepth = "x", "y", -1
	err := c.Validate()
	if err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("Validate() = %q, want 3 lines", err)
	}
}

func TestPrepareDomain(t *testing.T) {
	tests := []struct{ in, want string }{
		{"localhost", "localhost"},
		{"Example.ORG", "example.org"},
		{"example.org.", "example.org"},
		{"xn--caf-dma.example", "café.example"},
		{"CAFÉ.example", "café.example"},
		{"192.0.2.1", "192.0.2.1"},
		{"[2001:DB8::1]", "[2001:db8::1]"},
		{"", ""},
		{"a b", ""},
		{"a@b", ""},
		{"a/b", ""},
		{"[1.2.3.4]", ""},
		{strings.Repeat("a", 64) + ".example", ""},
		{"-a.example", ""},
	}
	for _, tt := range tests {
		got, err := PrepareDomain(tt.in)
		if tt.want == "" {
			if err == nil {
				t.Errorf("PrepareDomain(%q) = %q, want error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("PrepareDomain(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDurationText(t *testing.T) {
	var d Duration
	if err := d.UnmarshalText([]byte("1h30m")); err != nil || d.Duration != 90*time.Minute {
		t.Fatalf("UnmarshalText = %v, %v", d, err)
	}
	b, _ := d.MarshalText()
	if string(b) != "1h30m0s" {
		t.Errorf("MarshalText = %q", b)
	}
	if err := d.UnmarshalText([]byte("30")); err == nil {
		t.Error("a duration without unit must be rejected")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.toml"))
	if err == nil || !strings.Contains(err.Error(), "tern config example") {
		t.Errorf("Load(missing) = %v, want a hint", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example())
	f.Add([]byte("[[domain]]\nname = \"a\"\n[[domain]]\nname=\"b\"\n"))
	f.Add([]byte("limits.max_deph = 3\n"))
	f.Add([]byte("[foo]\nbar = 1\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		_ = c.Validate()
		_ = c.DomainNames()
	})
}

func FuzzPrepareDomain(f *testing.F) {
	for _, s := range []string{"localhost", "Example.ORG.", "xn--caf-dma.example", "[::1]", "a@b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := PrepareDomain(s)
		if err != nil {
			return
		}
		// Preparation is idempotent.
		if d2, err := PrepareDomain(d); err != nil || d2 != d {
			t.Errorf("PrepareDomain(%q) = %q, then %q, %v", s, d, d2, err)
		}
	})
}
