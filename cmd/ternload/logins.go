package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

type loginsResult struct {
	Command       string    `json:"command"`
	Server        string    `json:"server"`
	N             int       `json:"n"`
	OK            int64     `json:"ok"`
	Failed        int64     `json:"failed"`
	Concurrency   int       `json:"concurrency"`
	Mech          string    `json:"mech"`
	Seconds       float64   `json:"seconds"`
	PerSec        float64   `json:"logins_per_sec"`
	Latency       latencyMS `json:"latency"`
	ServerCPUPct  float64   `json:"server_cpu_pct"`
	ClientCPUPct  float64   `json:"client_cpu_pct"`
	PerServerCPU  float64   `json:"logins_per_server_cpu_sec,omitempty"` // load-independent: logins/s at 100% of one core
	WarmupSeconds float64   `json:"warmup_seconds"`
	FirstError    string    `json:"first_error,omitempty"`
}

func runLogins(ctx context.Context, args []string) (any, error) {
	var g globalFlags
	fs := newFlagSet("logins", "Runs N full logins (TCP connect, STARTTLS, TLS handshake, SASL, bind, close) with C in\n"+
		"parallel over a pool of registered users; reports logins/s and latency (connect to bind result).\n"+
		"A warm-up pass logs every pool user in once first, so the client's PBKDF2 is cached.", &g)
	n := fs.Int("n", 2000, "number of timed logins")
	conc := fs.Int("c", 8, "concurrent logins")
	pool := fs.Int("users", 200, "user pool size: PREFIX0..users-1 (must exist)")
	warm := fs.Bool("warmup", true, "log in each pool user once before timing")
	limit := fs.Duration("duration", 0, "stop the timed pass after this long even if fewer than N logins ran (0 = no limit)")
	trace := fs.Bool("trace", false, "print each timed login's steps on stderr (debugging a slow server)")
	if err := parse(fs, &g, args); err != nil {
		return nil, err
	}
	if *n <= 0 || *conc <= 0 || *pool <= 0 {
		return nil, errors.New("-n, -c and -users must be > 0")
	}
	d, err := newDialer(&g)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.maxTime)
	defer cancel()
	res := loginsResult{Command: "logins", Server: g.server, N: *n, Concurrency: *conc}
	a := newAuthCache(g.mech)
	var errOnce sync.Once
	setErr := func(err error) { errOnce.Do(func() { res.FirstError = err.Error() }) }

	// one login; returns its latency.
	login := func(i int) (time.Duration, string, error) {
		t0 := time.Now()
		c, err := d.dial(ctx)
		if err != nil {
			return 0, "", err
		}
		defer c.Close()
		if err := c.login(a, g.user(i%*pool), g.password, ""); err != nil {
			return 0, "", err
		}
		if d.trace {
			fmt.Fprintf(os.Stderr, "login %s\n", c.traceLine(t0))
		}
		return time.Since(t0), c.mech, nil
	}
	// pass runs count logins with conc workers; lat may be nil.
	var ok, failed atomic.Int64
	var mechOnce sync.Once
	pass := func(ctx context.Context, count int, lat [][]time.Duration) {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < min(*conc, count); w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := int(next.Add(1) - 1)
					if i >= count || ctx.Err() != nil {
						return
					}
					l, mech, err := login(i)
					if err != nil {
						setErr(err)
						if failed.Add(1) > int64(count/100+10) {
							cancel() // something is broken: don't hammer on
						}
						continue
					}
					ok.Add(1)
					mechOnce.Do(func() { res.Mech = mech })
					if lat != nil {
						lat[w] = append(lat[w], l)
					}
				}
			}()
		}
		wg.Wait()
	}
	if *warm {
		t := time.Now()
		stop := progress("logins warmup", func(el time.Duration) string {
			return fmt.Sprintf("ok=%d failed=%d", ok.Load(), failed.Load())
		})
		pass(ctx, min(*pool, *n), nil)
		stop()
		res.WarmupSeconds = round1(time.Since(t).Seconds())
		if failed.Load() > 0 {
			return res, fmt.Errorf("warm-up: %d logins failed, first: %s", failed.Load(), res.FirstError)
		}
		ok.Store(0)
	}
	d.trace = *trace
	lat := make([][]time.Duration, *conc)
	cpu := startCPU(g.pid)
	start := time.Now()
	stop := progress("logins", func(el time.Duration) string {
		s, c := cpu.percent()
		return fmt.Sprintf("ok=%d failed=%d (%.0f/s) server_cpu=%.0f%% client_cpu=%.0f%%",
			ok.Load(), failed.Load(), float64(ok.Load())/el.Seconds(), s, c)
	})
	timed := ctx
	if *limit > 0 {
		var stopTimed context.CancelFunc
		timed, stopTimed = context.WithTimeout(ctx, *limit)
		defer stopTimed()
	}
	pass(timed, *n, lat)
	el := time.Since(start)
	res.ServerCPUPct, res.ClientCPUPct = cpu.percent()
	stop()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	res.OK, res.Failed = ok.Load(), failed.Load()
	res.Seconds = round1(el.Seconds())
	res.PerSec = round1(float64(res.OK) / el.Seconds())
	res.Latency = summarize(all)
	res.PerServerCPU = perCPU(res.PerSec, res.ServerCPUPct)
	if res.Failed > 0 {
		return res, fmt.Errorf("%d logins failed, first: %s", res.Failed, res.FirstError)
	}
	return res, nil
}
