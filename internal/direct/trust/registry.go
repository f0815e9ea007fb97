package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options are the run-time dependencies of a Registry.
type Options struct {
	// HTTPClient fetches https bundles (its TLS roots, proxy...). Its own
	// Timeout is not relied on: every fetch has Config.FetchTimeout.
	HTTPClient *http.Client
	Logger     *slog.Logger
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
	// CacheDir, if set, keeps the last good bytes of every bundle, so that
	// after a restart a source that is down does not empty its circle.
	// What is read back is checked like a download.
	CacheDir string
}

// Anchor is one trust anchor of a circle and where it came from.
type Anchor struct {
	Cert        *x509.Certificate
	Circle      string
	Source      string // `bundle "name"` or `file path`
	Fingerprint string // SHA-256 of the DER, hex
}

func (a Anchor) String() string {
	return fmt.Sprintf("%q (sha256 %s…) from %s of circle %q", a.Cert.Subject.String(), a.Fingerprint[:16], a.Source, a.Circle)
}

// Registry holds the current anchors of every circle and the circles of
// every local domain. Its state is an immutable snapshot swapped
// atomically: a bundle refresh, Apply of a new configuration or a removed
// anchor applies to the very next validation, with no cache to expire.
type Registry struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	fetcher *fetcher

	mu      sync.Mutex // writers; guards cfg, bundles and the runtime fields
	cfg     *compiled
	bundles map[string]*bundleRuntime
	gen     uint64
	state   atomic.Pointer[snapshot]
	wake    chan struct{}
}

type bundleRuntime struct {
	spec    *bundleSpec
	fetchMu sync.Mutex // one fetch of a bundle at a time

	// guarded by Registry.mu
	anchors     []*x509.Certificate
	digest      [32]byte
	loaded      bool
	fromCache   bool // anchors from CacheDir, not downloaded since start
	lastAttempt time.Time
	lastSuccess time.Time
	lastChange  time.Time
	lastErr     error
	nextDue     time.Time
	fetches     uint64
	failures    uint64
	unchanged   uint64
}

type snapshot struct {
	gen     uint64
	domains map[string]*domainTrust
	circles map[string][]Anchor
}

// domainTrust is what one local domain trusts in one generation.
type domainTrust struct {
	name    string
	gen     uint64
	circles []string
	roots   *x509.CertPool
	anchors map[[32]byte][]Anchor // by SHA-256 of the DER
	count   int
	set     [32]byte // digest of the anchor set
	paths   *pathCache
}

// NewRegistry checks cfg (an unknown circle, a bad URL, an unreadable
// anchor or signing certificate is an error) and builds the first state.
// Bundles start empty until fetched: call RefreshAll or Run.
func NewRegistry(cfg Config, opts Options) (*Registry, error) {
	r := &Registry{opts: opts, log: opts.Logger, now: opts.Now, wake: make(chan struct{}, 1), bundles: map[string]*bundleRuntime{}}
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.now == nil {
		r.now = time.Now
	}
	if err := r.Apply(cfg); err != nil {
		return nil, err
	}
	return r, nil
}

// Apply replaces the configuration as a whole, or returns an error and
// keeps the old one. Bundles whose source and signing certificate did not
// change keep their anchors and schedule; anchor files are read again.
func (r *Registry) Apply(cfg Config) error {
	c, err := compile(cfg)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	bundles := map[string]*bundleRuntime{}
	for name, spec := range c.bundles {
		if old := r.bundles[name]; old != nil && old.spec.key == spec.key {
			if old.spec.Refresh != spec.Refresh && old.loaded {
				old.nextDue = old.lastAttempt.Add(spec.Refresh)
			}
			old.spec = spec
			bundles[name] = old
			continue
		}
		rt := &bundleRuntime{spec: spec, nextDue: now}
		r.seedFromCache(rt, now)
		bundles[name] = rt
	}
	r.cfg = c
	r.bundles = bundles
	r.fetcher = &fetcher{client: r.opts.HTTPClient, timeout: c.cfg.FetchTimeout, maxSize: c.cfg.MaxBundleSize, allowHTTP: c.cfg.AllowHTTP}
	r.rebuildLocked()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	return nil
}

// rebuildLocked computes and swaps a new snapshot.
func (r *Registry) rebuildLocked() {
	r.gen++
	s := &snapshot{gen: r.gen, domains: map[string]*domainTrust{}, circles: map[string][]Anchor{}}
	for name, cs := range r.cfg.circles {
		var list []Anchor
		for _, bn := range cs.bundles {
			for _, c := range r.bundles[bn].anchors {
				list = append(list, newAnchor(c, name, fmt.Sprintf("bundle %q", bn)))
			}
		}
		for _, af := range cs.anchors {
			for _, c := range af.certs {
				list = append(list, newAnchor(c, name, "file "+af.path))
			}
		}
		s.circles[name] = list
	}
	for d, circles := range r.cfg.domains {
		dt := &domainTrust{name: d, gen: r.gen, circles: circles, roots: x509.NewCertPool(), anchors: map[[32]byte][]Anchor{}, paths: newPathCache()}
		for _, cn := range circles {
			for _, a := range s.circles[cn] {
				k := sha256.Sum256(a.Cert.Raw)
				if len(dt.anchors[k]) == 0 {
					dt.roots.AddCert(a.Cert)
					dt.count++
				}
				dt.anchors[k] = append(dt.anchors[k], a)
			}
		}
		dt.set = anchorSetDigest(dt.anchors)
		if prev := r.state.Load(); prev != nil {
			if od := prev.domains[d]; od != nil && od.set == dt.set {
				dt.paths = od.paths // same anchors: the built paths still hold
			}
		}
		s.domains[d] = dt
	}
	r.state.Store(s)
}

func anchorSetDigest(m map[[32]byte][]Anchor) [32]byte {
	keys := make([][32]byte, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return string(keys[i][:]) < string(keys[j][:]) })
	h := sha256.New()
	for _, k := range keys {
		h.Write(k[:])
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func newAnchor(c *x509.Certificate, circle, source string) Anchor {
	sum := sha256.Sum256(c.Raw)
	return Anchor{Cert: c, Circle: circle, Source: source, Fingerprint: hex.EncodeToString(sum[:])}
}

// lookup returns the trust of a local domain (groupchat.D and
// ftproxystream.D use D's) or nil: a domain the configuration does not
// name has no circle and trusts nobody.
func (s *snapshot) lookup(local string) (*domainTrust, string) {
	d := NormalizeDomain(local)
	if dt := s.domains[d]; dt != nil {
		return dt, d
	}
	for _, p := range subdomainPrefixes {
		if parent, ok := strings.CutPrefix(d, p); ok {
			if dt := s.domains[parent]; dt != nil {
				return dt, parent
			}
		}
	}
	return nil, d
}

// Generation counts state changes; it grows on every swap.
func (r *Registry) Generation() uint64 { return r.state.Load().gen }

// Config returns the configuration in force.
func (r *Registry) Config() Config {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.cfg.cfg
}

// RefreshNow fetches one bundle at once (for `tern direct trust refresh`),
// whatever its schedule. It returns the bundle's error, if any; the last
// good anchors stay in use either way.
func (r *Registry) RefreshNow(ctx context.Context, name string) error {
	r.mu.Lock()
	rt := r.bundles[name]
	r.mu.Unlock()
	if rt == nil {
		return fmt.Errorf("trust: no bundle named %q", name)
	}
	return r.refresh(ctx, rt)
}

// RefreshAll fetches every bundle at once, concurrently, and returns the
// errors joined (each is a *BundleError).
func (r *Registry) RefreshAll(ctx context.Context) error {
	r.mu.Lock()
	list := make([]*bundleRuntime, 0, len(r.bundles))
	for _, rt := range r.bundles {
		list = append(list, rt)
	}
	r.mu.Unlock()
	return r.refreshList(ctx, list)
}

func (r *Registry) refreshList(ctx context.Context, list []*bundleRuntime) error {
	errs := make([]error, len(list))
	var wg sync.WaitGroup
	for i, rt := range list {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = r.refresh(ctx, rt)
		}()
	}
	wg.Wait()
	var out []string
	var first error
	for _, e := range errs {
		if e != nil {
			if first == nil {
				first = e
			}
			out = append(out, e.Error())
		}
	}
	if len(out) == 1 {
		return first
	}
	if len(out) > 1 {
		return fmt.Errorf("%d bundles failed: %s", len(out), strings.Join(out, "; "))
	}
	return nil
}

// refresh fetches and parses one bundle; on success with new content the
// state is swapped, on failure the last good anchors stay. The fetch and
// the parse run outside the registry lock; rt.fetchMu orders refreshes of
// one bundle.
func (r *Registry) refresh(ctx context.Context, rt *bundleRuntime) error {
	rt.fetchMu.Lock()
	defer rt.fetchMu.Unlock()
	r.mu.Lock()
	spec, f := rt.spec, r.fetcher
	loaded, lastDigest := rt.loaded, rt.digest
	r.mu.Unlock()

	data, err := f.fetch(ctx, spec)
	now := r.now()
	var certs []*x509.Certificate
	var digest [32]byte
	unchanged := false
	if err == nil {
		digest = sha256.Sum256(data)
		unchanged = loaded && digest == lastDigest
		switch {
		case unchanged && spec.signer != nil:
			// Unchanged, but the signing certificate may have expired since.
			if k, serr := checkSignerWindow(spec.signer, now); serr != nil {
				err = &BundleError{Bundle: spec.Name, Source: spec.source(), Kind: k, Err: serr}
			}
		case !unchanged:
			certs, err = ParseBundle(data, spec.signer, now)
			if be, ok := err.(*BundleError); ok {
				be.Bundle, be.Source = spec.Name, spec.source()
			}
			if err == nil {
				r.writeCache(spec, data)
			}
		}
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	rt.lastAttempt = now
	rt.fetches++
	if err != nil {
		rt.failures++
		rt.lastErr = err
		rt.nextDue = now.Add(min(spec.Refresh, DefaultRetryAfterFail))
		r.log.Warn("trust bundle refresh failed; the last good anchors stay in use",
			"bundle", spec.Name, "source", spec.source(), "kind", kindOf(err).String(),
			"anchors_kept", len(rt.anchors), "loaded_once", rt.loaded, "err", err)
		return err
	}
	rt.lastSuccess, rt.lastErr = now, nil
	rt.nextDue = now.Add(spec.Refresh)
	if unchanged {
		rt.unchanged++
		r.log.Debug("trust bundle unchanged", "bundle", spec.Name, "source", spec.source(), "anchors", len(rt.anchors))
		return nil
	}
	rt.anchors, rt.digest, rt.loaded, rt.fromCache = certs, digest, true, false
	rt.lastChange = now
	if r.bundles[spec.Name] == rt { // still configured
		r.rebuildLocked()
	}
	r.log.Info("trust bundle loaded", "bundle", spec.Name, "source", spec.source(), "anchors", len(certs), "sha256", hex.EncodeToString(digest[:8]))
	return nil
}

// cachePath is where the last good bytes of a bundle source are kept.
func (r *Registry) cachePath(spec *bundleSpec) string {
	return filepath.Join(r.opts.CacheDir, "bundle-"+spec.key[:32]+".p7b")
}

// writeCache keeps the last good bytes of a bundle for the next start.
func (r *Registry) writeCache(spec *bundleSpec, data []byte) {
	if r.opts.CacheDir == "" {
		return
	}
	p := r.cachePath(spec)
	tmp, err := os.CreateTemp(r.opts.CacheDir, ".bundle-*")
	if err == nil {
		_, err = tmp.Write(data)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Rename(tmp.Name(), p)
		}
		if err != nil {
			os.Remove(tmp.Name())
		}
	}
	if err != nil {
		r.log.Warn("trust bundle cache not written", "bundle", spec.Name, "path", p, "err", err)
	}
}

// seedFromCache loads the last good bytes of a new bundle runtime, checked
// like a download (signature, signing certificate valid now), so a source
// that is down at start does not leave the circle empty.
func (r *Registry) seedFromCache(rt *bundleRuntime, now time.Time) {
	if r.opts.CacheDir == "" {
		return
	}
	p := r.cachePath(rt.spec)
	data, err := os.ReadFile(p)
	if err != nil {
		return
	}
	certs, err := ParseBundle(data, rt.spec.signer, now)
	if err != nil {
		r.log.Warn("trust bundle cache ignored", "bundle", rt.spec.Name, "path", p, "err", err)
		return
	}
	rt.anchors, rt.digest, rt.loaded, rt.fromCache = certs, sha256.Sum256(data), true, true
	if fi, err := os.Stat(p); err == nil {
		rt.lastChange = fi.ModTime()
	}
	r.log.Info("trust bundle loaded from the cache until the next download", "bundle", rt.spec.Name, "anchors", len(certs))
}

func kindOf(err error) Kind {
	if be, ok := err.(*BundleError); ok {
		return be.Kind
	}
	return KindNone
}

// Run refreshes each bundle when its interval is due (a failed one again
// after at most 15 minutes) until ctx ends. It is the registry's one
// background goroutine; fetches of a round run concurrently, each bounded
// by the fetch time-out, so one slow server does not delay the others
// beyond that.
func (r *Registry) Run(ctx context.Context) {
	for {
		next := r.runDue(ctx, r.now())
		wait := time.Until(next)
		if next.IsZero() {
			wait = time.Hour
		}
		t := time.NewTimer(max(wait, time.Second))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-r.wake:
		case <-t.C:
		}
		t.Stop()
	}
}

// runDue refreshes the bundles due at now and returns the next due time.
func (r *Registry) runDue(ctx context.Context, now time.Time) time.Time {
	r.mu.Lock()
	var due []*bundleRuntime
	for _, rt := range r.bundles {
		if !rt.nextDue.After(now) {
			due = append(due, rt)
		}
	}
	r.mu.Unlock()
	if len(due) > 0 && ctx.Err() == nil {
		_ = r.refreshList(ctx, due) // errors are logged and kept in the status
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var next time.Time
	for _, rt := range r.bundles {
		if next.IsZero() || rt.nextDue.Before(next) {
			next = rt.nextDue
		}
	}
	return next
}

// Status is what `tern check`, `tern direct trust list` and the metrics
// show.
type Status struct {
	Generation uint64
	Bundles    []BundleStatus
	Circles    []CircleStatus
	Domains    []DomainStatus
}

type BundleStatus struct {
	Name, Source string
	Signed       bool // a signing certificate is configured
	Refresh      time.Duration
	Loaded       bool // loaded at least once
	FromCache    bool // the anchors come from CacheDir, no download yet
	Anchors      int  // anchors in use (the last good load)
	Digest       string
	LastAttempt  time.Time
	LastSuccess  time.Time
	LastChange   time.Time
	NextRefresh  time.Time
	LastError    error // nil when the last attempt succeeded
	ErrorKind    Kind
	Fetches      uint64
	Failures     uint64
	Unchanged    uint64
}

type CircleStatus struct {
	Name        string
	Bundles     []string
	AnchorFiles []string
	Anchors     int
}

type DomainStatus struct {
	Name    string
	Circles []string
	Anchors int // distinct anchors; 0 = trusts nobody
}

// Status reports the current state.
func (r *Registry) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.state.Load()
	st := Status{Generation: s.gen}
	for name, rt := range r.bundles {
		bs := BundleStatus{Name: name, Source: rt.spec.source(), Signed: rt.spec.signer != nil, Refresh: rt.spec.Refresh,
			Loaded: rt.loaded, FromCache: rt.fromCache, Anchors: len(rt.anchors), LastAttempt: rt.lastAttempt, LastSuccess: rt.lastSuccess,
			LastChange: rt.lastChange, NextRefresh: rt.nextDue, LastError: rt.lastErr, ErrorKind: kindOf(rt.lastErr),
			Fetches: rt.fetches, Failures: rt.failures, Unchanged: rt.unchanged}
		if rt.loaded {
			bs.Digest = hex.EncodeToString(rt.digest[:])
		}
		st.Bundles = append(st.Bundles, bs)
	}
	for name, cs := range r.cfg.circles {
		c := CircleStatus{Name: name, Bundles: cs.bundles, Anchors: len(s.circles[name])}
		for _, af := range cs.anchors {
			c.AnchorFiles = append(c.AnchorFiles, af.path)
		}
		st.Circles = append(st.Circles, c)
	}
	for name, dt := range s.domains {
		st.Domains = append(st.Domains, DomainStatus{Name: name, Circles: dt.circles, Anchors: dt.count})
	}
	sort.Slice(st.Bundles, func(i, j int) bool { return st.Bundles[i].Name < st.Bundles[j].Name })
	sort.Slice(st.Circles, func(i, j int) bool { return st.Circles[i].Name < st.Circles[j].Name })
	sort.Slice(st.Domains, func(i, j int) bool { return st.Domains[i].Name < st.Domains[j].Name })
	return st
}

// Problems lists what `tern check` should report: failed or never loaded
// bundles (with the anchors kept) and domains that trust nobody.
func (s Status) Problems() []string {
	var out []string
	for _, b := range s.Bundles {
		switch {
		case b.LastError != nil:
			out = append(out, fmt.Sprintf("bundle %q: last refresh failed at %s (%s), %d last good anchors kept: %v",
				b.Name, b.LastAttempt.UTC().Format(time.RFC3339), b.ErrorKind, b.Anchors, b.LastError))
		case !b.Loaded:
			out = append(out, fmt.Sprintf("bundle %q (%s): not loaded yet", b.Name, b.Source))
		}
	}
	for _, d := range s.Domains {
		if d.Anchors == 0 {
			if len(d.Circles) == 0 {
				out = append(out, fmt.Sprintf("domain %q: no trust circle, it trusts no peer", d.Name))
			} else {
				out = append(out, fmt.Sprintf("domain %q: its circles %s hold no anchor, it trusts no peer", d.Name, strings.Join(d.Circles, ", ")))
			}
		}
	}
	return out
}

// DomainProblems compares the trust configuration with the server's Direct
// domains: a Direct domain the trust configuration does not name trusts
// nobody (reported), and a trust domain that is not a Direct domain of the
// server is most likely a typo (the integrator should refuse to start).
func (r *Registry) DomainProblems(direct []string) (noCircle, unknown []string) {
	s := r.state.Load()
	want := map[string]bool{}
	for _, d := range direct {
		d = NormalizeDomain(d)
		want[d] = true
		if dt := s.domains[d]; dt == nil || len(dt.circles) == 0 {
			noCircle = append(noCircle, d)
		}
	}
	for d := range s.domains {
		if !want[d] {
			unknown = append(unknown, d)
		}
	}
	sort.Strings(noCircle)
	sort.Strings(unknown)
	return noCircle, unknown
}

// CircleAnchors lists the current anchors of a circle (`tern direct trust
// show`), or false if there is no such circle.
func (r *Registry) CircleAnchors(name string) ([]Anchor, bool) {
	list, ok := r.state.Load().circles[name]
	return append([]Anchor(nil), list...), ok
}

// DomainCircles returns the circles a local domain uses (after mapping
// groupchat./ftproxystream. to the parent) and the domain they belong to.
func (r *Registry) DomainCircles(local string) (circles []string, domain string, ok bool) {
	dt, d := r.state.Load().lookup(local)
	if dt == nil {
		return nil, d, false
	}
	return append([]string(nil), dt.circles...), dt.name, true
}

// Format renders the status for `tern direct trust list`.
func (s Status) Format() string {
	var b strings.Builder
	ts := func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format(time.RFC3339)
	}
	fmt.Fprintf(&b, "trust state generation %d\n", s.Generation)
	b.WriteString("bundles:\n")
	for _, x := range s.Bundles {
		signed := "unsigned"
		if x.Signed {
			signed = "signed"
		}
		fmt.Fprintf(&b, "  %s  %s (%s, every %s): %d anchors, last success %s, next %s\n",
			x.Name, x.Source, signed, x.Refresh, x.Anchors, ts(x.LastSuccess), ts(x.NextRefresh))
		if x.LastError != nil {
			fmt.Fprintf(&b, "    LAST REFRESH FAILED at %s (%s), last good anchors kept: %v\n", ts(x.LastAttempt), x.ErrorKind, x.LastError)
		}
	}
	b.WriteString("circles:\n")
	for _, c := range s.Circles {
		fmt.Fprintf(&b, "  %s: %d anchors; bundles %s; anchor files %s\n", c.Name, c.Anchors, listOrNone(c.Bundles), listOrNone(c.AnchorFiles))
	}
	b.WriteString("domains:\n")
	for _, d := range s.Domains {
		note := ""
		if d.Anchors == 0 {
			note = "  (trusts nobody)"
		}
		fmt.Fprintf(&b, "  %s: circles %s, %d anchors%s\n", d.Name, listOrNone(d.Circles), d.Anchors, note)
	}
	return b.String()
}

// FormatAnchors renders a circle's anchors for `tern direct trust show`.
func FormatAnchors(circle string, anchors []Anchor) string {
	var b strings.Builder
	fmt.Fprintf(&b, "circle %s: %d anchors\n", circle, len(anchors))
	for _, a := range anchors {
		fmt.Fprintf(&b, "  %s\n    sha256 %s, %s, valid %s to %s\n", a.Cert.Subject, a.Fingerprint, a.Source,
			a.Cert.NotBefore.UTC().Format(time.RFC3339), a.Cert.NotAfter.UTC().Format(time.RFC3339))
	}
	return b.String()
}
