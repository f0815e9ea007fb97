package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

type messagesResult struct {
	Command      string    `json:"command"`
	Server       string    `json:"server"`
	Pairs        int       `json:"pairs"`
	Mode         string    `json:"mode"` // "open-loop" or "closed-loop"
	TargetRate   float64   `json:"target_rate"`
	Window       int       `json:"window,omitempty"`
	SM           bool      `json:"sm,omitempty"` // XEP-0198 enabled on every session
	Seconds      float64   `json:"seconds"`
	Sent         int64     `json:"sent"`
	Received     int64     `json:"received"`
	Lost         int64     `json:"lost"`
	Reordered    int64     `json:"reordered"`
	Errors       int64     `json:"errors"`
	SentPerSec   float64   `json:"sent_per_sec"`
	RecvPerSec   float64   `json:"recv_per_sec"`
	Latency      latencyMS `json:"latency"`
	ServerCPUPct float64   `json:"server_cpu_pct"`
	ClientCPUPct float64   `json:"client_cpu_pct"`
	PerServerCPU float64   `json:"msgs_per_server_cpu_sec,omitempty"` // load-independent: msgs/s at 100% of one core
	FirstError   string    `json:"first_error,omitempty"`
}

// clock is this process's monotonic clock in nanoseconds: senders and
// receivers share it, so latency is one-way and needs no clock sync.
var clockBase = time.Now()

func clock() int64 { return int64(time.Since(clockBase)) }

// appendBody writes the message body "SEQ TS" (TS = clock() of the intended
// send time) plus pad filler bytes.
func appendBody(b []byte, seq, ts int64, pad int) []byte {
	b = strconv.AppendInt(b, seq, 10)
	b = append(b, ' ')
	b = strconv.AppendInt(b, ts, 10)
	if pad > 0 {
		b = append(b, ' ')
		for range pad {
			b = append(b, 'x')
		}
	}
	return b
}

// parseBody is appendBody's inverse.
func parseBody(s string) (seq, ts int64, ok bool) {
	a, rest, found := strings.Cut(s, " ")
	if !found {
		return 0, 0, false
	}
	t, _, _ := strings.Cut(rest, " ")
	seq, err1 := strconv.ParseInt(a, 10, 64)
	ts, err2 := strconv.ParseInt(t, 10, 64)
	if err1 != nil || err2 != nil || seq < 0 || ts < 0 {
		return 0, 0, false
	}
	return seq, ts, true
}

// pair is one sender and its receiver.
type pair struct {
	from, to *conn
	toBare   string // XML-escaped, ready to paste into the stanza
	sent     atomic.Int64
	recv     atomic.Int64
	window   chan struct{} // closed loop: one token per message in flight
	lat      []time.Duration
	latFrom  int64 // clock() before which sends are warm-up: not in lat
	expect   int64
	reorder  int64
}

func runMessages(ctx context.Context, args []string) (any, error) {
	var g globalFlags
	fs := newFlagSet("messages", "P pairs of online users (sender PREFIXi -> receiver PREFIX(P+i)) exchange type=chat\n"+
		"messages. -rate R > 0: open loop, senders keep an aggregate R msgs/s whatever the server does and\n"+
		"each body carries the intended send time, so queueing shows up in the latency. -rate 0: closed\n"+
		"loop, each sender keeps -window messages in flight, to find the maximum throughput.", &g)
	pairs := fs.Int("pairs", 100, "sender/receiver pairs (users PREFIX0..2P-1 must exist)")
	rate := fs.Float64("rate", 10000, "aggregate messages/s; 0 = as fast as possible with -window")
	window := fs.Int("window", 16, "closed loop (-rate 0): messages in flight per sender")
	dur := fs.Duration("duration", 15*time.Second, "sending time")
	drain := fs.Duration("drain", 5*time.Second, "after sending, wait at most this long for the rest to arrive")
	pad := fs.Int("pad", 40, "extra body bytes (a typical chat line is 30-100 bytes)")
	conc := fs.Int("c", 16, "concurrent logins while setting up")
	warm := fs.Duration("warmup", 0, "leave messages sent in the first part of the run out of the latency figures")
	toServer := fs.String("to-server", "", "receivers log in to this server instead (federation: senders on -server,\nreceivers on another server that federates with it)")
	toDomain := fs.String("to-domain", "", "the receivers' domain, with -to-server")
	sm := fs.Bool("sm", false, "enable stream management (XEP-0198) on every session and answer the server's\nack requests, as modern clients do")
	if err := parse(fs, &g, args); err != nil {
		return nil, err
	}
	if (*toServer == "") != (*toDomain == "") {
		return nil, errors.New("-to-server and -to-domain go together")
	}
	if *pairs <= 0 || *rate < 0 || *window <= 0 || *dur <= 0 || *pad < 0 || *pad > 100000 {
		return nil, errors.New("need -pairs > 0, -rate >= 0, -window > 0, -duration > 0, 0 <= -pad <= 100000")
	}
	d, err := newDialer(&g)
	if err != nil {
		return nil, err
	}
	dTo := d // where receivers log in
	if *toServer != "" {
		if err := checkLoopback(*toServer); err != nil {
			return nil, err
		}
		dd := *d
		dd.server, dd.domain = *toServer, *toDomain
		dd.tlsConf = d.tlsConf.Clone()
		dd.tlsConf.ServerName = *toDomain
		dTo = &dd
	}
	ctx, cancel := context.WithTimeout(ctx, g.maxTime)
	defer cancel()
	res := messagesResult{Command: "messages", Server: g.server, Pairs: *pairs, TargetRate: *rate, Mode: "open-loop", SM: *sm}
	if *rate == 0 {
		res.Mode, res.Window = "closed-loop", *window
	}
	var errOnce sync.Once
	setErr := func(err error) { errOnce.Do(func() { res.FirstError = err.Error() }) }

	// Log everyone in: receivers first, so they are online before the
	// first message (a message to an offline user would go to storage).
	ps := make([]*pair, *pairs)
	conns := make([]*conn, 2**pairs)
	a := newAuthCache(g.mech)
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	order := func(k int) int { // receivers P..2P-1 first, then senders
		if k < *pairs {
			return *pairs + k
		}
		return k - *pairs
	}
	for w := 0; w < min(*conc, 2**pairs); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1) - 1)
				if k >= 2**pairs || ctx.Err() != nil {
					return
				}
				i := order(k)
				dd := d
				if i >= *pairs {
					dd = dTo
				}
				c, err := openSession(ctx, dd, a, g.user(i), g.password, "m")
				if err == nil && *sm {
					if err = c.enableSM(); err != nil {
						c.Close()
					}
				}
				if err != nil {
					setErr(fmt.Errorf("login %s: %w", g.user(i), err))
					failed.Add(1)
					cancel()
					return
				}
				conns[i] = c
			}
		}()
	}
	wg.Wait()
	defer closeAll(conns)
	if failed.Load() > 0 || ctx.Err() != nil {
		return res, fmt.Errorf("setup failed: %s", res.FirstError)
	}
	for i := range ps {
		p := &pair{from: conns[i], to: conns[*pairs+i], toBare: escapeText(g.user(*pairs+i) + "@" + dTo.domain)}
		if *rate == 0 {
			p.window = make(chan struct{}, *window)
		}
		ps[i] = p
	}
	fmt.Fprintf(os.Stderr, "[messages] %d sessions online, sending for %s\n", 2**pairs, *dur)

	for _, p := range ps {
		p.latFrom = clock() + int64(*warm) // set before the readers start
	}
	var errs atomic.Int64
	// Readers: receivers record latency; senders' own streams are drained
	// so error bounces and pushes never back up the server.
	var rwg sync.WaitGroup
	for _, p := range ps {
		rwg.Add(2)
		go func() { defer rwg.Done(); p.receive(&errs, setErr) }()
		go func() { defer rwg.Done(); p.from.drain(&errs, setErr) }()
	}

	cpu := startCPU(g.pid)
	start := time.Now()
	var lastRecv int64 // only the progress goroutine touches it
	stopProgress := progress("messages", func(el time.Duration) string {
		s, r := sumCounts(ps)
		dr := r - lastRecv
		lastRecv = r
		sc, cc := cpu.percent()
		return fmt.Sprintf("sent=%d recv=%d inflight=%d (%d recv/s now) errors=%d server_cpu=%.0f%% client_cpu=%.0f%%",
			s, r, s-r, dr, errs.Load(), sc, cc)
	})
	sendCtx, stopSend := context.WithTimeout(ctx, *dur)
	var swg sync.WaitGroup
	for _, p := range ps {
		swg.Add(1)
		go func() {
			defer swg.Done()
			var err error
			if *rate > 0 {
				err = p.sendOpen(sendCtx, *rate/float64(*pairs), *pad)
			} else {
				err = p.sendClosed(sendCtx, *pad)
			}
			if err != nil && sendCtx.Err() == nil {
				setErr(fmt.Errorf("send: %w", err))
				errs.Add(1)
			}
		}()
	}
	swg.Wait()
	stopSend()
	sendTime := time.Since(start)
	// Drain: wait until everything sent has arrived, or give up.
	deadline := time.Now().Add(*drain)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if s, r := sumCounts(ps); r >= s {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	res.ServerCPUPct, res.ClientCPUPct = cpu.percent()
	stopProgress()
	// Close the streams to end the readers, then read their results.
	closeAll(conns)
	rwg.Wait()

	var all []time.Duration
	for _, p := range ps {
		res.Sent += p.sent.Load()
		res.Received += p.recv.Load()
		res.Reordered += p.reorder
		all = append(all, p.lat...)
	}
	res.Lost = max(0, res.Sent-res.Received)
	res.Errors = errs.Load()
	res.Seconds = round1(sendTime.Seconds())
	res.SentPerSec = round1(float64(res.Sent) / sendTime.Seconds())
	res.RecvPerSec = round1(float64(res.Received) / sendTime.Seconds())
	res.Latency = summarize(all)
	res.PerServerCPU = perCPU(res.RecvPerSec, res.ServerCPUPct)
	if res.Lost > 0 || res.Errors > 0 {
		return res, fmt.Errorf("%d lost, %d errors (first: %s)", res.Lost, res.Errors, res.FirstError)
	}
	return res, nil
}

func sumCounts(ps []*pair) (sent, recv int64) {
	for _, p := range ps {
		sent += p.sent.Load()
		recv += p.recv.Load()
	}
	return sent, recv
}

// appendMessage appends one chat message stanza; to is already escaped.
func appendMessage(b []byte, to string, seq, ts int64, pad int) []byte {
	b = append(b, "<message type='chat' to='"...)
	b = append(b, to...)
	b = append(b, "' id='m"...)
	b = strconv.AppendInt(b, seq, 36)
	b = append(b, "'><body>"...)
	b = appendBody(b, seq, ts, pad)
	return append(b, "</body></message>"...)
}

// maxBatch bounds how many due messages one write carries.
const maxBatch = 64

// sendOpen sends at rate msgs/s on a fixed schedule: message k is due at
// start + k/rate and carries that time, so a late send (server pushing
// back through TCP) counts against the server, not hidden (no coordinated
// omission). Messages that are due together go out in one write.
func (p *pair) sendOpen(ctx context.Context, rate float64, pad int) error {
	return sendScheduled(ctx, p.from, rate, &p.sent, func(b []byte, seq, ts int64) []byte { return appendMessage(b, p.toBare, seq, ts, pad) })
}

// sendScheduled is sendOpen's schedule for any stanza appendOne makes.
func sendScheduled(ctx context.Context, c *conn, rate float64, sent *atomic.Int64, appendOne func(b []byte, seq, ts int64) []byte) error {
	interval := time.Duration(float64(time.Second) / rate)
	if interval <= 0 {
		interval = 1
	}
	t0 := clock()
	var seq int64
	buf := make([]byte, 0, 4096)
	timer := time.NewTimer(time.Hour) // reused: one wake-up per message at high rates
	defer timer.Stop()
	for ctx.Err() == nil {
		due := t0 + seq*int64(interval)
		now := clock()
		if due > now {
			timer.Reset(time.Duration(due - now))
			select {
			case <-timer.C:
			case <-ctx.Done():
				return nil
			}
			now = clock()
		}
		buf = buf[:0]
		n := int64(0)
		for ; n < maxBatch && t0+(seq+n)*int64(interval) <= now; n++ {
			buf = appendOne(buf, seq+n, t0+(seq+n)*int64(interval))
		}
		if err := c.write(buf); err != nil {
			return err
		}
		seq += n
		sent.Add(n)
	}
	return nil
}

// sendClosed keeps cap(p.window) messages in flight; the receiver frees a
// slot per arrival. The timestamp is the real send time.
func (p *pair) sendClosed(ctx context.Context, pad int) error {
	var seq int64
	buf := make([]byte, 0, 4096)
	for {
		select { // block for at least one slot
		case p.window <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		n := int64(1)
	more:
		for n < maxBatch {
			select {
			case p.window <- struct{}{}:
				n++
			default:
				break more
			}
		}
		buf = buf[:0]
		ts := clock()
		for k := range n {
			buf = appendMessage(buf, p.toBare, seq+k, ts, pad)
		}
		if err := p.from.write(buf); err != nil {
			return err
		}
		seq += n
		p.sent.Add(n)
	}
}

// receive reads the receiver's stream until it closes, recording latency.
func (p *pair) receive(errs *atomic.Int64, setErr func(error)) {
	c := p.to
	for {
		el, err := c.readNoDeadline()
		if err != nil {
			return
		}
		if c.smHandle(el) {
			continue
		}
		switch el.Name {
		case "message":
			if el.Attr("type") == "error" {
				errs.Add(1)
				setErr(fmt.Errorf("message bounced to receiver: %s", condition(el.Child("", "error"))))
				continue
			}
			body := el.ChildText("", "body")
			seq, ts, ok := parseBody(body)
			if !ok {
				continue // not ours (e.g. a server notice)
			}
			if now := clock(); ts >= p.latFrom {
				p.lat = append(p.lat, time.Duration(now-ts))
			}
			if seq < p.expect {
				p.reorder++
			} else {
				p.expect = seq + 1
			}
			p.recv.Add(1)
			if p.window != nil {
				select {
				case <-p.window:
				default:
				}
			}
		case "iq":
			c.answerPing(el)
		}
	}
}

// drain reads a sender's stream, counting bounces.
func (c *conn) drain(errs *atomic.Int64, setErr func(error)) {
	for {
		el, err := c.readNoDeadline()
		if err != nil {
			return
		}
		if c.smHandle(el) {
			continue
		}
		switch {
		case el.Name == "message" && el.Attr("type") == "error":
			errs.Add(1)
			setErr(fmt.Errorf("message bounced to sender: %s", condition(el.Child("", "error"))))
		case el.Name == "iq":
			c.answerPing(el)
		}
	}
}

// answerPing replies to a server's XEP-0199 ping so it never times us out.
func (c *conn) answerPing(el *xml.Element) {
	if el.Attr("type") == "get" && el.Child(nsPing, "ping") != nil {
		_ = c.writeString("<iq type='result' id='" + escapeText(el.Attr("id")) + "' to='" + escapeText(el.Attr("from")) + "'/>")
	}
}
