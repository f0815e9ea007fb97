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

type sessionsResult struct {
	Command       string  `json:"command"`
	Server        string  `json:"server"`
	Requested     int     `json:"requested"`
	Opened        int64   `json:"opened"`
	Failed        int64   `json:"failed"`
	Mech          string  `json:"mech"`
	OpenSeconds   float64 `json:"open_seconds"`
	OpenPerSec    float64 `json:"open_per_sec"`
	RSSBeforeKB   int64   `json:"server_rss_before_kb"`
	RSSAfterKB    int64   `json:"server_rss_after_kb"`
	KBPerSession  float64 `json:"kb_per_session"`
	RSSStable     bool    `json:"rss_stable"`
	ClientRSSKB   int64   `json:"client_rss_kb"`
	ClientKBPerSn float64 `json:"client_kb_per_session"`
	FirstError    string  `json:"first_error,omitempty"`
}

func runSessions(ctx context.Context, args []string) (any, error) {
	var g globalFlags
	fs := newFlagSet("sessions", "Opens N authenticated sessions (STARTTLS, SASL, bind, roster get, initial presence),\n"+
		"holds them idle until the server's RSS is stable, and reports server KB per session\n"+
		"((RSS after - RSS before) / sessions; RSS = VmRSS summed over -pid and its children).", &g)
	n := fs.Int("n", 1000, "number of sessions (users PREFIX0..N-1 must exist)")
	conc := fs.Int("c", 32, "concurrent logins while opening")
	settle := fs.Duration("settle", 60*time.Second, "give up waiting for a stable RSS after this long")
	hold := fs.Duration("hold", 0, "keep the sessions open this much longer after measuring")
	maxFail := fs.Float64("max-fail", 0.01, "abort when more than this fraction of logins failed")
	if err := parse(fs, &g, args); err != nil {
		return nil, err
	}
	if *n <= 0 || *conc <= 0 {
		return nil, errors.New("-n and -c must be > 0")
	}
	d, err := newDialer(&g)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.maxTime)
	defer cancel()
	res := sessionsResult{Command: "sessions", Server: g.server, Requested: *n}
	// The baseline must not include garbage from a registration burst.
	if g.pid > 0 {
		fmt.Fprintf(os.Stderr, "[sessions] waiting up to %s for a stable server RSS baseline\n", *settle/2)
	}
	before, _, err := waitStable(ctx, g.pid, *settle/2)
	if err != nil {
		return nil, err
	}
	res.RSSBeforeKB = before.RSSKB
	clientBefore := selfRSS()

	a := newAuthCache(g.mech)
	conns := make([]*conn, *n)
	var next, opened, failed atomic.Int64
	var errOnce sync.Once
	setErr := func(err error) { errOnce.Do(func() { res.FirstError = err.Error() }) }
	start := time.Now()
	stop := progress("sessions", func(el time.Duration) string {
		u, _ := readServer(g.pid)
		return fmt.Sprintf("opened=%d failed=%d (%.0f/s) server_rss=%dKB", opened.Load(), failed.Load(),
			float64(opened.Load())/el.Seconds(), u.RSSKB)
	})
	var wg sync.WaitGroup
	for w := 0; w < min(*conc, *n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				c, err := openSession(ctx, d, a, g.user(i), g.password, "s")
				if err != nil {
					setErr(fmt.Errorf("%s: %w", g.user(i), err))
					if f := failed.Add(1); float64(f) > *maxFail*float64(*n) {
						cancel()
					}
					continue
				}
				conns[i] = c
				opened.Add(1)
			}
		}()
	}
	wg.Wait()
	openTime := time.Since(start)
	res.Opened, res.Failed = opened.Load(), failed.Load()
	res.OpenSeconds = round1(openTime.Seconds())
	res.OpenPerSec = round1(float64(res.Opened) / openTime.Seconds())
	for _, c := range conns {
		if c != nil {
			res.Mech = c.mech
			break
		}
	}
	defer closeAll(conns)
	if ctx.Err() != nil {
		stop()
		return res, fmt.Errorf("aborted after %d opened, %d failed: %s", res.Opened, res.Failed, res.FirstError)
	}

	// Wait until RSS changes by < 0.5% (or 256 KB) for 3 s in a row: the
	// server may still be collecting handshakes' garbage or growing caches.
	var after serverUsage
	if g.pid > 0 {
		if after, res.RSSStable, err = waitStable(ctx, g.pid, *settle); err != nil {
			stop()
			return res, err
		}
		res.RSSAfterKB = after.RSSKB
		if res.Opened > 0 {
			res.KBPerSession = round1(float64(after.RSSKB-before.RSSKB) / float64(res.Opened))
		}
	}
	res.ClientRSSKB = selfRSS()
	if res.Opened > 0 {
		res.ClientKBPerSn = round1(float64(res.ClientRSSKB-clientBefore) / float64(res.Opened))
	}
	if *hold > 0 {
		select {
		case <-time.After(*hold):
		case <-ctx.Done():
		}
	}
	stop()
	if res.Failed > 0 {
		return res, fmt.Errorf("%d logins failed, first: %s", res.Failed, res.FirstError)
	}
	return res, nil
}

// openSession logs user in and makes it available, as a client does.
func openSession(ctx context.Context, d *dialer, a *authCache, user, pass, resource string) (*conn, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.login(a, user, pass, resource); err != nil {
		c.Close()
		return nil, err
	}
	if err := c.online(); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// closeAll closes connections a few at a time, so the server's teardown
// does not see one huge burst.
func closeAll(conns []*conn) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range conns {
		if c == nil {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			c.Close()
			<-sem
		}()
	}
	wg.Wait()
}

func selfRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	kb, _ := vmRSSKB(b)
	return kb
}

// waitStable samples the server's RSS every second until it changed by
// less than 0.5% (or 256 KB) three times in a row, or until limit.
func waitStable(ctx context.Context, pid int, limit time.Duration) (serverUsage, bool, error) {
	u, err := readServer(pid)
	if err != nil || pid <= 0 {
		return u, false, err
	}
	deadline := time.Now().Add(limit)
	for steady := 0; time.Now().Before(deadline) && ctx.Err() == nil; {
		time.Sleep(time.Second)
		prev := u.RSSKB
		if u, err = readServer(pid); err != nil {
			return u, false, err
		}
		if diff := abs(u.RSSKB - prev); diff*200 < u.RSSKB || diff < 256 {
			if steady++; steady >= 3 {
				return u, true, nil
			}
		} else {
			steady = 0
		}
	}
	return u, false, nil
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
