package server

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/ops/metrics"
	"github.com/tern-xmpp/tern/internal/pki/ca"
	"github.com/tern-xmpp/tern/internal/pki/crl"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
	"github.com/tern-xmpp/tern/internal/transport/s2s"
)

// directTrust is the Direct trust layer of a running server: the circles
// (registry, refreshed in the background), the validator the s2s hooks
// call, the live Direct pairs and their re-validation (TIM+ §4.2.1).
type directTrust struct {
	cfg      *config.Config
	reg      *trust.Registry
	val      *trust.Validator
	explain  *trust.Validator      // for `tern direct trust check`: not counted in metrics
	disc     *discovery.Discoverer // certificate discovery, its caches shared
	peer     discovery.Peer        // peer introduction over s2s
	sessions *trust.Sessions
	direct   map[string]bool
	m        *metrics.Direct
	log      *slog.Logger
	cancel   context.CancelFunc
	done     chan struct{}
	// probe captures a peer server's chain (s2s.Service.PeerChain); nil
	// while federation is off. Set by startS2S while the control socket
	// may already serve, hence atomic.
	probe atomic.Pointer[probeFunc]
}

type probeFunc func(ctx context.Context, local, peer string) ([]*x509.Certificate, string, error)

// startDirect builds the trust layer when a domain is Direct or a circle
// is configured; nil (and no error) otherwise. A configuration the trust
// layer refuses (unreadable anchor, bad signing certificate) fails the
// start: a Direct domain never runs with part of its trust missing.
func startDirect(ctx context.Context, cfg *config.Config, m *metrics.Metrics, peer discovery.Peer, log *slog.Logger) (*directTrust, error) {
	names := cfg.DirectDomains()
	if len(names) == 0 && len(cfg.Trust.Circles) == 0 {
		return nil, nil
	}
	log = log.With("component", "direct")
	if cfg.Trust.LabNoCRL {
		log.Warn("trust.lab_no_crl = true: peers without an obtainable CRL are accepted; this violates TIM+ and is for labs only")
	}
	if cfg.Trust.AllowHTTP {
		log.Warn("trust.allow_http = true: plain-http trust bundles can be replaced by anyone on the path; labs only")
	}
	cacheDir := cfg.TrustCacheDir()
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("trust.cache_dir: %w (set it to a writable directory)", err)
	}
	reg, err := trust.NewRegistry(cfg.TrustConfig(), trust.Options{Logger: log, CacheDir: cacheDir})
	if err != nil {
		return nil, fmt.Errorf("trust: %w", err)
	}
	d := &directTrust{cfg: cfg, reg: reg, sessions: &trust.Sessions{}, direct: map[string]bool{}, log: log, done: make(chan struct{})}
	for _, n := range names {
		d.direct[n] = true
	}
	noCircle, unknown := reg.DomainProblems(names)
	if len(unknown) > 0 {
		return nil, fmt.Errorf("trust: %s named in the trust configuration but not Direct domains of this server", strings.Join(unknown, ", "))
	}
	for _, n := range noCircle {
		log.Warn("Direct domain with no trust circle: it trusts nobody; set circles in its [[domain]]", "domain", n)
	}
	d.m = m.NewDirect(d.bundleStats)
	checker := &crl.Checker{Timeout: cfg.Trust.CRLTimeout.Duration, MaxAge: cfg.Trust.CRLMaxAge.Duration, CacheDir: filepath.Join(cacheDir, "crl")}
	rev := trust.RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (trust.RevocationStatus, error) {
		st, err := checker.Check(ctx, c, i)
		return trust.RevocationStatus(st), err
	})
	opts := trust.ValidatorOptions{Revocation: rev, LabNoCRL: cfg.Trust.LabNoCRL}
	if cfg.Trust.AIA {
		opts.AIA = &trust.AIAFetcher{}
	}
	if d.explain, err = trust.NewValidator(reg, opts); err != nil {
		return nil, err
	}
	d.peer = peer
	d.disc = d.discoverer(cfg.DNS.Resolver)
	opts.Observe = func(r *trust.Result, _ time.Duration) {
		if r.Recheck {
			d.m.Revalidation(string(r.Reason))
		} else {
			d.m.Handshake(string(r.Reason))
		}
	}
	if d.val, err = trust.NewValidator(reg, opts); err != nil {
		return nil, err
	}
	// The first fetch before serving, bounded: a Direct domain should not
	// refuse its partners for a minute after every restart. Failures keep
	// the cached anchors and are logged by the registry.
	rctx, cancel := context.WithTimeout(ctx, cfg.Trust.FetchTimeout.Duration)
	_ = reg.RefreshAll(rctx)
	cancel()
	bctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	d.cancel = cancel
	rv := &trust.Revalidator{Validator: d.val, List: d.sessions.List, Interval: cfg.Trust.Revalidate.Duration, Logger: log}
	go func() {
		defer close(d.done)
		go reg.Run(bctx)
		rv.Run(bctx)
	}()
	st := reg.Status()
	for _, dom := range st.Domains {
		log.Info("Direct domain", "domain", dom.Name, "circles", dom.Circles, "anchors", dom.Anchors)
	}
	return d, nil
}

// discoverer is discovery for the server's Direct domains: the
// configured sources in order, DNS CERT at resolver.
func (d *directTrust) discoverer(resolver string) *discovery.Discoverer {
	disc := discovery.New(resolver, d.explain)
	disc.Peer, disc.Order = d.peer, d.cfg.Discovery.Order
	return disc
}

// reload re-reads the configuration file's trust circles and the Direct
// domains' circles on SIGHUP and applies them at once (the next
// validation and the next re-validation round use them); anchor files are
// read again. Anything else in the file needs a restart, and a file whose
// Direct domains changed is refused as a whole: the old trust stays.
func (d *directTrust) reload() {
	if d == nil || d.cfg.Path == "" {
		return
	}
	nc, err := config.Load(d.cfg.Path)
	if err == nil {
		nc.DataDir = d.cfg.DataDir // --data may override the file
		err = nc.Validate()
	}
	if err != nil {
		d.log.Error("trust reload failed; keeping the previous circles", "err", err)
		return
	}
	if got, want := strings.Join(nc.DirectDomains(), ","), strings.Join(d.cfg.DirectDomains(), ","); got != want {
		d.log.Error("trust reload refused: the set of Direct domains changed; restart tern to apply it", "was", want, "now", got)
		return
	}
	if err := d.reg.Apply(nc.TrustConfig()); err != nil {
		d.log.Error("trust reload failed; keeping the previous circles", "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.cfg.Trust.FetchTimeout.Duration)
	defer cancel()
	_ = d.reg.RefreshAll(ctx) // new bundles; failures keep the last good anchors and are logged
	for _, dom := range d.reg.Status().Domains {
		d.log.Info("trust reloaded", "domain", dom.Name, "circles", dom.Circles, "anchors", dom.Anchors)
	}
}

// stop ends the refreshes and re-validation.
func (d *directTrust) stop() {
	if d == nil {
		return
	}
	d.cancel()
	<-d.done
}

// hooks are what the s2s transport calls for Direct local domains.
func (d *directTrust) hooks() s2s.DirectHooks {
	if d == nil {
		return s2s.DirectHooks{}
	}
	return s2s.DirectHooks{
		IsDirect: func(local string) bool { return d.direct[local] || d.direct[parentDomain(local)] },
		Verify:   d.val.VerifyPeer,
		Track:    d.sessions.TrackPair,
		Refused:  func(reason string) { d.m.Handshake(reason) },
		Closed:   d.m.Closures.Inc,
		Reason: func(err error) string {
			if ue := (*trust.UntrustedError)(nil); errors.As(err, &ue) {
				return string(ue.Reason)
			}
			return "error"
		},
	}
}

// parentDomain strips the TIM+ service prefixes (groupchat., ftproxystream.).
func parentDomain(d string) string {
	for _, p := range []string{"groupchat.", "ftproxystream."} {
		if rest, ok := strings.CutPrefix(d, p); ok {
			return rest
		}
	}
	return ""
}

func (d *directTrust) bundleStats() []metrics.BundleStat {
	var out []metrics.BundleStat
	for _, b := range d.reg.Status().Bundles {
		out = append(out, metrics.BundleStat{Name: b.Name, Anchors: b.Anchors, Loaded: b.Loaded, Failing: b.LastError != nil,
			Fetches: b.Fetches, Failures: b.Failures, Unchanged: b.Unchanged})
	}
	return out
}

// pkiHandler serves http.pki_dirs at /pki/<name>/ (lab CRLs and bundles).
func pkiHandler(cfg *config.Config) (http.Handler, error) {
	if len(cfg.HTTP.PKIDirs) == 0 {
		return nil, nil
	}
	return ca.Handler(cfg.HTTP.PKIDirs...)
}

// handleDirect adds the `tern direct trust` operations to the control
// socket.
func (d *directTrust) handle(ctl *control.Server) {
	d.handleDiscover(ctl)
	ctl.Handle("direct.trust.list", func(context.Context, map[string]string) (string, error) {
		if d == nil {
			return "", errNoDirect
		}
		return d.reg.Status().Format(), nil
	})
	ctl.Handle("direct.trust.show", func(_ context.Context, args map[string]string) (string, error) {
		if d == nil {
			return "", errNoDirect
		}
		anchors, ok := d.reg.CircleAnchors(args["circle"])
		if !ok {
			return "", fmt.Errorf("no circle %q: `tern direct trust list` shows the circles", args["circle"])
		}
		return trust.FormatAnchors(args["circle"], anchors), nil
	})
	ctl.Handle("direct.trust.refresh", func(ctx context.Context, args map[string]string) (string, error) {
		if d == nil {
			return "", errNoDirect
		}
		ctx, cancel := context.WithTimeout(ctx, d.cfg.Trust.FetchTimeout.Duration+5*time.Second)
		defer cancel()
		var err error
		if b := args["bundle"]; b != "" {
			err = d.reg.RefreshNow(ctx, b)
		} else {
			err = d.reg.RefreshAll(ctx)
		}
		out := d.reg.Status().Format()
		if err != nil {
			return "", fmt.Errorf("%v\n%s", err, out)
		}
		return out, nil
	})
	ctl.Handle("direct.trust.check", func(ctx context.Context, args map[string]string) (string, error) {
		if d == nil {
			return "", errNoDirect
		}
		local, peer := args["for"], args["peer"]
		if !d.direct[local] && !d.direct[parentDomain(local)] {
			return "", fmt.Errorf("%s is not a Direct domain of this server (set direct = true in its [[domain]])", local)
		}
		head := ""
		var chain []*x509.Certificate
		if args["chain"] != "" {
			c, err := keypair.ParseCertificatesPEM("--chain", []byte(args["chain"]))
			if err != nil {
				return "", fmt.Errorf("the chain: %w", err)
			}
			chain = c
		} else {
			probe := d.probe.Load()
			if probe == nil {
				return "", errors.New("federation is off (no s2s listener), so tern cannot dial the peer: give its chain with --chain FILE")
			}
			pctx, cancel := context.WithTimeout(ctx, d.cfg.S2S.ConnectTimeout.Duration)
			c, addr, err := (*probe)(pctx, local, peer)
			cancel()
			if err != nil {
				return "", fmt.Errorf("capturing the certificate chain of %s: %w (give it with --chain FILE)", peer, err)
			}
			chain = c
			head = fmt.Sprintf("chain of %d certificate(s) presented by %s at %s\n", len(c), peer, addr)
		}
		r, _ := d.explain.Validate(ctx, local, peer, chain, time.Now())
		return head + trust.Explain(r), nil
	})
}

var errNoDirect = errors.New("no Direct domain or trust circle is configured on this server")
