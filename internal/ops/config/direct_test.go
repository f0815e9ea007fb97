package config

import (
	"strings"
	"testing"
)

// TestDirectConfig: the shape of docs/direct-trust.md parses, and every
// mistake that would leave a Direct domain open or without its own
// certificate is an error saying what to write instead.
func TestDirectConfig(t *testing.T) {
	good := `
[[domain]]
name = "a.example"
direct = true
pkcs12 = "/etc/tern/a.p12"
password_file = "/etc/tern/a.pass"
circles = ["partners"]

[[domain]]
name = "plain.example"

[trust]
revalidate = "2s"
lab_no_crl = true

[[trust.circle]]
name = "partners"
anchors = ["/etc/tern/partner-ca.pem"]
[[trust.circle.bundle]]
name = "dt"
url = "https://bundles.example.org/dt.p7b"
refresh = "1h"
[[trust.circle.bundle]]
name = "lab"
path = "/etc/tern/lab.p7b"
`
	c, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	d, _ := c.Domain("a.example")
	if !d.Direct || d.PKCS12 != "/etc/tern/a.p12" || len(d.Circles) != 1 {
		t.Fatalf("domain = %+v", d)
	}
	if got := c.DirectDomains(); len(got) != 1 || got[0] != "a.example" {
		t.Fatalf("DirectDomains = %v", got)
	}
	if n := len(c.Trust.Circles[0].Bundles); n != 2 || c.Trust.Revalidate.String() != "2s" || !c.Trust.LabNoCRL {
		t.Fatalf("trust = %+v", c.Trust)
	}
	if _, _, gen := c.CertFiles(d); gen {
		t.Fatal("a Direct domain got a generated certificate")
	}
	if c.TrustCacheDir() != "tern-data/trust-cache" {
		t.Fatalf("TrustCacheDir = %q", c.TrustCacheDir())
	}

	for _, tc := range []struct {
		name, toml, want string
	}{
		{"direct without certificate", `[[domain]]
name = "a.example"
direct = true
`, "no self-signed certificate"},
		{"unknown circle", `[[domain]]
name = "a.example"
direct = true
cert = "a.crt"
key = "a.key"
circles = ["partner"]
[[trust.circle]]
name = "partners"
anchors = ["ca.pem"]
`, `"partner", which is no [[trust.circle]]: use one of partners`},
		{"circle and no trust section", `[[domain]]
name = "a.example"
direct = true
cert = "a.crt"
key = "a.key"
circles = ["partners"]
`, "no [[trust.circle]] is configured"},
		{"circles without direct", `[[domain]]
name = "a.example"
circles = ["partners"]
[[trust.circle]]
name = "partners"
anchors = ["ca.pem"]
`, "set direct = true"},
		{"dns listen without direct", "[dns]\nlisten = \"127.0.0.1:5353\"\n", "no [[domain]] has direct = true"},
		{"dns listen without port", "[dns]\nlisten = \"127.0.0.1\"\n", `dns.listen = "127.0.0.1": write host:port`},
		{"dns resolver without port", "[dns]\nresolver = \"9.9.9.9\"\n", `dns.resolver = "9.9.9.9": write host:port`},
		{"dns bad host ip", "[dns]\nhost = \"xmpp.a.example\"\nhost_ips = [\"10.0.0.300\"]\n", `"10.0.0.300" is not an IP address`},
		{"dns host ips without host", "[dns]\nhost_ips = [\"10.0.0.3\"]\n", "dns.host is empty"},
		{"dns zero ttl", "[dns]\nttl = \"0s\"\n", "dns.ttl"},
		{"registration on direct", `[[domain]]
name = "a.example"
direct = true
cert = "a.crt"
key = "a.key"
registration = true
`, "no in-band registration"},
		{"http bundle", `[[trust.circle]]
name = "p"
[[trust.circle.bundle]]
name = "b"
url = "http://bundles.example.org/b.p7b"
`, "set trust.allow_http = true"},
		{"bundle without source", `[[trust.circle]]
name = "p"
[[trust.circle.bundle]]
name = "b"
`, "neither url nor path"},
		{"empty circle", `[[trust.circle]]
name = "p"
`, "neither anchors nor bundles"},
		{"pkcs12 and pem", `[[domain]]
name = "a.example"
pkcs12 = "a.p12"
cert = "a.crt"
key = "a.key"
`, "pkcs12 and cert/key are both set"},
		{"password without pkcs12", `[[domain]]
name = "a.example"
password_file = "a.pass"
`, "password_file is set without pkcs12"},
		{"revalidate zero", `[trust]
revalidate = "0s"
`, "trust.revalidate"},
		{"pki dir missing", `[http]
pki_dirs = ["/nonexistent/lab"]
`, "http.pki_dirs"},
		{"no starttls with direct", `[c2s]
require_starttls = false
[[domain]]
name = "a.example"
direct = true
cert = "a.crt"
key = "a.key"
`, "TIM+ requires TLS on every client stream"},
		{"typo in direct key", `[[domain]]
name = "a.example"
drect = true
`, `did you mean "domain.direct"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := Parse([]byte(tc.toml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}
