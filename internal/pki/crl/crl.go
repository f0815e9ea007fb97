package crl

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Defaults of a Checker.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultMaxBytes   = 10 << 20
	DefaultMaxAge     = time.Hour
	DefaultRetryAfter = 15 * time.Second
	clockSkew         = 5 * time.Minute
)

var (
	// ErrNoDistributionPoint: the certificate names no http(s) CRL
	// distribution point, so its revocation cannot be checked.
	ErrNoDistributionPoint = errors.New("crl: the certificate has no http(s) CRL distribution point")
	// ErrUnavailable: no valid, current CRL could be obtained from any
	// distribution point (fetch failed, time-out, too large, malformed,
	// bad signature, stale). The error text says which and why.
	ErrUnavailable = errors.New("crl: no valid CRL obtainable")
)

// Status is the revocation state of a certificate per the CRL at URL.
type Status struct {
	Revoked    bool
	RevokedAt  time.Time
	Reason     int // RFC 5280 §5.3.1 CRLReason; 0 also when absent
	URL        string
	ThisUpdate time.Time
	NextUpdate time.Time
}

// Checker checks certificates against the CRLs of their distribution
// points. The zero value is usable; set fields before the first Check.
// It is safe for concurrent use.
type Checker struct {
	Timeout    time.Duration // per fetch; default DefaultTimeout
	MaxBytes   int64         // largest CRL accepted; default DefaultMaxBytes
	MaxAge     time.Duration // re-fetch after this even before nextUpdate; default DefaultMaxAge
	RetryAfter time.Duration // a failed URL is not fetched again sooner; default DefaultRetryAfter
	CacheDir   string        // if set, CRLs are kept there across restarts
	Client     *http.Client  // default: a client with Timeout and at most 3 redirects
	Now        func() time.Time
	// Lists are CRLs given by hand (tern direct verify --crl): one that
	// names a certificate's issuer answers before anything is fetched,
	// with the same checks (signature, freshness, scope).
	Lists []*x509.RevocationList

	mu       sync.Mutex
	cache    map[string]*entry
	inflight map[string]*call
}

type entry struct {
	list      *x509.RevocationList
	revoked   map[string]*x509.RevocationListEntry // serial (decimal) -> entry
	scope     scope
	refreshAt time.Time
	err       error // the last fetch failed (list may still be usable)
	errAt     time.Time
}

type call struct {
	done chan struct{}
	e    *entry
	err  error // of this fetch
}

// Check returns the revocation status of cert, issued by issuer. The CRL
// must verify with issuer's key, name issuer, and be current. An error
// (ErrNoDistributionPoint, ErrUnavailable) means the status is unknown:
// refusing the peer then (fail closed) is the caller's policy.
//
// Call it after the chain to a trust anchor is verified: the URLs come
// from the certificate, and checking an unverified one would let anyone
// make tern fetch URLs of their choosing (and fill the cache, which holds
// one CRL per URL seen).
func (c *Checker) Check(ctx context.Context, cert, issuer *x509.Certificate) (Status, error) {
	var errs []string
	for _, l := range c.Lists {
		if bytes.Equal(l.RawIssuer, cert.RawIssuer) {
			st, err := c.status(c.newEntry(l, c.now()), "(given)", cert, issuer)
			if err == nil {
				return st, nil
			}
			errs = append(errs, "a given CRL: "+err.Error())
		}
	}
	urls := DistributionPoints(cert)
	if len(urls) == 0 && len(errs) > 0 {
		return Status{}, fmt.Errorf("%w for %q: %s", ErrUnavailable, cert.Subject.String(), strings.Join(errs, "; "))
	}
	if len(urls) == 0 {
		if len(cert.CRLDistributionPoints) > 0 {
			return Status{}, fmt.Errorf("%w (only %s)", ErrNoDistributionPoint, strings.Join(cert.CRLDistributionPoints, ", "))
		}
		return Status{}, ErrNoDistributionPoint
	}
	for _, u := range urls {
		e, err := c.get(ctx, u, false)
		if e != nil {
			var st Status
			if st, err = c.status(e, u, cert, issuer); err == nil {
				return st, nil
			}
		}
		if ctx.Err() != nil {
			return Status{}, fmt.Errorf("%w: %s: %w", ErrUnavailable, u, ctx.Err())
		}
		errs = append(errs, u+": "+err.Error())
	}
	return Status{}, fmt.Errorf("%w for %q: %s", ErrUnavailable, cert.Subject.String(), strings.Join(errs, "; "))
}

// DistributionPoints returns the http(s) CRL URLs of cert, in order.
func DistributionPoints(cert *x509.Certificate) []string {
	var urls []string
	for _, u := range cert.CRLDistributionPoints {
		if pu, err := url.Parse(u); err == nil && (pu.Scheme == "http" || pu.Scheme == "https") && pu.Host != "" {
			urls = append(urls, u)
		}
	}
	return urls
}

func (c *Checker) status(e *entry, u string, cert, issuer *x509.Certificate) (Status, error) {
	l := e.list
	now := c.now()
	if !bytes.Equal(l.RawIssuer, cert.RawIssuer) {
		return Status{}, fmt.Errorf("the CRL is issued by %q, the certificate by %q", l.Issuer.String(), cert.Issuer.String())
	}
	if err := l.CheckSignatureFrom(issuer); err != nil {
		return Status{}, fmt.Errorf("the CRL signature does not verify with the issuer %q: %v", issuer.Subject.String(), err)
	}
	if !l.NextUpdate.IsZero() && now.After(l.NextUpdate) {
		return Status{}, fmt.Errorf("the CRL is stale: nextUpdate %s has passed and no newer one could be fetched%s", l.NextUpdate.UTC().Format(time.RFC3339), lastErr(e))
	}
	if l.ThisUpdate.After(now.Add(clockSkew)) {
		return Status{}, fmt.Errorf("the CRL's thisUpdate %s is in the future: check the clocks", l.ThisUpdate.UTC().Format(time.RFC3339))
	}
	if err := e.scope.covers(cert); err != nil {
		return Status{}, err
	}
	st := Status{URL: u, ThisUpdate: l.ThisUpdate, NextUpdate: l.NextUpdate}
	if r := e.revoked[cert.SerialNumber.String()]; r != nil {
		st.Revoked, st.RevokedAt, st.Reason = true, r.RevocationTime, r.ReasonCode
	}
	return st, nil
}

func lastErr(e *entry) string {
	if e.err != nil {
		return " (" + e.err.Error() + ")"
	}
	return ""
}

// Refresh fetches the CRL at u now, whatever the cache holds, and
// returns the fetch error if any (the older CRL stays usable until its
// nextUpdate).
func (c *Checker) Refresh(ctx context.Context, u string) error {
	_, err := c.get(ctx, u, true)
	return err
}

// Invalidate drops the cached CRL of u (all CRLs if u is ""), in memory
// and on disk, so the next Check fetches it.
func (c *Checker) Invalidate(u string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if u == "" {
		clear(c.cache) // not nil: get would also drop the in-flight fetches
		if c.CacheDir != "" {
			files, _ := filepath.Glob(filepath.Join(c.CacheDir, "*.crl"))
			for _, f := range files {
				os.Remove(f)
			}
		}
		return
	}
	delete(c.cache, u)
	if c.CacheDir != "" {
		os.Remove(c.diskPath(u))
	}
}

// get returns a usable cache entry for u, fetching it if it is missing or
// due (or force), and the error of the fetch it waited for, if any; the
// entry is nil when no CRL at all is at hand. Fetches of one URL are
// collapsed into one; each runs in its own goroutine under its own
// time-out, so a caller leaves when its ctx ends and a slow server delays
// only the callers that need it.
func (c *Checker) get(ctx context.Context, u string, force bool) (*entry, error) {
	now := c.now()
	c.mu.Lock()
	if c.cache == nil {
		c.cache = map[string]*entry{}
		c.inflight = map[string]*call{}
	}
	e := c.cache[u]
	if e != nil && !force {
		switch {
		case e.list != nil && now.Before(e.refreshAt):
			c.mu.Unlock()
			return e, nil
		case e.err != nil && now.Before(e.errAt.Add(c.retryAfter())):
			c.mu.Unlock()
			if e.list != nil {
				return e, nil // status() decides whether it is still current
			}
			return nil, e.err
		}
	}
	cl := c.inflight[u]
	if cl == nil {
		cl = &call{done: make(chan struct{})}
		c.inflight[u] = cl
		go c.fetchCall(u, cl, e)
	}
	c.mu.Unlock()
	select {
	case <-cl.done:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if cl.e.list == nil {
		return nil, cl.err
	}
	return cl.e, cl.err
}

func (c *Checker) fetchCall(u string, cl *call, old *entry) {
	ne, err := c.load(u, old)
	c.mu.Lock()
	c.cache[u] = ne
	delete(c.inflight, u)
	c.mu.Unlock()
	cl.e, cl.err = ne, err
	close(cl.done)
}

// load fetches u; on failure it keeps the older list (memory or disk),
// which status() refuses once past its nextUpdate.
func (c *Checker) load(u string, old *entry) (*entry, error) {
	now := c.now()
	if old == nil && c.CacheDir != "" {
		if d := c.readDisk(u); d != nil {
			if now.Before(d.refreshAt) {
				return d, nil
			}
			old = d
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout())
	defer cancel()
	raw, err := c.download(ctx, u)
	var l *x509.RevocationList
	if err == nil {
		l, err = Parse(raw)
	}
	if err != nil {
		ne := &entry{err: err, errAt: c.now()}
		if old != nil && old.list != nil {
			ne.list, ne.revoked, ne.scope, ne.refreshAt = old.list, old.revoked, old.scope, old.refreshAt
		}
		return ne, err
	}
	if c.CacheDir != "" {
		c.writeDisk(u, l.Raw)
	}
	return c.newEntry(l, now), nil
}

func (c *Checker) newEntry(l *x509.RevocationList, fetched time.Time) *entry {
	e := &entry{list: l, revoked: make(map[string]*x509.RevocationListEntry, len(l.RevokedCertificateEntries))}
	e.scope, _ = crlScope(l) // Parse refused the CRLs it fails on
	for i := range l.RevokedCertificateEntries {
		r := &l.RevokedCertificateEntries[i]
		e.revoked[r.SerialNumber.String()] = r
	}
	e.refreshAt = fetched.Add(c.maxAge())
	if !l.NextUpdate.IsZero() && l.NextUpdate.Before(e.refreshAt) {
		e.refreshAt = l.NextUpdate
	}
	return e
}

func (c *Checker) download(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/pkix-crl, */*;q=0.5")
	resp, err := c.client().Do(req)
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("no answer within %v", c.timeout())
		}
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %s", resp.Status)
	}
	max := c.maxBytes()
	if resp.ContentLength > max {
		return nil, fmt.Errorf("the CRL is %d bytes, more than the limit of %d", resp.ContentLength, max)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, max+1))
	if err != nil {
		if ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("the CRL did not arrive within %v", c.timeout())
		}
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("the CRL is larger than the limit of %d bytes", max)
	}
	return b, nil
}

// Parse decodes a CRL in DER (RFC 5280 §5) or PEM ("X509 CRL") and
// refuses the kinds this checker cannot evaluate (delta, indirect, by
// reason, unknown critical extensions).
func Parse(b []byte) (*x509.RevocationList, error) {
	if bytes.HasPrefix(bytes.TrimSpace(b), []byte("-----BEGIN")) {
		blk, _ := pem.Decode(b)
		if blk == nil || (blk.Type != "X509 CRL" && blk.Type != "CRL") {
			return nil, errors.New("malformed CRL: PEM without an \"X509 CRL\" block")
		}
		b = blk.Bytes
	}
	if len(b) == 0 {
		return nil, errors.New("malformed CRL: empty")
	}
	l, err := x509.ParseRevocationList(b)
	if err != nil {
		return nil, fmt.Errorf("malformed CRL: %v", err)
	}
	if _, err := crlScope(l); err != nil {
		return nil, fmt.Errorf("unusable CRL: %v", err)
	}
	return l, nil
}

func (c *Checker) diskPath(u string) string {
	h := sha256.Sum256([]byte(u))
	return filepath.Join(c.CacheDir, hex.EncodeToString(h[:16])+".crl")
}

func (c *Checker) readDisk(u string) *entry {
	p := c.diskPath(u)
	fi, err := os.Stat(p)
	if err != nil || fi.Size() > c.maxBytes() {
		return nil
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil
	}
	l, err := Parse(b)
	if err != nil {
		return nil
	}
	return c.newEntry(l, fi.ModTime())
}

func (c *Checker) writeDisk(u string, der []byte) {
	if err := os.MkdirAll(c.CacheDir, 0o700); err != nil {
		return
	}
	p := c.diskPath(u)
	f, err := os.CreateTemp(c.CacheDir, ".crl-*")
	if err != nil {
		return
	}
	_, werr := f.Write(der)
	cerr := f.Close()
	if werr != nil || cerr != nil || os.Rename(f.Name(), p) != nil {
		os.Remove(f.Name())
	}
}

func (c *Checker) client() *http.Client {
	if c.Client != nil {
		return c.Client
	}
	return &http.Client{
		Timeout: c.timeout(),
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("more than 3 redirects")
			}
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %s", req.URL.Scheme)
			}
			return nil
		},
	}
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return DefaultTimeout
}

func (c *Checker) maxBytes() int64 {
	if c.MaxBytes > 0 {
		return c.MaxBytes
	}
	return DefaultMaxBytes
}

func (c *Checker) maxAge() time.Duration {
	if c.MaxAge > 0 {
		return c.MaxAge
	}
	return DefaultMaxAge
}

func (c *Checker) retryAfter() time.Duration {
	if c.RetryAfter > 0 {
		return c.RetryAfter
	}
	return DefaultRetryAfter
}
