package trust

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
)

// Defaults of the network steps (Direct RI: 10 s time-outs).
const (
	DefaultFetchTimeout   = 10 * time.Second
	DefaultMaxBundleSize  = 10 << 20 // 10 MiB
	DefaultRefresh        = 6 * time.Hour
	MinRefresh            = time.Minute
	DefaultRetryAfterFail = 15 * time.Minute // RI checks bundles every 15 min
)

// Config is the whole trust configuration: the circles and which local
// domain uses which. It is applied as one unit (NewRegistry, Apply).
type Config struct {
	Circles []Circle
	Domains []Domain

	// FetchTimeout bounds one bundle download (default 10 s).
	FetchTimeout time.Duration
	// MaxBundleSize bounds one bundle's bytes (default 10 MiB).
	MaxBundleSize int64
	// AllowHTTP lets bundle URLs use plain http. For labs only: an
	// unsigned bundle over http can be replaced by anyone on the path.
	AllowHTTP bool
}

// Circle is a named set of trust bundles and loose anchors.
type Circle struct {
	Name    string
	Bundles []Bundle
	// Anchors are files holding one or more certificates (PEM, or one DER
	// certificate). Each certificate is a trust anchor of the circle.
	Anchors []string
}

// Bundle is one trust bundle source: exactly one of URL and Path.
type Bundle struct {
	Name string
	URL  string // https:// (http:// only with Config.AllowHTTP)
	Path string // a local file
	// SigningCert is the path of the PEM (or DER) certificate that must
	// have signed the bundle (CMS SignedData). Empty: the bundle is a
	// plain PKCS#7 certs-only bundle or PEM; a signed one is refused.
	SigningCert string
	// Refresh is the interval between fetches (default 6 h, min 1 min).
	Refresh time.Duration
}

// Domain attaches circles to a local Direct domain. Its groupchat. and
// ftproxystream. subdomains share its circles.
type Domain struct {
	Name    string
	Circles []string
}

func (b Bundle) source() string {
	if b.URL != "" {
		return b.URL
	}
	return b.Path
}

// Subdomain prefixes a TIM+ domain creates for itself (timplus.md §1); a
// name under them uses the parent domain's circles.
var subdomainPrefixes = []string{"groupchat.", "ftproxystream."}

// NormalizeDomain lower-cases a domain and drops a trailing dot.
func NormalizeDomain(d string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(d)), ".")
}

// compiled is a checked configuration with its files read.
type compiled struct {
	cfg     Config
	bundles map[string]*bundleSpec // by name
	circles map[string]*circleSpec
	domains map[string][]string // domain -> circle names
}

type bundleSpec struct {
	Bundle
	signer *x509.Certificate
	key    string // identity of the source: same key = same state
}

type circleSpec struct {
	name    string
	bundles []string // names
	anchors []anchorFile
}

type anchorFile struct {
	path  string
	certs []*x509.Certificate
}

func compile(cfg Config) (*compiled, error) {
	if cfg.FetchTimeout < 0 || cfg.MaxBundleSize < 0 {
		return nil, &ConfigError{Where: "trust", Msg: "fetch time-out and size limit must not be negative"}
	}
	if cfg.FetchTimeout == 0 {
		cfg.FetchTimeout = DefaultFetchTimeout
	}
	if cfg.MaxBundleSize == 0 {
		cfg.MaxBundleSize = DefaultMaxBundleSize
	}
	c := &compiled{cfg: cfg, bundles: map[string]*bundleSpec{}, circles: map[string]*circleSpec{}, domains: map[string][]string{}}
	for _, ci := range cfg.Circles {
		where := fmt.Sprintf("circle %q", ci.Name)
		if strings.TrimSpace(ci.Name) == "" {
			return nil, &ConfigError{Where: "circle", Msg: "a circle needs a name"}
		}
		if c.circles[ci.Name] != nil {
			return nil, &ConfigError{Where: where, Msg: "defined twice"}
		}
		cs := &circleSpec{name: ci.Name}
		seen := map[string]bool{}
		for _, b := range ci.Bundles {
			bs, err := compileBundle(b, cfg.AllowHTTP)
			if err != nil {
				return nil, err
			}
			if old := c.bundles[b.Name]; old != nil && (old.key != bs.key || old.Refresh != bs.Refresh) {
				return nil, &ConfigError{Where: fmt.Sprintf("bundle %q", b.Name), Msg: "defined twice with different settings; give each source its own name"}
			}
			c.bundles[b.Name] = bs
			if !seen[b.Name] {
				cs.bundles = append(cs.bundles, b.Name)
				seen[b.Name] = true
			}
		}
		for _, p := range ci.Anchors {
			certs, err := readCertFile(p)
			if err != nil {
				return nil, &ConfigError{Where: where, Msg: "anchor " + p, Err: err}
			}
			cs.anchors = append(cs.anchors, anchorFile{path: p, certs: certs})
		}
		c.circles[ci.Name] = cs
	}
	for _, d := range cfg.Domains {
		name := NormalizeDomain(d.Name)
		where := fmt.Sprintf("domain %q", d.Name)
		if name == "" {
			return nil, &ConfigError{Where: "domain", Msg: "a domain needs a name"}
		}
		if _, dup := c.domains[name]; dup {
			return nil, &ConfigError{Where: where, Msg: "listed twice"}
		}
		names := []string{}
		for _, cn := range d.Circles {
			if c.circles[cn] == nil {
				return nil, &ConfigError{Where: where, Msg: fmt.Sprintf("unknown circle %q (defined: %s)", cn, strings.Join(c.circleNames(), ", "))}
			}
			names = append(names, cn)
		}
		c.domains[name] = names
	}
	return c, nil
}

func (c *compiled) circleNames() []string {
	out := []string{}
	for _, ci := range c.cfg.Circles {
		out = append(out, ci.Name)
	}
	if len(out) == 0 {
		return []string{"none"}
	}
	return out
}

func compileBundle(b Bundle, allowHTTP bool) (*bundleSpec, error) {
	where := fmt.Sprintf("bundle %q", b.Name)
	if strings.TrimSpace(b.Name) == "" {
		return nil, &ConfigError{Where: "bundle", Msg: "a bundle needs a name"}
	}
	if (b.URL == "") == (b.Path == "") {
		return nil, &ConfigError{Where: where, Msg: "set exactly one of url and path"}
	}
	if b.URL != "" {
		u, err := url.Parse(b.URL)
		if err != nil || u.Host == "" {
			return nil, &ConfigError{Where: where, Msg: "bad url " + b.URL, Err: err}
		}
		switch u.Scheme {
		case "https":
		case "http":
			if !allowHTTP {
				return nil, &ConfigError{Where: where, Msg: "plain http url " + b.URL + " refused; use https (or allow_http for a lab)"}
			}
		default:
			return nil, &ConfigError{Where: where, Msg: "url scheme must be https: " + b.URL}
		}
	}
	if b.Refresh < 0 {
		return nil, &ConfigError{Where: where, Msg: "negative refresh interval"}
	}
	if b.Refresh == 0 {
		b.Refresh = DefaultRefresh
	}
	if b.Refresh < MinRefresh {
		return nil, &ConfigError{Where: where, Msg: fmt.Sprintf("refresh %s is below the minimum %s", b.Refresh, MinRefresh)}
	}
	bs := &bundleSpec{Bundle: b}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", b.URL, b.Path)
	if b.SigningCert != "" {
		certs, err := readCertFile(b.SigningCert)
		if err != nil {
			return nil, &ConfigError{Where: where, Msg: "signing_cert " + b.SigningCert, Err: &BundleError{Bundle: b.Name, Source: b.source(), Kind: KindInvalidSigningCert, Err: err}}
		}
		if len(certs) != 1 {
			return nil, &ConfigError{Where: where, Msg: fmt.Sprintf("signing_cert %s holds %d certificates, want 1", b.SigningCert, len(certs))}
		}
		bs.signer = certs[0]
		h.Write(certs[0].Raw)
	}
	bs.key = hex.EncodeToString(h.Sum(nil))
	return bs, nil
}

// readCertFile reads PEM certificates or one DER certificate.
func readCertFile(path string) ([]*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	certs, err := parseCerts(data)
	if err != nil {
		return nil, err
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate in %s", path)
	}
	return certs, nil
}
