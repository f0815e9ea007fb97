package config

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery"
)

// validateDirect checks the Direct domains and [trust] (TIM+: a Direct
// domain talks only to peers of its circles). Every mistake that could
// leave a Direct domain open, or quietly without its certificate, is an
// error here, not a warning at run time.
func (c *Config) validateDirect() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	t := c.Trust

	circles := map[string]bool{}
	bundles := map[string]TrustBundle{}
	for i, ci := range t.Circles {
		key := fmt.Sprintf("trust.circle[%d]", i)
		if strings.TrimSpace(ci.Name) == "" {
			add("%s has no name: write name = \"partners\" (domains name it in circles = [...])", key)
		} else {
			key = fmt.Sprintf("trust.circle %q", ci.Name)
			if circles[ci.Name] {
				add("%s is configured twice: merge the two [[trust.circle]] tables", key)
			}
			circles[ci.Name] = true
		}
		if len(ci.Anchors)+len(ci.Bundles) == 0 {
			add("%s has neither anchors nor bundles: it would trust nobody; add anchors = [\"/etc/tern/anchors/partner-ca.pem\"] or a [[trust.circle.bundle]]", key)
		}
		for _, a := range ci.Anchors {
			if strings.TrimSpace(a) == "" {
				add("%s: anchors has an empty path: write the path of a PEM or DER CA certificate", key)
			}
		}
		for j, b := range ci.Bundles {
			bkey := fmt.Sprintf("%s: bundle[%d]", key, j)
			if b.Name == "" {
				add("%s has no name: write name = \"partners-bundle\" (names are global, for `tern direct trust refresh NAME`)", bkey)
			} else {
				bkey = fmt.Sprintf("%s: bundle %q", key, b.Name)
				if prev, dup := bundles[b.Name]; dup && prev != b {
					add("%s is also configured with other settings in another circle: a bundle name means one source; rename one", bkey)
				}
				bundles[b.Name] = b
			}
			switch {
			case b.URL == "" && b.Path == "":
				add("%s has neither url nor path: write url = \"https://bundles.example.org/partners.p7b\" or path = \"/etc/tern/partners.p7b\"", bkey)
			case b.URL != "" && b.Path != "":
				add("%s has both url and path: keep one", bkey)
			case b.URL != "":
				u, err := url.Parse(b.URL)
				switch {
				case err != nil || u.Host == "":
					add("%s: url %q is not a URL: write \"https://bundles.example.org/partners.p7b\"", bkey, b.URL)
				case u.Scheme == "http" && !t.AllowHTTP:
					add("%s: url %q is plain http, which anyone on the path can replace: use https, or set trust.allow_http = true in a lab", bkey, b.URL)
				case u.Scheme != "https" && u.Scheme != "http":
					add("%s: url %q: only https (and, with allow_http, http) URLs are fetched; use path = for a file", bkey, b.URL)
				}
			}
			if b.Refresh.Duration != 0 && (b.Refresh.Duration < time.Minute || b.Refresh.Duration > 30*24*time.Hour) {
				add("%s: refresh = %q is out of range: use 1m..720h (default 6h)", bkey, b.Refresh.String())
			}
		}
	}
	durRange := func(key string, v Duration, lo, hi time.Duration) {
		if v.Duration < lo || v.Duration > hi {
			add("trust.%s = %q is out of range: use %v..%v", key, v.String(), lo, hi)
		}
	}
	durRange("fetch_timeout", t.FetchTimeout, time.Second, 5*time.Minute)
	durRange("crl_timeout", t.CRLTimeout, time.Second, 5*time.Minute)
	durRange("revalidate", t.Revalidate, time.Second, 24*time.Hour)
	durRange("crl_max_age", t.CRLMaxAge, time.Second, 7*24*time.Hour)
	if t.MaxBundleSize < 1024 || t.MaxBundleSize > 1<<30 {
		add("trust.max_bundle_size = %d is out of range: use 1024..1073741824 bytes (default 10485760)", t.MaxBundleSize)
	}

	known := make([]string, 0, len(circles))
	for n := range circles {
		known = append(known, n)
	}
	slices.Sort(known)
	for i, d := range c.Domains {
		key := fmt.Sprintf("domain %q", d.Name)
		if d.Name == "" {
			key = fmt.Sprintf("domain[%d]", i)
		}
		switch {
		case d.PKCS12 != "" && (d.Cert != "" || d.Key != ""):
			add("%s: pkcs12 and cert/key are both set: keep pkcs12 = %q, or cert and key (PEM)", key, d.PKCS12)
		case d.PasswordFile != "" && d.PKCS12 == "":
			add("%s: password_file is set without pkcs12: it is the PKCS#12 file's password; set pkcs12 = \"/etc/tern/%s.p12\" or remove password_file (PEM keys are unencrypted)", key, d.Name)
		}
		if !d.Direct {
			if len(d.Circles) > 0 {
				add("%s: circles is set but direct is not true: circles only apply to Direct domains; set direct = true (or remove circles)", key)
			}
			continue
		}
		if d.Cert == "" && d.Key == "" && d.PKCS12 == "" {
			add("%s: direct = true needs the domain's Direct certificate: set pkcs12 = \"/etc/tern/%s.p12\" (with password_file) or cert and key (PEM); Direct domains get no self-signed certificate (lab: tern cert issue %s)", key, d.Name, d.Name)
		}
		if d.Registration {
			add("%s: registration = true on a Direct domain: TIM+ has no in-band registration (XEP-0077); remove it and create accounts with `tern user add`", key)
		}
		seen := map[string]bool{}
		for _, n := range d.Circles {
			switch {
			case seen[n]:
				add("%s: circles names %q twice: remove one", key, n)
			case !circles[n]:
				if len(known) == 0 {
					add("%s: circles names %q, but no [[trust.circle]] is configured: add one with name = %q", key, n, n)
				} else {
					add("%s: circles names %q, which is no [[trust.circle]]: use one of %s", key, n, strings.Join(known, ", "))
				}
			}
			seen[n] = true
		}
	}
	if len(c.DirectDomains()) > 0 && !c.C2S.RequireStartTLS && len(c.C2S.Listen) > 0 {
		add("c2s.require_starttls = false, but %s is a Direct domain: TIM+ requires TLS on every client stream; remove require_starttls (or set it to true)", c.DirectDomains()[0])
	}
	for _, dir := range c.HTTP.PKIDirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			add("http.pki_dirs: %q is not a directory: point it at a lab CA made with `tern cert init --dir DIR`", dir)
		}
	}
	return errs
}

// validateDNS checks [dns].
func (c *Config) validateDNS() []error {
	var errs []error
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	d := c.DNS
	for key, v := range map[string]string{"dns.listen": d.Listen, "dns.resolver": d.Resolver} {
		if v == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(v); err != nil || port == "" {
			add("%s = %q: write host:port, e.g. \"0.0.0.0:53\" (%v)", key, v, err)
		}
	}
	for _, ip := range d.HostIPs {
		if net.ParseIP(ip) == nil {
			add("dns.host_ips: %q is not an IP address", ip)
		}
	}
	if len(d.HostIPs) > 0 && d.Host == "" {
		add("dns.host_ips is set but dns.host is empty: name the host these addresses are of")
	}
	if d.RatePerIP < 0 {
		add("dns.rate_per_ip = %d: must be 0 (no bound) or more, e.g. 200", d.RatePerIP)
	}
	if d.TTL.Duration <= 0 {
		add("dns.ttl = %q: must be positive, e.g. \"1h\"", d.TTL.String())
	}
	if d.Listen != "" && len(c.DirectDomains()) == 0 {
		add("dns.listen is set but no [[domain]] has direct = true: the responder would have nothing to publish; remove listen or mark the Direct domains")
	}
	if err := discovery.CheckOrder(c.Discovery.Order); err != nil {
		add("discovery.order: %v, e.g. [\"peer\", \"dns\", \"ldap\"]", err)
	}
	if len(c.Discovery.Order) == 0 {
		add("discovery.order is empty: discovery would find nothing; name one source at least, e.g. [\"peer\", \"dns\", \"ldap\"]")
	}
	for key, v := range map[string]Duration{"discovery.peer_timeout": c.Discovery.PeerTimeout, "discovery.peer_cache": c.Discovery.PeerCache} {
		if v.Duration <= 0 {
			add("%s = %q: must be positive, e.g. \"10s\"", key, v.String())
		}
	}
	return errs
}
