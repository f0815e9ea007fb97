// Package server wires tern together: config, certificates, storage,
// router, features and listeners. It is the one place features are
// registered, one line each.
package server

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	_ "net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
	"github.com/tern-xmpp/tern/internal/auth/sasl"
	"github.com/tern-xmpp/tern/internal/direct/audit"
	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/introduce"
	"github.com/tern-xmpp/tern/internal/direct/messages"
	"github.com/tern-xmpp/tern/internal/direct/sealed"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/ops/metrics"
	"github.com/tern-xmpp/tern/internal/pki/certs"
	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage/cache"
	"github.com/tern-xmpp/tern/internal/transport/c2s"
)

// Version is set by the build (cmd/tern).
var Version = "dev"

// Run starts every listener of cfg and serves until ctx is done (SIGTERM),
// then shuts down gracefully.
func Run(ctx context.Context, cfg *config.Config, log *slog.Logger) error {
	if os.Getenv("GOGC") == "" {
		// Thousands of idle sessions are mostly small live objects: a
		// tighter heap target keeps RSS near the live size (memory per
		// session is a product goal) for a little more GC work under load.
		debug.SetGCPercent(50)
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("cannot create the data directory %s: %w (set data_dir or --data to a writable place)", cfg.DataDir, err)
	}
	ctlLn, err := listenControl(cfg, log)
	if err != nil {
		return err
	}
	if ctlLn != nil {
		defer ctlLn.Close()
	}
	cm, err := Certificates(cfg, log)
	if err != nil {
		return err
	}
	raw, err := OpenStore(ctx, cfg)
	if err != nil {
		return err
	}
	defer raw.Close()
	// Hot per-owner reads (block lists, rosters) are cached here, once for every
	// feature, instead of inside the features.
	store := cache.Wrap(raw, cache.Options{})
	secret, err := loadSecret(filepath.Join(cfg.DataDir, "secret"))
	if err != nil {
		return err
	}

	r := router.New(log, cfg.DomainNames(), store.Users())
	m := metrics.New(r.SessionCount)
	r.Metrics.Routed = metrics.ByKind(m.Routed)

	trusted, err := ratelimit.ParseNetworks(cfg.Limits.TrustedNetworks)
	if err != nil {
		return fmt.Errorf("limits.trusted_networks: %w", err)
	}
	regLimit := ratelimit.NewWindow(cfg.Limits.RegistrationsPerIP, time.Hour)
	authLimit := ratelimit.NewWindow(cfg.Limits.AuthFailuresPerIP, time.Minute)
	// Peer introduction (published.go): what the Direct domains introduce,
	// and the discoverer's peer source, which asks over s2s.
	dir := &directory{cfg: cfg, cm: cm, store: store.DirectCerts(), log: log.With("component", "direct")}
	if err := dir.load(ctx); err != nil {
		return err
	}
	asker := &introduce.Asker{Router: r, Timeout: cfg.Discovery.PeerTimeout.Duration, TTL: cfg.Discovery.PeerCache.Duration}
	var dt *directTrust // started below; clients' questions wait for it
	intro := introduce.New()
	intro.Direct, intro.Directory, intro.Asker = isDirect(cfg), dir.get, asker
	intro.Discover = func(ctx context.Context, local, address string, p trust.Purpose) (*discovery.Report, error) {
		if dt == nil {
			return nil, errNoDirect
		}
		return dt.disc.Discover(ctx, local, address, p)
	}
	// Direct messages (directmsg.go): sealed with the keys `tern direct cert`
	// stored, opened for the circles of the receiving domain.
	sealKey, err := SealingKey(cfg)
	if err != nil {
		return err
	}
	box, err := sealed.New(sealKey)
	if err != nil {
		return err
	}
	dmsg := messages.New()
	dmsg.Direct, dmsg.Keys, dmsg.Discover = isDirect(cfg), &directKeys{store: store.DirectCerts(), box: box}, intro.Discover
	dmsg.Audit, dmsg.Pending, dmsg.Dir = &audit.Log{Store: store.Archive()}, store.Archive(), cfg.DirectDir()
	dmsg.Verify = func(ctx context.Context, local, sender string, chain []*x509.Certificate) (*trust.Result, error) {
		if dt == nil {
			return nil, errNoDirect
		}
		return dt.explain.ValidateFor(ctx, local, sender, trust.PurposeVerify, chain, time.Now())
	}
	// Features: the one list in modules.go. Disco collects what they register.
	host := module.NewHost(r, store, log, m.Registry, time.Now)
	if err := loadModules(host, cfg, modules(cfg, time.Now(), regLimit, trusted, intro, dmsg)); err != nil {
		return fmt.Errorf("features: %w", err)
	}
	stopProxy, err := startProxy(host, cm)
	if err != nil {
		return err
	}
	defer stopProxy()
	dt, err = startDirect(ctx, cfg, m, asker, log) // Direct trust (direct.go)
	if err != nil {
		return err
	}
	defer dt.stop()
	pub, err := startDNS(ctx, cfg, cm, store.DirectCerts(), m.Registry, log) // Direct DNS responder (dns.go)
	if err != nil {
		return err
	}
	defer pub.stop()
	stopControl := serveControl(context.WithoutCancel(ctx), ctlLn, cfg, admin{router: r, authLimit: authLimit, regLimit: regLimit, sessions: r.SessionCount, direct: dt, dns: pub, directory: dir, messages: dmsg}, log)
	defer stopControl() // before the store closes (defers run in reverse)

	lim, preLim := c2sLimits(cfg)
	// Sessions outlive the signal: their last writes (unavailable, last activity)
	// must not fail on a cancelled context during shutdown.
	cs := c2s.NewServer(context.WithoutCancel(ctx), c2s.Config{
		Domains: cfg.DomainNames(),
		TLS:     certs.ServerTLSConfig(cm),
		ServedCert: func(name string) *x509.Certificate {
			c, err := cm.GetCertificate(&tls.ClientHelloInfo{ServerName: name})
			if err != nil || c == nil {
				return nil
			}
			return c.Leaf
		},
		RequireStartTLS:  cfg.C2S.RequireStartTLS,
		AllowPlain:       cfg.C2S.AllowPlain,
		Limits:           lim,
		PreAuthLimits:    preLim,
		AuthTimeout:      cfg.Limits.AuthTimeout.Duration,
		PingInterval:     cfg.Limits.PingInterval.Duration,
		PingTimeout:      cfg.Limits.PingTimeout.Duration,
		ConnsPerIP:       cfg.Limits.ConnsPerIP,
		ResourcesPerUser: cfg.Limits.ResourcesPerUser,
		AuthFailures:     authLimit,
		ResumeTimeout:    cfg.Limits.ResumeTimeout.Duration,
		Trusted:          trusted,
		Secret:           secret,
		Users:            store.Users(),
		PreAuthIQ:        host.PreAuthIQ,
		PreAuthFeatures:  host.PreAuthFeatures,
		Metrics: c2s.Metrics{
			StanzaIn:      metrics.ByKind(m.StanzasIn),
			StanzaOut:     metrics.ByKind(m.StanzasOut),
			AuthFailure:   func(mech string) { m.AuthFailures.WithLabelValues(metrics.Known(mech, allMechanisms...)).Inc() },
			AuthSuccess:   func(mech string) { m.AuthSuccess.WithLabelValues(metrics.Known(mech, allMechanisms...)).Inc() },
			StreamError:   func(c string) { m.StreamErrors.WithLabelValues(c).Inc() },
			SessionOpened: m.Connections.Inc,
			SessionClosed: m.Connections.Dec,
			Unacked:       func(n int) { m.Unacked.Add(float64(n)) },
		},
	}, r, log)

	// Listeners: bind them all before serving, so a taken port fails the
	// start instead of leaving a half-up server.
	type lis struct {
		l      net.Listener
		direct bool
	}
	var ls []lis
	closeAll := func() {
		for _, l := range ls {
			l.l.Close()
		}
	}
	for _, a := range cfg.C2S.Listen {
		l, err := net.Listen("tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("c2s: cannot listen on %s: %w (is another server running? change [c2s] listen)", a, err)
		}
		ls = append(ls, lis{l, false})
	}
	for _, a := range cfg.C2S.ListenTLS {
		l, err := net.Listen("tcp", a)
		if err != nil {
			closeAll()
			return fmt.Errorf("c2s: cannot listen on %s: %w (is another server running? change [c2s] listen_tls)", a, err)
		}
		ls = append(ls, lis{l, true})
	}
	var hs *http.Server
	if cfg.HTTP.Listen != "" {
		hl, err := net.Listen("tcp", cfg.HTTP.Listen)
		if err != nil {
			closeAll()
			return fmt.Errorf("http: cannot listen on %s: %w (change [http] listen, or set it to \"\" to disable)", cfg.HTTP.Listen, err)
		}
		mux := http.NewServeMux()
		mux.Handle("GET /metrics", m.Handler())
		if h, err := pkiHandler(cfg); err != nil || h != nil {
			if err != nil {
				closeAll()
				hl.Close()
				return fmt.Errorf("http.pki_dirs: %w", err)
			}
			mux.Handle("GET /pki/", h)
		}
		hs = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(hl) }()
		log.Info("metrics listening", "addr", hl.Addr().String(), "path", "/metrics")
	}
	// Federation first: the router's Remote is set before any client
	// session can route through it.
	stopS2S, err := startS2S(ctx, cfg, cm, r, m, secret, trusted, dt, log)
	if err != nil {
		closeAll()
		return err
	}
	for _, l := range ls {
		kind := "STARTTLS"
		if l.direct {
			kind = "direct TLS"
		}
		log.Info("c2s listening", "addr", l.l.Addr().String(), "tls", kind)
		go func() {
			if err := cs.Serve(l.l, l.direct); err != nil {
				log.Error("c2s listener stopped", "addr", l.l.Addr().String(), "err", err)
			}
		}()
	}
	if a := os.Getenv("TERN_PPROF"); a != "" {
		// Developer hook for profiling (heap per session, CPU under load):
		// never on by default, never on a public address.
		go func() { log.Warn("pprof stopped", "err", http.ListenAndServe(a, http.DefaultServeMux)) }()
		log.Warn("pprof enabled (TERN_PPROF)", "addr", a)
	}
	log.Info("tern ready", "domains", cfg.DomainNames(), "storage", cfg.Storage.Backend)

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			if err := cm.Reload(); err != nil {
				log.Error("certificate reload failed; keeping the previous certificates", "err", err)
			} else {
				log.Info("certificates reloaded")
			}
			dt.reload() // trust circles (direct.go)
			continue
		case <-ctx.Done():
		}
		break
	}
	stopControl() // no administration while sessions end and the store closes
	log.Info("shutting down: closing client sessions")
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.Fire(router.EvStopping, &router.Event{Ctx: sctx}) // while streams still carry what the modules say (rooms: 332)
	cs.Shutdown(sctx)
	stopS2S(sctx) // after c2s: stanzas the sessions sent last still go out
	if err := r.Sync(sctx); err != nil {
		log.Error("archive writes not finished at shutdown", "err", err)
	}
	if hs != nil {
		_ = hs.Shutdown(sctx)
	}
	log.Info("stopped")
	return nil
}

func contacts(cfg *config.Config) map[string]map[string][]string {
	out := map[string]map[string][]string{}
	for _, d := range cfg.Domains {
		if len(d.Contacts) > 0 {
			out[d.Name] = d.Contacts
		}
	}
	return out
}

// SealingKey is what Direct private keys are sealed with at rest: the key
// [keys] names (a file or an environment variable), else the server's
// secret (<data_dir>/secret, created if missing). The CLI seals and opens
// with it as the server does.
func SealingKey(cfg *config.Config) ([]byte, error) {
	k, err := cfg.SealingKey()
	if err != nil || k != nil {
		return k, err
	}
	return loadSecret(filepath.Join(cfg.DataDir, "secret"))
}

// loadSecret reads or creates the per-server secret (SCRAM fake salts for
// unknown users must not change across restarts).
func loadSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("cannot read %s: %w", path, err)
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		return nil, fmt.Errorf("cannot write %s: %w (is the data directory writable?)", path, err)
	}
	return b, nil
}

var allMechanisms = []string{sasl.ScramSHA512Plus, sasl.ScramSHA256Plus, sasl.ScramSHA1Plus, sasl.ScramSHA512, sasl.ScramSHA256, sasl.ScramSHA1, sasl.Plain}
