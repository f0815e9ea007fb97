package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

type registerResult struct {
	Command    string  `json:"command"`
	Server     string  `json:"server"`
	N          int     `json:"n"`
	Created    int64   `json:"created"`
	Existed    int64   `json:"existed"`
	Failed     int64   `json:"failed"`
	Retries    int64   `json:"retries"`
	Seconds    float64 `json:"seconds"`
	PerSec     float64 `json:"per_sec"`
	FirstError string  `json:"first_error,omitempty"`
}

// throttled reports whether a registration error means "slow down" rather
// than "no": ejabberd's registration_timeout answers resource-constraint,
// Prosody's throttle policy-violation (both type='wait' per RFC 6120 §8.3.2).
func throttled(err error) bool {
	var se *stanzaError
	if !errors.As(err, &se) {
		return false
	}
	return se.typ == "wait" || se.cond == "resource-constraint" || se.cond == "policy-violation"
}

func runRegister(ctx context.Context, args []string) (any, error) {
	var g globalFlags
	fs := newFlagSet("register", "Creates users PREFIX0..N-1 via in-band registration (XEP-0077) over STARTTLS;\n"+
		"an existing user (conflict) counts as success.", &g)
	n := fs.Int("n", 100, "number of users")
	conc := fs.Int("c", 16, "concurrent connections")
	perConn := fs.Int("per-conn", 25, "registrations per connection before reconnecting (1 = one stream per user)")
	rate := fs.Float64("rate", 0, "at most this many registrations/s in total (0 = unpaced)")
	friendly := fs.Bool("ratelimit-friendly", false, "on a 'wait'/resource-constraint/policy-violation error, back off, reconnect\n(next -sources address) and retry instead of failing; combine with -rate to pace")
	if err := parse(fs, &g, args); err != nil {
		return nil, err
	}
	if *n <= 0 || *conc <= 0 || *perConn <= 0 {
		return nil, errors.New("-n, -c and -per-conn must be > 0")
	}
	d, err := newDialer(&g)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.maxTime)
	defer cancel()

	res := registerResult{Command: "register", Server: g.server, N: *n}
	var next, created, existed, failed, retries atomic.Int64
	var errOnce sync.Once
	setErr := func(err error) { errOnce.Do(func() { res.FirstError = err.Error() }) }
	pace := newPacer(*rate)
	start := time.Now()
	stop := progress("register", func(el time.Duration) string {
		done := created.Load() + existed.Load()
		return fmt.Sprintf("created=%d existed=%d failed=%d retries=%d (%.0f/s)",
			created.Load(), existed.Load(), failed.Load(), retries.Load(), float64(done)/el.Seconds())
	})
	var wg sync.WaitGroup
	for w := 0; w < min(*conc, *n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var c *conn
			used := 0
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for {
				i := int(next.Add(1) - 1)
				if i >= *n || ctx.Err() != nil {
					return
				}
				user := g.user(i)
				for attempt := 0; ; attempt++ {
					if ctx.Err() != nil {
						failed.Add(1)
						setErr(ctx.Err())
						return
					}
					if c == nil || used >= *perConn {
						if c != nil {
							c.Close()
						}
						c, used = nil, 0
						nc, err := d.dial(ctx)
						if err != nil {
							if attempt < 3 {
								retries.Add(1)
								time.Sleep(200 * time.Millisecond)
								continue
							}
							failed.Add(1)
							setErr(err)
							break
						}
						c = nc
					}
					pace.wait(ctx)
					used++
					err := c.register(user, g.password)
					switch {
					case err == nil:
						created.Add(1)
					case isConflict(err):
						existed.Add(1)
					case *friendly && throttled(err) && attempt < 20:
						// Back off, and reconnect: with -sources that is a new
						// address, which helps against per-IP limits.
						retries.Add(1)
						c.Close()
						c = nil
						time.Sleep(time.Duration(100<<min(attempt, 5)) * time.Millisecond)
						continue
					default:
						var se *stanzaError
						if !errors.As(err, &se) { // the stream is broken: reconnect and retry
							c.Close()
							c = nil
							if attempt < 3 {
								retries.Add(1)
								continue
							}
						}
						failed.Add(1)
						setErr(fmt.Errorf("%s: %w", user, err))
					}
					break
				}
			}
		}()
	}
	wg.Wait()
	stop()
	el := time.Since(start)
	res.Created, res.Existed, res.Failed, res.Retries = created.Load(), existed.Load(), failed.Load(), retries.Load()
	res.Seconds = round1(el.Seconds())
	res.PerSec = round1(float64(res.Created+res.Existed) / el.Seconds())
	if res.Failed > 0 {
		return res, fmt.Errorf("%d of %d registrations failed, first: %s", res.Failed, *n, res.FirstError)
	}
	return res, nil
}

func isConflict(err error) bool {
	var se *stanzaError
	return errors.As(err, &se) && se.cond == "conflict"
}

// register creates user with password (XEP-0077 §3.1) on a stream that is
// not authenticated.
func (c *conn) register(user, pass string) error {
	// Not checking for the advertised feature: a server that does not
	// offer it answers service-unavailable, which is reported as is.
	_, err := c.iq("set", "", "<query xmlns='"+nsRegister+"'><username>"+escapeText(user)+
		"</username><password>"+escapeText(pass)+"</password></query>")
	return err
}

// pacer spaces events evenly at rate per second across goroutines.
type pacer struct {
	mu       sync.Mutex
	interval time.Duration
	next     time.Time
}

func newPacer(rate float64) *pacer {
	if rate <= 0 {
		return nil
	}
	return &pacer{interval: time.Duration(float64(time.Second) / rate)}
}

func (p *pacer) wait(ctx context.Context) {
	if p == nil {
		return
	}
	p.mu.Lock()
	now := time.Now()
	if p.next.Before(now) {
		p.next = now
	}
	at := p.next
	p.next = p.next.Add(p.interval)
	p.mu.Unlock()
	select {
	case <-time.After(time.Until(at)):
	case <-ctx.Done():
	}
}
