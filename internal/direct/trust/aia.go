package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"syscall"
	"time"
)

// AIA defaults: caIssuers are small; a slow server costs only the peer that
// points at it.
const (
	DefaultAIATimeout  = 5 * time.Second
	DefaultAIAMaxSize  = 1 << 20
	DefaultAIATTL      = 6 * time.Hour
	DefaultAIAErrorTTL = time.Minute
	maxAIAFetches      = 4 // per validation
	// DefaultAIAInFlight bounds concurrent caIssuers downloads: peers
	// pointing at many slow URLs get an error at once rather than piling up.
	DefaultAIAInFlight = 64
)

// AIAFetcher fetches caIssuers certificates (RFC 5280 §4.2.2.1: DER
// certificate or a certs-only PKCS#7 ".p7c") over http or https, with a
// time-out and a size limit, and caches answers (failures briefly) by URL.
// Concurrent requests for one URL share one fetch. What it returns is only
// ever used as an intermediate, never as an anchor.
//
// The URLs come from a certificate not yet verified, so by default the
// fetcher's own client refuses to connect to loopback, private, link-local
// and unspecified addresses (no requests into our own network on a peer's
// say-so); AllowPrivate lifts that (labs, tests). A Client given here is
// used as is: its dialer must do that check itself.
type AIAFetcher struct {
	Client       *http.Client
	AllowPrivate bool
	Timeout      time.Duration // default 5 s
	MaxSize      int64         // default 1 MiB
	TTL          time.Duration // default 6 h
	ErrorTTL     time.Duration // default 1 min
	InFlight     int           // concurrent downloads, default 64
	Now          func() time.Time

	mu       sync.Mutex
	cache    map[string]*aiaEntry
	inflight int
	own      *http.Client
}

type aiaEntry struct {
	done    chan struct{}
	certs   []*x509.Certificate
	err     error
	expires time.Time
}

const maxAIACache = 10000

// Fetch returns the certificates at a caIssuers URL.
func (f *AIAFetcher) Fetch(ctx context.Context, rawURL string) ([]*x509.Certificate, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("caIssuers %q: only http and https URLs are fetched", rawURL)
	}
	now := f.now()
	f.mu.Lock()
	if f.cache == nil {
		f.cache = map[string]*aiaEntry{}
	}
	e := f.cache[rawURL]
	if e != nil {
		select {
		case <-e.done:
			if now.After(e.expires) {
				e = nil
			}
		default: // in flight: wait for it below
		}
	}
	if e == nil {
		limit := f.InFlight
		if limit <= 0 {
			limit = DefaultAIAInFlight
		}
		if f.inflight >= limit {
			f.mu.Unlock()
			return nil, fmt.Errorf("caIssuers %s: %d downloads already in flight, not fetched", rawURL, limit)
		}
		f.inflight++
		if len(f.cache) >= maxAIACache {
			f.cache = map[string]*aiaEntry{}
		}
		e = &aiaEntry{done: make(chan struct{})}
		f.cache[rawURL] = e
		f.mu.Unlock()
		// The fetch belongs to the URL, not to this caller: it runs bounded
		// by our time-out, so a caller giving up neither waits for it nor
		// fails the others waiting on it.
		go f.fill(e, rawURL)
	} else {
		f.mu.Unlock()
	}
	select {
	case <-e.done:
		if e.err != nil {
			return nil, fmt.Errorf("caIssuers %s: %w", rawURL, e.err)
		}
		return e.certs, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("caIssuers %s: %w", rawURL, ctx.Err())
	}
}

func (f *AIAFetcher) fill(e *aiaEntry, rawURL string) {
	defer func() {
		f.mu.Lock()
		f.inflight--
		f.mu.Unlock()
		close(e.done)
	}()
	fctx, cancel := context.WithTimeout(context.Background(), f.timeout())
	defer cancel()
	data, err := httpGet(fctx, f.client(), rawURL, f.maxSize(), true)
	if err == nil {
		e.certs, err = parseCerts(data)
		if err == nil && len(e.certs) == 0 {
			err = fmt.Errorf("no certificate")
		}
	} else if isTimeout(fctx, err) {
		err = fmt.Errorf("no answer within %s: %w", f.timeout(), err)
	}
	e.err = err
	if err != nil {
		e.certs = nil
		e.expires = f.now().Add(f.errorTTL())
	} else {
		e.expires = f.now().Add(f.ttl())
	}
}

// client is Client, or one whose dialer refuses non-public addresses.
func (f *AIAFetcher) client() *http.Client {
	if f.Client != nil {
		return f.Client
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.own == nil {
		d := &net.Dialer{Timeout: f.timeout()}
		if !f.AllowPrivate {
			d.Control = RefuseNonPublic
		}
		f.own = &http.Client{Transport: &http.Transport{
			DialContext:           d.DialContext,
			TLSHandshakeTimeout:   f.timeout(),
			ResponseHeaderTimeout: f.timeout(),
			MaxIdleConns:          16,
			IdleConnTimeout:       30 * time.Second,
		}}
	}
	return f.own
}

// RefuseNonPublic is a dialer Control refusing loopback, private,
// link-local, multicast and unspecified addresses: a remote party cannot
// aim this server's fetches (caIssuers, Direct messages by reference)
// inside its network.
func RefuseNonPublic(network, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return err
	}
	ip = ip.Unmap()
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsMulticast() || ip.IsUnspecified() || ip.IsInterfaceLocalMulticast() {
		return fmt.Errorf("address %s is not public; refused", ip)
	}
	for _, p := range nonPublic {
		if p.Contains(ip) {
			return fmt.Errorf("address %s is not public (%s); refused", ip, p)
		}
	}
	return nil
}

// nonPublic are the special-purpose ranges netip does not name (RFC 6890):
// shared address space (CGNAT, some clouds' metadata), IETF protocol
// assignments, benchmarking, reserved, NAT64.
var nonPublic = []netip.Prefix{
	netip.MustParsePrefix("100.64.0.0/10"), netip.MustParsePrefix("192.0.0.0/24"),
	netip.MustParsePrefix("198.18.0.0/15"), netip.MustParsePrefix("240.0.0.0/4"),
	netip.MustParsePrefix("64:ff9b::/96"), netip.MustParsePrefix("64:ff9b:1::/48"),
}

// CloseIdleConnections releases the fetcher's own idle connections.
func (f *AIAFetcher) CloseIdleConnections() {
	f.mu.Lock()
	c := f.own
	f.mu.Unlock()
	if c != nil {
		c.CloseIdleConnections()
	}
}

func (f *AIAFetcher) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}
func (f *AIAFetcher) timeout() time.Duration { return orDefault(f.Timeout, DefaultAIATimeout) }
func (f *AIAFetcher) ttl() time.Duration     { return orDefault(f.TTL, DefaultAIATTL) }
func (f *AIAFetcher) errorTTL() time.Duration {
	return orDefault(f.ErrorTTL, DefaultAIAErrorTTL)
}
func (f *AIAFetcher) maxSize() int64 {
	if f.MaxSize > 0 {
		return f.MaxSize
	}
	return DefaultAIAMaxSize
}

func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// pathCache remembers, for one domain's anchor set, the chains x509.Verify
// built for a presented chain, so re-validation and repeated handshakes
// skip the signature checks. A new generation keeps the cache only if the
// domain's anchors are exactly the same; any other anchor set starts with
// an empty cache. Validity times are re-checked on every hit; revocation is
// never cached here.
type pathCache struct {
	mu sync.Mutex
	m  map[[32]byte]*cachedPath
}

type cachedPath struct {
	chains [][]*x509.Certificate
}

const maxPathCache = 50000

func newPathCache() *pathCache { return &pathCache{m: map[[32]byte]*cachedPath{}} }

// chainKey identifies a presented chain and the key usages asked for.
func chainKey(chain []*x509.Certificate, usages []x509.ExtKeyUsage) [32]byte {
	h := sha256.New()
	var n [4]byte
	for _, u := range usages {
		n[0], n[1], n[2], n[3] = byte(u>>24), byte(u>>16), byte(u>>8), byte(u)
		h.Write(n[:])
	}
	h.Write([]byte{0xff})
	for _, c := range chain {
		l := len(c.Raw)
		n[0], n[1], n[2], n[3] = byte(l>>24), byte(l>>16), byte(l>>8), byte(l)
		h.Write(n[:])
		h.Write(c.Raw)
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (p *pathCache) get(k [32]byte) *cachedPath {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[k]
}

func (p *pathCache) put(k [32]byte, c *cachedPath) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) >= maxPathCache {
		clear(p.m)
	}
	p.m[k] = c
}
