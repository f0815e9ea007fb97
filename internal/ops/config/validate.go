package config

import (
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
)

// Contact kinds of XEP-0157 (<kind>-addresses fields).
var contactKinds = map[string]bool{
	"abuse": true, "admin": true, "feedback": true, "sales": true,
	"security": true, "status": true, "support": true,
}

// Validate reports every problem found, one per line (errors.Join), each
// naming the key and saying what to do. It also prepares domain names.
func (c *Config) Validate() error {
	errs := c.checkModules()
	add := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	if strings.TrimSpace(c.DataDir) == "" {
		add("data_dir is empty: set it to a writable directory (default %q)", "tern-data")
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		add("log_level %q is not one of debug, info, warn, error", c.LogLevel)
	}
	switch c.LogFormat {
	case "text", "json":
	default:
		add("log_format %q is not one of text, json", c.LogFormat)
	}

	if len(c.Domains) == 0 {
		add("no [[domain]] configured: add one with name = \"example.org\"")
	}
	seen := map[string]int{}
	for i := range c.Domains {
		d := &c.Domains[i]
		key := fmt.Sprintf("domain[%d]", i)
		n, err := PrepareDomain(d.Name)
		if err != nil {
			add("%s.name: %v: use a DNS name such as \"example.org\"", key, err)
		} else {
			d.Name = n
			key = fmt.Sprintf("domain %q", n)
			if j, dup := seen[n]; dup {
				add("%s is configured twice (domain[%d] and domain[%d]): remove one", key, j, i)
			}
			seen[n] = i
		}
		switch {
		case d.Cert != "" && d.Key == "":
			add("%s: cert is set but key is not: set key to the PEM private key of %s", key, d.Cert)
		case d.Key != "" && d.Cert == "":
			add("%s: key is set but cert is not: set cert to the PEM certificate (chain) for %s", key, d.Key)
		}
		for _, a := range d.Admins {
			if err := checkBareJID(a); err != nil {
				add("%s: admins: %q: %v", key, a, err)
			}
		}
		for kind, uris := range d.Contacts {
			if !contactKinds[kind] {
				add("%s: contacts: unknown kind %q: use abuse, admin, feedback, sales, security, status or support", key, kind)
			}
			for _, u := range uris {
				if p, err := url.Parse(u); err != nil || p.Scheme == "" || p.Opaque == "" && p.Host == "" {
					add("%s: contacts.%s: %q is not a URI: write e.g. \"xmpp:admin@example.org\" or \"mailto:abuse@example.org\"", key, kind, u)
				}
			}
		}
	}

	listeners := map[string]string{}
	checkListen := func(key, addr string) {
		if err := checkListenAddr(addr); err != nil {
			add("%s: %q: %v", key, addr, err)
			return
		}
		if prev, dup := listeners[addr]; dup {
			add("%s: %q is also used by %s: give each listener its own port", key, addr, prev)
		}
		listeners[addr] = key
	}
	for _, a := range c.C2S.Listen {
		checkListen("c2s.listen", a)
	}
	for _, a := range c.C2S.ListenTLS {
		checkListen("c2s.listen_tls", a)
	}
	for _, a := range c.S2S.Listen {
		checkListen("s2s.listen", a)
	}
	for _, a := range c.S2S.ListenTLS {
		checkListen("s2s.listen_tls", a)
	}
	if c.HTTP.Listen != "" {
		checkListen("http.listen", c.HTTP.Listen)
	}
	if len(c.C2S.Listen)+len(c.C2S.ListenTLS) == 0 {
		add("c2s.listen and c2s.listen_tls are both empty: clients could not connect; set c2s.listen = [\"0.0.0.0:5222\"]")
	}
	for dom, hp := range c.S2S.Routes {
		if _, err := PrepareDomain(dom); err != nil {
			add("s2s.routes: %v", err)
		}
		if _, port, err := net.SplitHostPort(hp); err != nil || !validPort(port, false) {
			add("s2s.routes.%q: %q is not host:port (e.g. \"xmpp.example.org:5269\")", dom, hp)
		}
	}

	s2s := c.S2S
	if s2s.CAFile != "" {
		if b, err := readPEMFile(s2s.CAFile); err != nil {
			add("s2s.ca_file: %v: point it at a PEM file of CA certificates", err)
		} else if !x509.NewCertPool().AppendCertsFromPEM(b) {
			add("s2s.ca_file: %s holds no PEM certificate: point it at a PEM file of CA certificates", s2s.CAFile)
		}
	}
	for i, d := range s2s.InsecureDomains {
		n, err := PrepareDomain(d)
		if err != nil {
			add("s2s.insecure_domains: %q: %v", d, err)
			continue
		}
		s2s.InsecureDomains[i] = n
	}
	if len(s2s.InsecureDomains) > 0 && !s2s.Dialback {
		add("s2s.insecure_domains is set but s2s.dialback is false: those peers could not authenticate; set dialback = true or remove them")
	}
	if s2s.ConnectTimeout.Duration < 500*time.Millisecond || s2s.ConnectTimeout.Duration > 5*time.Minute {
		add("s2s.connect_timeout = %q is out of range: use 500ms..5m", s2s.ConnectTimeout.String())
	}
	if s2s.IdleTimeout.Duration < time.Second || s2s.IdleTimeout.Duration > 24*time.Hour {
		add("s2s.idle_timeout = %q is out of range: use 1s..24h", s2s.IdleTimeout.String())
	}
	if s2s.QueueMax < 1 || s2s.QueueMax > 1_000_000 {
		add("s2s.queue_max = %d is out of range: use 1..1000000", s2s.QueueMax)
	}
	if s2s.DNSServer != "" {
		if host, port, err := net.SplitHostPort(s2s.DNSServer); err != nil || net.ParseIP(host) == nil || !validPort(port, false) {
			add("s2s.dns_server: %q is not ip:port (e.g. \"127.0.0.1:53\")", s2s.DNSServer)
		}
	}

	switch c.Storage.Backend {
	case "sqlite":
		if c.Storage.DSN != "" {
			add("storage.dsn is set but storage.backend is \"sqlite\": set backend = \"postgres\" or remove dsn")
		}
	case "postgres":
		if c.Storage.DSN == "" {
			add("storage.backend is \"postgres\" but storage.dsn is empty: set dsn = \"postgres://user:pass@host/tern\"")
		}
		if c.Storage.Path != "" {
			add("storage.path is set but storage.backend is \"postgres\": remove path or use backend = \"sqlite\"")
		}
	default:
		add("storage.backend %q is unknown: use \"sqlite\" or \"postgres\"", c.Storage.Backend)
	}

	l := c.Limits
	intRange := func(key string, v, lo, hi int, why string) {
		if v < lo || v > hi {
			add("limits.%s = %d is out of range: use %d..%d%s", key, v, lo, hi, why)
		}
	}
	// RFC 6120 §13.12: a server must accept stanzas of at least 10000 bytes.
	intRange("max_stanza_bytes", l.MaxStanzaBytes, 10000, 64<<20, " (RFC 6120 requires at least 10000)")
	intRange("max_depth", l.MaxDepth, 8, 1024, "")
	// Real stanzas carry up to a dozen (a Jingle ICE candidate), headers 8.
	intRange("max_attrs", l.MaxAttrs, 16, 1024, "")
	intRange("offline_quota", l.OfflineQuota, 0, 1_000_000, " (0: no limit)")
	intRange("roster_max_items", l.RosterMaxItems, 0, 100_000, " (0: no limit)")
	intRange("conns_per_ip", l.ConnsPerIP, 0, 10_000_000, " (0: no limit)")
	intRange("resources_per_user", l.ResourcesPerUser, 0, 100_000, " (0: no limit)")
	intRange("auth_failures_per_ip", l.AuthFailuresPerIP, 0, 1_000_000, " (0: no limit)")
	intRange("registrations_per_ip", l.RegistrationsPerIP, 0, 1_000_000, " (0: no limit)")
	intRange("min_password_length", l.MinPasswordLength, 1, 1024, "")
	intRange("max_s2s_stanza_bytes", l.MaxS2SStanzaBytes, 10000, 64<<20, " (RFC 6120 requires at least 10000)")
	if _, err := ratelimit.ParseNetworks(l.TrustedNetworks); err != nil {
		add("limits.trusted_networks: %v", err)
	}
	durRange := func(key string, v Duration, lo, hi time.Duration, zeroOK bool) {
		if zeroOK && v.Duration == 0 {
			return
		}
		if v.Duration < lo || v.Duration > hi {
			zero := ""
			if zeroOK {
				zero = ", or \"0s\" to disable"
			}
			add("limits.%s = %q is out of range: use %v..%v%s", key, v.String(), lo, hi, zero)
		}
	}
	durRange("auth_timeout", l.AuthTimeout, time.Second, 10*time.Minute, false)
	durRange("ping_interval", l.PingInterval, time.Second, 24*time.Hour, true)
	durRange("ping_timeout", l.PingTimeout, time.Second, 10*time.Minute, false)
	durRange("resume_timeout", l.ResumeTimeout, time.Second, time.Hour, true)
	errs = append(errs, c.validateDirect()...)
	errs = append(errs, c.validateDNS()...)

	return errors.Join(errs...)
}

// checkListenAddr accepts host:port with an IP or empty host (all
// interfaces) and a port 0..65535 (0: pick a free port, for tests).
func checkListenAddr(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("not host:port: write e.g. \"127.0.0.1:5222\" or \"[::]:5222\"")
	}
	if host != "" && host != "localhost" && net.ParseIP(host) == nil {
		return fmt.Errorf("host %q is not an IP address: listen on an IP (\"0.0.0.0\", \"::\", \"127.0.0.1\")", host)
	}
	if !validPort(port, true) {
		return fmt.Errorf("port %q is not a number in 0..65535", port)
	}
	return nil
}

func validPort(p string, zeroOK bool) bool {
	n, err := strconv.Atoi(p)
	if err != nil {
		return false
	}
	if n == 0 {
		return zeroOK
	}
	return n > 0 && n <= 65535
}

// checkBareJID accepts local@domain with a valid domain and no resource.
func checkBareJID(s string) error {
	if strings.Contains(s, "/") {
		return errors.New("has a resource: use a bare JID such as \"admin@example.org\"")
	}
	at := strings.LastIndex(s, "@")
	if at <= 0 {
		return errors.New("is not a bare JID: write \"admin@example.org\"")
	}
	if _, err := PrepareDomain(s[at+1:]); err != nil {
		return err
	}
	return nil
}

// maxPEMFile bounds what Validate reads for a PEM path: a CA bundle is a few
// hundred KB; a path to /dev/zero or a FIFO must not hang or exhaust memory.
const maxPEMFile = 4 << 20

// readPEMFile reads a regular file of at most maxPEMFile bytes.
func readPEMFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file", path)
	}
	if fi.Size() > maxPEMFile {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d a PEM bundle needs", path, fi.Size(), maxPEMFile)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxPEMFile+1))
}
