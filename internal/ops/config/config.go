package config

import (
	"path/filepath"
	"time"

	"github.com/BurntSushi/toml"
)

// Config is the whole configuration. Field comments give the TOML key and
// the default.
type Config struct {
	DataDir   string    `toml:"data_dir"`   // default "tern-data"; --data overrides
	LogLevel  string    `toml:"log_level"`  // debug|info|warn|error, default info
	LogFormat string    `toml:"log_format"` // text|json, default text
	Domains   []Domain  `toml:"domain"`     // [[domain]]; default one domain "localhost"
	C2S       C2S       `toml:"c2s"`
	S2S       S2S       `toml:"s2s"`
	HTTP      HTTP      `toml:"http"`
	Storage   Storage   `toml:"storage"`
	Limits    Limits    `toml:"limits"`
	Trust     Trust     `toml:"trust"`     // Direct trust circles (docs/direct-trust.md)
	DNS       DNS       `toml:"dns"`       // Direct DNS: the responder that publishes, the resolver discovery asks
	Discovery Discovery `toml:"discovery"` // Direct certificate discovery: sources and their order
	Keys      Keys      `toml:"keys"`      // the key Direct private keys are sealed with at rest
	// ModulesDisabled names feature modules to leave out (Prosody's
	// modules_disabled); RegisterModule declares the names.
	ModulesDisabled []string `toml:"modules_disabled"`
	Path            string   `toml:"-"` // the file it was loaded from ("" for defaults)

	sections *sections // the file's module sections, nil if none (modules.go)
}

type sections struct {
	prims map[string]toml.Primitive
	meta  toml.MetaData
}

// Domain is one virtual host.
type Domain struct {
	Name string `toml:"name"` // prepared JID domainpart
	// Cert and Key are PEM files. Both empty: a self-signed certificate is
	// generated in CertDir()/<name>.{crt,key}.
	Cert string `toml:"cert"`
	Key  string `toml:"key"`
	// PKCS12 is a PKCS#12 file (chain and key) instead of cert and key;
	// PasswordFile holds its password on the first line ("" = none).
	PKCS12       string `toml:"pkcs12"`
	PasswordFile string `toml:"password_file"`
	// Direct makes the domain a Direct trust domain (TIM+): s2s only with
	// mutual TLS and SASL EXTERNAL against its Circles, no dialback, no
	// in-band registration, no self-signed certificate.
	Direct       bool                `toml:"direct"`
	Circles      []string            `toml:"circles"`      // [[trust.circle]] names; none: trusts nobody
	Registration bool                `toml:"registration"` // in-band registration (XEP-0077), default false
	Admins       []string            `toml:"admins"`       // bare JIDs
	Contacts     map[string][]string `toml:"contacts"`     // XEP-0157: admin, abuse, feedback, sales, security, status, support
}

// C2S configures client connections.
type C2S struct {
	Listen          []string `toml:"listen"`           // STARTTLS, default ["127.0.0.1:5222"]
	ListenTLS       []string `toml:"listen_tls"`       // direct TLS (XEP-0368), default ["127.0.0.1:5223"]
	RequireStartTLS bool     `toml:"require_starttls"` // default true
	AllowPlain      bool     `toml:"allow_plain"`      // SASL PLAIN over TLS, default true
}

// S2S configures federation. With both listen lists empty (the default)
// tern neither accepts peers nor dials them: federation is opt-in, so a
// zero-config test server never reaches out to the Internet.
type S2S struct {
	Listen            []string          `toml:"listen"`              // STARTTLS, default []
	ListenTLS         []string          `toml:"listen_tls"`          // direct TLS (XEP-0368), default []
	Dialback          bool              `toml:"dialback"`            // default true
	Routes            map[string]string `toml:"routes"`              // domain -> host:port, bypassing SRV
	CAFile            string            `toml:"ca_file"`             // PEM trust anchors for peer certificates, added to the system roots
	RequireValidCerts bool              `toml:"require_valid_certs"` // default false: true refuses dialback
	InsecureDomains   []string          `toml:"insecure_domains"`    // peers allowed dialback even with require_valid_certs
	ConnectTimeout    Duration          `toml:"connect_timeout"`     // TCP+TLS+authentication, default 10s
	IdleTimeout       Duration          `toml:"idle_timeout"`        // default 10m
	QueueMax          int               `toml:"queue_max"`           // stanzas queued per peer domain while connecting, default 1000
	DNSServer         string            `toml:"dns_server"`          // host:port of a DNS server for SRV/A lookups; "" = system resolver
}

// Federates reports whether s2s is on (some listener configured).
func (s S2S) Federates() bool { return len(s.Listen)+len(s.ListenTLS) > 0 }

// HTTP configures the HTTP listener (metrics; later BOSH and WebSocket).
type HTTP struct {
	Listen string `toml:"listen"` // default "127.0.0.1:5280"; "" disables
	// PKIDirs are lab CA directories (tern cert init) whose CRL, CA
	// certificate and bundle are served at /pki/<name>/.
	PKIDirs []string `toml:"pki_dirs"`
}

// Trust configures the Direct trust circles (internal/direct/trust).
type Trust struct {
	FetchTimeout  Duration      `toml:"fetch_timeout"`   // per bundle download, default 10s
	MaxBundleSize int           `toml:"max_bundle_size"` // bytes, default 10 MiB
	CacheDir      string        `toml:"cache_dir"`       // last good bundles; default <data_dir>/trust-cache
	AllowHTTP     bool          `toml:"allow_http"`      // lab only: plain-http bundle URLs
	LabNoCRL      bool          `toml:"lab_no_crl"`      // lab only: accept peers without an obtainable CRL (violates TIM+)
	AIA           bool          `toml:"aia"`             // fetch missing intermediates from caIssuers, default true
	Revalidate    Duration      `toml:"revalidate"`      // re-check live s2s streams, default 1h
	CRLTimeout    Duration      `toml:"crl_timeout"`     // per CRL download, default 10s
	CRLMaxAge     Duration      `toml:"crl_max_age"`     // fetch a CRL again after this even before its nextUpdate, default 1h
	Circles       []TrustCircle `toml:"circle"`          // [[trust.circle]]
}

// DNS configures the Direct DNS: tern's authoritative responder for its
// Direct domains (internal/direct/publish) and the resolver certificate
// discovery asks (internal/direct/discovery).
type DNS struct {
	Listen    string   `toml:"listen"`      // host:port, UDP and TCP; "" = no responder
	Host      string   `toml:"host"`        // the SRV records' target; "" = each domain itself
	HostIPs   []string `toml:"host_ips"`    // A/AAAA of host when it is in a Direct domain
	TTL       Duration `toml:"ttl"`         // of every published record, default 1h
	RatePerIP int      `toml:"rate_per_ip"` // UDP queries answered per source address and second, default 200; 0 = no bound
	Resolver  string   `toml:"resolver"`    // host:port discovery asks; "" = /etc/resolv.conf
}

// Discovery configures Direct certificate discovery
// (internal/direct/discovery): which sources are asked, in which order.
type Discovery struct {
	Order       []string `toml:"order"`        // of "peer", "dns", "ldap"; default all three in that order
	PeerTimeout Duration `toml:"peer_timeout"` // one peer introduction, the s2s connection included, default 10s
	PeerCache   Duration `toml:"peer_cache"`   // how long a peer's answer is kept, default 10m
}

// Keys names where the sealing key of the Direct private keys comes from
// (internal/direct/sealed): a file or an environment variable holding at
// least 32 random bytes (raw, hex or base64). Neither set: the server's
// own <data_dir>/secret, which a copy of the data directory carries along.
type Keys struct {
	File string `toml:"file"` // e.g. "/etc/tern/sealing.key", mode 0600
	Env  string `toml:"env"`  // e.g. "TERN_SEALING_KEY"
}

// TrustCircle is a named set of bundles and loose anchor files.
type TrustCircle struct {
	Name    string        `toml:"name"`
	Anchors []string      `toml:"anchors"` // PEM or DER files
	Bundles []TrustBundle `toml:"bundle"`  // [[trust.circle.bundle]]
}

// TrustBundle is one trust bundle source: url or path.
type TrustBundle struct {
	Name        string   `toml:"name"`
	URL         string   `toml:"url"`          // https (http only with allow_http)
	Path        string   `toml:"path"`         // a local file
	SigningCert string   `toml:"signing_cert"` // CMS signer the bundle must verify with
	Refresh     Duration `toml:"refresh"`      // default 6h, at least 1m
}

// DirectDomains returns the names of the Direct domains.
func (c *Config) DirectDomains() []string {
	var out []string
	for _, d := range c.Domains {
		if d.Direct {
			out = append(out, d.Name)
		}
	}
	return out
}

// TrustCacheDir is trust.cache_dir, or <data_dir>/trust-cache.
func (c *Config) TrustCacheDir() string {
	if c.Trust.CacheDir != "" {
		return c.Trust.CacheDir
	}
	return filepath.Join(c.DataDir, "trust-cache")
}

// Storage selects the backend.
type Storage struct {
	Backend string `toml:"backend"` // sqlite|postgres, default sqlite
	Path    string `toml:"path"`    // sqlite file, default <data_dir>/tern.db
	DSN     string `toml:"dsn"`     // postgres connection string
}

// Limits bound what one client may cost the server.
type Limits struct {
	MaxStanzaBytes     int      `toml:"max_stanza_bytes"`     // default 262144
	MaxDepth           int      `toml:"max_depth"`            // default 64
	MaxAttrs           int      `toml:"max_attrs"`            // attributes per element, default 64
	OfflineQuota       int      `toml:"offline_quota"`        // messages per user, default 1000; 0 no limit
	RosterMaxItems     int      `toml:"roster_max_items"`     // default 1000; 0 no limit
	ConnsPerIP         int      `toml:"conns_per_ip"`         // default 100; 0 no limit
	AuthFailuresPerIP  int      `toml:"auth_failures_per_ip"` // per minute, default 10; 0 no limit
	AuthTimeout        Duration `toml:"auth_timeout"`         // default 30s
	PingInterval       Duration `toml:"ping_interval"`        // default 5m; 0s disables
	PingTimeout        Duration `toml:"ping_timeout"`         // default 60s
	RegistrationsPerIP int      `toml:"registrations_per_ip"` // in-band registrations per IP and hour, default 5; 0 no limit
	MinPasswordLength  int      `toml:"min_password_length"`  // characters after SASLprep, default 8
	// Addresses and CIDR prefixes exempt from the per-IP limits above
	// (a clinic behind one NAT address); per-account limits still apply.
	TrustedNetworks   []string `toml:"trusted_networks"`     // default []
	MaxS2SStanzaBytes int      `toml:"max_s2s_stanza_bytes"` // default 524288: peers relay clients' largest stanzas plus wrapping
	ResumeTimeout     Duration `toml:"resume_timeout"`       // XEP-0198 resumption window, default 5m; 0s offers none
	ResourcesPerUser  int      `toml:"resources_per_user"`   // bound resources per account, default 50; 0 no limit
}

// Duration is a time.Duration written in TOML as a string like "30s".
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string ("30s", "5m", "1h30m").
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return err
	}
	d.Duration = v
	return nil
}

// MarshalText writes the duration as time.Duration.String does.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// DefaultDomain is the virtual host served with zero configuration.
const DefaultDomain = "localhost"

// Default returns the configuration used when no file is given.
func Default() *Config {
	return &Config{
		DataDir:   "tern-data",
		LogLevel:  "info",
		LogFormat: "text",
		Domains:   []Domain{{Name: DefaultDomain}},

		ModulesDisabled: []string{},
		C2S: C2S{
			Listen:          []string{"127.0.0.1:5222"},
			ListenTLS:       []string{"127.0.0.1:5223"},
			RequireStartTLS: true,
			AllowPlain:      true,
		},
		S2S: S2S{Listen: []string{}, ListenTLS: []string{}, Dialback: true,
			ConnectTimeout: Duration{10 * time.Second}, IdleTimeout: Duration{10 * time.Minute}, QueueMax: 1000},
		HTTP:      HTTP{Listen: "127.0.0.1:5280", PKIDirs: []string{}},
		DNS:       DNS{TTL: Duration{time.Hour}, HostIPs: []string{}, RatePerIP: 200},
		Discovery: Discovery{Order: []string{"peer", "dns", "ldap"}, PeerTimeout: Duration{10 * time.Second}, PeerCache: Duration{10 * time.Minute}},
		Trust: Trust{FetchTimeout: Duration{10 * time.Second}, MaxBundleSize: 10 << 20, AIA: true,
			Revalidate: Duration{time.Hour}, CRLTimeout: Duration{10 * time.Second}, CRLMaxAge: Duration{time.Hour}},
		Storage: Storage{Backend: "sqlite"},
		Limits: Limits{
			MaxStanzaBytes:     262144,
			MaxDepth:           64,
			MaxAttrs:           64,
			OfflineQuota:       1000,
			RosterMaxItems:     1000,
			ConnsPerIP:         100,
			AuthFailuresPerIP:  10,
			AuthTimeout:        Duration{30 * time.Second},
			PingInterval:       Duration{5 * time.Minute},
			PingTimeout:        Duration{60 * time.Second},
			RegistrationsPerIP: 5,
			MinPasswordLength:  8,
			TrustedNetworks:    []string{},
			MaxS2SStanzaBytes:  524288,
			ResumeTimeout:      Duration{5 * time.Minute},
			ResourcesPerUser:   50,
		},
	}
}

// DomainNames returns the configured virtual hosts in file order.
func (c *Config) DomainNames() []string {
	names := make([]string, len(c.Domains))
	for i, d := range c.Domains {
		names[i] = d.Name
	}
	return names
}

// Domain returns the configured domain with that (prepared) name.
func (c *Config) Domain(name string) (Domain, bool) {
	for _, d := range c.Domains {
		if d.Name == name {
			return d, true
		}
	}
	return Domain{}, false
}

// StoragePath is the SQLite file: storage.path, or <data_dir>/tern.db.
func (c *Config) StoragePath() string {
	if c.Storage.Path != "" {
		return c.Storage.Path
	}
	return filepath.Join(c.DataDir, "tern.db")
}

// ControlSocket is the running server's administration socket, used by
// `tern user del` (see internal/ops/control).
func (c *Config) ControlSocket() string { return filepath.Join(c.DataDir, "tern.sock") }

// DirectDir is where Direct messages fetched by reference are checked and
// the inbox keeps the large ones: <data_dir>/direct.
func (c *Config) DirectDir() string { return filepath.Join(c.DataDir, "direct") }

// CertDir is where generated self-signed certificates live.
func (c *Config) CertDir() string { return filepath.Join(c.DataDir, "certs") }

// CertFiles returns the certificate and key files serving domain d: the
// configured ones, or the generated pair in CertDir. generated reports the
// latter. A domain with a PKCS#12 file has none (see d.PKCS12), and a
// Direct domain never gets a generated one.
func (c *Config) CertFiles(d Domain) (cert, key string, generated bool) {
	if d.Cert != "" || d.Key != "" || d.PKCS12 != "" || d.Direct {
		return d.Cert, d.Key, false
	}
	return filepath.Join(c.CertDir(), d.Name+".crt"), filepath.Join(c.CertDir(), d.Name+".key"), true
}
