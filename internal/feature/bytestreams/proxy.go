package bytestreams

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// proxy is the SOCKS5 side: the listener, the connections waiting for
// activation (by DST.ADDR hash) and the relays.
type proxy struct {
	cfg   Config
	log   *slog.Logger
	creds *creds
	tls   *tls.Config // nil: plain TCP
	m     *metrics

	ln     net.Listener
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	conns    map[net.Conn]struct{}
	perIP    map[string]int
	perUser  map[string]int
	pending  map[string]*slot // by hash, until activated
	npending int
	buckets  map[string]*bucket
}

// slot is one XEP-0065 bytestream: the target's connection, then the
// requester's, both with the same DST.ADDR hash; relayed once activated.
type slot struct {
	hash      string
	conns     []*pconn
	activated chan struct{}
	over      chan struct{} // closed when both directions have ended
	done      bool          // activated (under proxy.mu)
	bytes     atomic.Int64  // relayed so far, both ways
	ending    atomic.Int32  // directions finished
	cut       atomic.Bool
}

type pconn struct {
	net.Conn
	owner string // rate-limit key: the credential's owner, or ip: without credentials
}

// errAlone: activate with only one party connected (XEP-0065 §6.3.5 not-allowed).
var (
	errNoStream = errors.New("no bytestream waits for this sid, requester and target: both parties connect first, and only the requester activates")
	errAlone    = errors.New("only one party is connected to the proxy: the bytestream needs both the target and the requester")
	errActive   = errors.New("the bytestream is activated already")
)

type metrics struct {
	bytes     prometheus.Counter
	transfers *prometheus.CounterVec
	refused   *prometheus.CounterVec
	active    prometheus.Gauge
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		bytes: prometheus.NewCounter(prometheus.CounterOpts{Name: "tern_bytestreams_bytes_total",
			Help: "Bytes relayed by the SOCKS5 bytestream proxy (XEP-0065), both directions."}),
		transfers: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_bytestreams_transfers_total",
			Help: "Bytestreams relayed by the proxy, by how they ended (done, cut at max_bytes, stopped)."}, []string{"result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "tern_bytestreams_refused_total",
			Help: "Proxy connections refused, by stage (limit, tls, greeting, auth, request, pending, activation)."}, []string{"stage"}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "tern_bytestreams_active",
			Help: "Bytestreams being relayed now."}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.bytes, m.transfers, m.refused, m.active} {
			if err := reg.Register(c); err != nil {
				var are prometheus.AlreadyRegisteredError
				if !errors.As(err, &are) {
					panic(err)
				}
			}
		}
	}
	return m
}

func newProxy(cfg Config, log *slog.Logger, cr *creds, tlsConf *tls.Config, m *metrics) *proxy {
	ctx, cancel := context.WithCancel(context.Background())
	return &proxy{cfg: cfg, log: log, creds: cr, tls: tlsConf, m: m, ctx: ctx, cancel: cancel,
		conns: map[net.Conn]struct{}{}, perIP: map[string]int{}, perUser: map[string]int{},
		pending: map[string]*slot{}, buckets: map[string]*bucket{}}
}

// serve accepts on ln until close.
func (p *proxy) serve(ln net.Listener) {
	p.ln = ln
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		var backoff time.Duration
		for {
			c, err := ln.Accept()
			if err != nil {
				if p.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
					return
				}
				// EMFILE and the like: wait a little, keep serving.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				p.log.Warn("proxy accept failed", "err", err, "retry_in", backoff)
				select {
				case <-time.After(backoff):
				case <-p.ctx.Done():
					return
				}
				continue
			}
			backoff = 0
			p.wg.Add(1)
			go func() {
				defer p.wg.Done()
				p.handle(c)
			}()
		}
	}()
}

// close stops accepting, ends every connection and relay, and waits.
func (p *proxy) close() {
	p.cancel()
	if p.ln != nil {
		p.ln.Close()
	}
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *proxy) refuse(stage string, remote string, problem string) {
	p.m.refused.WithLabelValues(stage).Inc()
	p.log.Info("proxy connection refused", "stage", stage, "remote", remote, "problem", problem)
}

// track counts c against its IP; false when the IP has too many.
func (p *proxy) track(c net.Conn, ip string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ctx.Err() != nil {
		return false
	}
	if p.cfg.ConnsPerIP > 0 && p.perIP[ip] >= p.cfg.ConnsPerIP {
		return false
	}
	p.perIP[ip]++
	p.conns[c] = struct{}{}
	return true
}

func (p *proxy) untrack(c net.Conn, ip string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	delete(p.conns, c)
	if p.perIP[ip]--; p.perIP[ip] <= 0 {
		delete(p.perIP, ip)
	}
}

func (p *proxy) handle(raw net.Conn) {
	remote := raw.RemoteAddr().String()
	ip, _, _ := net.SplitHostPort(remote)
	if !p.track(raw, ip) {
		raw.Close()
		p.refuse("limit", remote, "too many connections from this address (conns_per_ip)")
		return
	}
	defer p.untrack(raw, ip)
	defer raw.Close()
	var conn net.Conn = raw
	// One deadline for TLS and SOCKS5 together: a client that stalls
	// (slowloris) holds only its own goroutine, and not for long.
	raw.SetDeadline(time.Now().Add(p.cfg.handshakeTimeout()))
	if p.tls != nil {
		tc := tls.Server(raw, p.tls)
		if err := tc.HandshakeContext(p.ctx); err != nil {
			p.refuse("tls", remote, "TLS handshake failed: "+err.Error())
			return
		}
		conn = tc
	}
	var auth authFunc
	if p.cfg.Credentials {
		auth = func(user, pass string) (string, string) {
			owner, problem := p.creds.use(user, pass)
			return owner, string(problem)
		}
	}
	req, err := serverHandshake(conn, auth)
	if err != nil {
		var he *handshakeError
		if errors.As(err, &he) {
			p.refuse(he.Stage, remote, he.Problem)
		}
		return
	}
	owner := req.owner
	if owner == "" {
		owner = "ip:" + ip
	}
	pc := &pconn{Conn: conn, owner: owner}
	sl, problem := p.join(pc, req.hash)
	if problem != "" {
		writeReply(conn, repNotAllowed, "")
		p.refuse("pending", remote, problem)
		return
	}
	defer p.leaveUser(owner)
	if err := writeReply(conn, repSucceeded, req.hash); err != nil {
		p.drop(sl, pc)
		return
	}
	raw.SetDeadline(time.Time{})
	p.log.Debug("proxy connection waits for activation", "remote", remote, "user", owner, "hash", req.hash)
	t := time.NewTimer(p.cfg.activationTimeout())
	defer t.Stop()
	select {
	case <-sl.activated:
	case <-t.C:
		if p.drop(sl, pc) {
			p.refuse("activation", remote, "not activated in time (activation_seconds): the requester sends <activate/> once both parties are connected")
			return
		}
		<-sl.activated // activated just now
	case <-p.ctx.Done():
		if p.drop(sl, pc) {
			return
		}
	}
	// Each connection's goroutine relays what its client sends to the
	// other; the last direction to end closes both.
	peer := sl.conns[0]
	if peer == pc {
		peer = sl.conns[1]
	}
	p.pipe(sl, peer, pc)
}

// join adds pc to the bytestream of hash, creating it; a problem when the
// limits say no or the bytestream is full.
func (p *proxy) join(pc *pconn, hash string) (*slot, string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cfg.ConnsPerUser > 0 && p.perUser[pc.owner] >= p.cfg.ConnsPerUser {
		return nil, "too many proxy connections for user " + pc.owner + " (conns_per_user)"
	}
	if p.cfg.MaxPending > 0 && p.npending >= p.cfg.MaxPending {
		return nil, "too many connections wait for activation on this proxy (max_pending)"
	}
	sl := p.pending[hash]
	if sl == nil {
		sl = &slot{hash: hash, activated: make(chan struct{}), over: make(chan struct{})}
		p.pending[hash] = sl
	}
	if len(sl.conns) >= 2 {
		return nil, "two connections use this hash already: a bytestream has one target and one requester"
	}
	sl.conns = append(sl.conns, pc)
	p.npending++
	p.perUser[pc.owner]++
	return sl, ""
}

func (p *proxy) leaveUser(owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.perUser[owner]--; p.perUser[owner] <= 0 {
		delete(p.perUser, owner)
	}
}

// drop takes pc out of its waiting bytestream; false when the bytestream
// was activated meanwhile (then pc is relayed).
func (p *proxy) drop(sl *slot, pc *pconn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if sl.done {
		return false
	}
	for i, c := range sl.conns {
		if c == pc {
			sl.conns = append(sl.conns[:i:i], sl.conns[i+1:]...)
			p.npending--
			break
		}
	}
	if len(sl.conns) == 0 && p.pending[sl.hash] == sl {
		delete(p.pending, sl.hash)
	}
	return true
}

// activate starts the relay of the bytestream of hash (XEP-0065 §6.3.5).
func (p *proxy) activate(hash string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	sl := p.pending[hash]
	switch {
	case sl == nil:
		return errNoStream
	case sl.done:
		return errActive
	case len(sl.conns) < 2:
		return errAlone
	}
	sl.done = true
	delete(p.pending, hash)
	p.npending -= len(sl.conns)
	p.m.active.Inc()
	close(sl.activated)
	return nil
}

// bufPool holds the relay buffers: 32 KiB, two TLS records.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// pipe copies what src's client sends to dst, within the bytestream's
// byte limit and src's owner's rate.
func (p *proxy) pipe(sl *slot, dst, src *pconn) {
	bk := p.bucketOf(src.owner)
	defer p.releaseBucket(src.owner)
	bp := bufPool.Get().(*[]byte)
	defer bufPool.Put(bp)
	buf := *bp
	idle := p.cfg.idleTimeout()
	clean := false // src's client ended its side (EOF): dst is half-closed
	for {
		if idle > 0 {
			src.SetReadDeadline(time.Now().Add(idle))
		}
		n, err := src.Read(buf)
		if n > 0 {
			total := sl.bytes.Add(int64(n))
			if p.cfg.MaxBytes > 0 && total > int64(p.cfg.MaxBytes) {
				if sl.cut.CompareAndSwap(false, true) {
					p.log.Info("proxy transfer cut: larger than max_bytes", "hash", sl.hash, "user", src.owner, "max_bytes", p.cfg.MaxBytes)
				}
				break
			}
			if !bk.wait(p.ctx, n) {
				break
			}
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
			p.m.bytes.Add(float64(n))
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				closeWrite(dst.Conn) // the other direction may go on
				clean = true
			}
			break
		}
	}
	if !clean {
		// Cut, stopped, idle or broken: the other direction ends too.
		src.Close()
		dst.Close()
	}
	if sl.ending.Add(1) < 2 {
		// The other direction may still write to src: its connection stays
		// open (the caller closes it on return) until that one ends too.
		<-sl.over
		return
	}
	src.Close()
	dst.Close()
	close(sl.over)
	result := "done"
	if sl.cut.Load() {
		result = "cut"
	} else if p.ctx.Err() != nil {
		result = "stopped"
	}
	p.m.active.Dec()
	p.m.transfers.WithLabelValues(result).Inc()
	p.log.Debug("proxy transfer ended", "hash", sl.hash, "bytes", sl.bytes.Load(), "result", result)
}

func closeWrite(c net.Conn) {
	switch c := c.(type) {
	case *tls.Conn:
		c.CloseWrite()
	case interface{ CloseWrite() error }:
		c.CloseWrite()
	}
}

func (p *proxy) bucketOf(owner string) *bucket {
	p.mu.Lock()
	defer p.mu.Unlock()
	b := p.buckets[owner]
	if b == nil {
		b = newBucket(p.cfg.Rate)
		p.buckets[owner] = b
	}
	b.refs++
	return b
}

func (p *proxy) releaseBucket(owner string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if b := p.buckets[owner]; b != nil {
		if b.refs--; b.refs <= 0 {
			delete(p.buckets, owner)
		}
	}
}

// bucket is a token bucket of bytes per second, shared by a user's
// transfers; burst one second's worth. refs is under proxy.mu.
type bucket struct {
	rate float64 // bytes per second; 0: unlimited
	refs int

	mu     sync.Mutex
	tokens float64
	last   time.Time
}

func newBucket(rate int) *bucket {
	return &bucket{rate: float64(rate), tokens: float64(rate), last: time.Now()}
}

// wait takes n bytes' tokens, sleeping while the bucket is in debt; false
// when ctx ends first.
func (b *bucket) wait(ctx context.Context, n int) bool {
	if b.rate <= 0 {
		return true
	}
	b.mu.Lock()
	now := time.Now()
	b.tokens = min(b.rate, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	b.tokens -= float64(n)
	debt := b.tokens
	b.mu.Unlock()
	if debt >= 0 {
		return true
	}
	t := time.NewTimer(time.Duration(-debt / b.rate * float64(time.Second)))
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
