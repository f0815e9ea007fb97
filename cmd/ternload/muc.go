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
)

// mucResult is the outcome of the muc command.
type mucResult struct {
	Command        string    `json:"command"`
	Server         string    `json:"server"`
	Room           string    `json:"room"`
	Occupants      int       `json:"occupants"`
	Senders        int       `json:"senders"`
	Mode           string    `json:"mode"`
	TargetRate     float64   `json:"target_rate"`
	Window         int       `json:"window,omitempty"`
	Seconds        float64   `json:"seconds"`
	Sent           int64     `json:"sent"`
	Deliveries     int64     `json:"deliveries"`
	Lost           int64     `json:"lost"`
	Errors         int64     `json:"errors"`
	SentPerSec     float64   `json:"sent_per_sec"`
	DeliveriesPerS float64   `json:"deliveries_per_sec"`
	Latency        latencyMS `json:"latency"`
	ServerCPUPct   float64   `json:"server_cpu_pct"`
	ClientCPUPct   float64   `json:"client_cpu_pct"`
	CPUPerDelivery float64   `json:"server_cpu_us_per_delivery,omitempty"`
	KBPerOccupant  float64   `json:"server_kb_per_idle_occupant,omitempty"`
	FirstError     string    `json:"first_error,omitempty"`
}

// occupantConn is one occupant: what it got and how late.
type occupantConn struct {
	c    *conn
	nick string
	got  atomic.Int64
	lat  []time.Duration
}

// runMUC: O occupants in one room, S of them sending groupchat messages;
// every occupant counts what it gets (deliveries) and its latency.
func runMUC(ctx context.Context, args []string) (any, error) {
	var g globalFlags
	fs := newFlagSet("muc", "Group chat (XEP-0045) fan-out: O users (PREFIX0..O-1) join one room, the first creating it\n"+
		"(an instant room); S of them send groupchat messages, which the room sends to every occupant.\n"+
		"-rate R > 0: open loop, R messages/s from all senders together (each body carries its intended\n"+
		"send time); -rate 0: closed loop, each sender keeps -window messages in flight (a message is\n"+
		"done when its sender gets it back). Reports deliveries/s (messages x occupants), latency from\n"+
		"send to each delivery, server CPU per delivery, and server memory per idle occupant.", &g)
	occupants := fs.Int("occupants", 200, "occupants of the room (users PREFIX0..O-1 must exist)")
	senders := fs.Int("senders", 5, "occupants that send")
	room := fs.String("room", "", "the room's JID (default: load@conference.DOMAIN)")
	rate := fs.Float64("rate", 250, "messages/s from all senders together; 0 = as fast as possible with -window")
	window := fs.Int("window", 4, "closed loop (-rate 0): messages in flight per sender")
	dur := fs.Duration("duration", 10*time.Second, "sending time")
	drain := fs.Duration("drain", 5*time.Second, "after sending, wait at most this long for the rest to arrive")
	pad := fs.Int("pad", 40, "extra body bytes")
	conc := fs.Int("c", 16, "concurrent logins while setting up")
	if err := parse(fs, &g, args); err != nil {
		return nil, err
	}
	if *occupants <= 0 || *senders <= 0 || *senders > *occupants || *rate < 0 || *window <= 0 || *dur <= 0 {
		return nil, errors.New("need -occupants > 0, 0 < -senders <= -occupants, -rate >= 0, -window > 0, -duration > 0")
	}
	d, err := newDialer(&g)
	if err != nil {
		return nil, err
	}
	if *room == "" {
		*room = "load@conference." + d.domain
	}
	roomJID := escapeText(*room)
	ctx, cancel := context.WithTimeout(ctx, g.maxTime)
	defer cancel()
	res := mucResult{Command: "muc", Server: g.server, Room: *room, Occupants: *occupants, Senders: *senders, Mode: "open-loop", TargetRate: *rate}
	if *rate == 0 {
		res.Mode, res.Window = "closed-loop", *window
	}
	var errOnce sync.Once
	setErr := func(err error) { errOnce.Do(func() { res.FirstError = err.Error() }) }

	// Log in, then measure the server idle, then join.
	a := newAuthCache(g.mech)
	occ := make([]*occupantConn, *occupants)
	conns := make([]*conn, *occupants)
	defer closeAll(conns)
	err = parallel(ctx, 0, *occupants, *conc, func(i int) error {
		c, err := openSession(ctx, d, a, g.user(i), g.password, "muc")
		if err != nil {
			return fmt.Errorf("login %s: %w", g.user(i), err)
		}
		conns[i], occ[i] = c, &occupantConn{c: c, nick: "o" + strconv.Itoa(i)}
		return nil
	})
	if err != nil {
		setErr(err)
	}
	if err != nil || ctx.Err() != nil {
		return res, fmt.Errorf("setup failed: %s", res.FirstError)
	}
	before, _, _ := waitStable(ctx, g.pid, 20*time.Second)
	fmt.Fprintf(os.Stderr, "[muc] %d sessions online; joining %s\n", *occupants, *room)
	if err := createRoom(occ[0], roomJID); err != nil {
		return res, fmt.Errorf("create %s: %w", *room, err)
	}
	err = parallel(ctx, 1, *occupants, *conc, func(i int) error {
		if err := joinRoom(occ[i], roomJID); err != nil {
			return fmt.Errorf("%s joins: %w", g.user(i), err)
		}
		return nil
	})
	if err != nil {
		setErr(err)
	}
	if err != nil || ctx.Err() != nil {
		return res, fmt.Errorf("join failed: %s", res.FirstError)
	}
	if g.pid > 0 {
		if after, ok, _ := waitStable(ctx, g.pid, 20*time.Second); ok || after.RSSKB > 0 {
			res.KBPerOccupant = round1(float64(after.RSSKB-before.RSSKB) / float64(*occupants))
		}
	}
	fmt.Fprintf(os.Stderr, "[muc] %d occupants in %s; %d senders for %s\n", *occupants, *room, *senders, *dur)

	var errs atomic.Int64
	windows := make([]chan struct{}, *senders)
	for i := range windows {
		windows[i] = make(chan struct{}, *window)
	}
	nickIdx := map[string]int{}
	for i := range *senders {
		nickIdx[*room+"/"+occ[i].nick] = i
	}
	var rwg sync.WaitGroup
	for i, o := range occ {
		rwg.Add(1)
		go func() {
			defer rwg.Done()
			o.receive(i, *senders, nickIdx, windows, *rate == 0, &errs, setErr)
		}()
	}
	cpu := startCPU(g.pid)
	start := time.Now()
	var sent atomic.Int64
	stopProgress := progress("muc", func(time.Duration) string {
		var got int64
		for _, o := range occ {
			got += o.got.Load()
		}
		sc, cc := cpu.percent()
		return fmt.Sprintf("sent=%d deliveries=%d errors=%d server_cpu=%.0f%% client_cpu=%.0f%%", sent.Load(), got, errs.Load(), sc, cc)
	})
	sendCtx, stopSend := context.WithTimeout(ctx, *dur)
	var swg sync.WaitGroup
	for i := range *senders {
		swg.Add(1)
		go func() {
			defer swg.Done()
			var err error
			if *rate > 0 {
				err = sendRoomOpen(sendCtx, occ[i].c, roomJID, *rate/float64(*senders), *pad, &sent)
			} else {
				err = sendRoomClosed(sendCtx, occ[i].c, roomJID, windows[i], *pad, &sent)
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
	want := func() int64 { return sent.Load() * int64(*occupants) }
	deliveries := func() int64 {
		var n int64
		for _, o := range occ {
			n += o.got.Load()
		}
		return n
	}
	for deadline := time.Now().Add(*drain); time.Now().Before(deadline) && ctx.Err() == nil && deliveries() < want(); {
		time.Sleep(10 * time.Millisecond)
	}
	res.ServerCPUPct, res.ClientCPUPct = cpu.percent()
	cpuSec := res.ServerCPUPct / 100 * time.Since(start).Seconds()
	stopProgress()
	closeAll(conns)
	rwg.Wait()
	var all []time.Duration
	for _, o := range occ {
		all = append(all, o.lat...)
	}
	res.Sent, res.Deliveries = sent.Load(), deliveries()
	res.Lost = max(0, want()-res.Deliveries)
	res.Errors = errs.Load()
	res.Seconds = round1(sendTime.Seconds())
	res.SentPerSec = round1(float64(res.Sent) / sendTime.Seconds())
	res.DeliveriesPerS = round1(float64(res.Deliveries) / sendTime.Seconds())
	res.Latency = summarize(all)
	if res.Deliveries > 0 && cpuSec > 0 {
		res.CPUPerDelivery = round1(cpuSec * 1e6 / float64(res.Deliveries))
	}
	if res.Lost > 0 || res.Errors > 0 {
		return res, fmt.Errorf("%d deliveries lost, %d errors (first: %s)", res.Lost, res.Errors, res.FirstError)
	}
	return res, nil
}

// parallel runs fn for i in [from, n), conc at a time, and returns the
// first error (the others stop taking work then).
func parallel(ctx context.Context, from, n, conc int, fn func(i int) error) error {
	var next atomic.Int64
	next.Store(int64(from))
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	stop := make(chan struct{})
	for range max(1, min(conc, n-from)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				if err := fn(i); err != nil {
					once.Do(func() { first = err; close(stop) })
					return
				}
			}
		}()
	}
	wg.Wait()
	return first
}

const nsMUC, nsMUCUser, nsMUCOwner = "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user", "http://jabber.org/protocol/muc#owner"

// createRoom joins first and, if the room is new and locked (status
// 201), accepts the default configuration (an instant room, §10.1.2).
func createRoom(o *occupantConn, room string) error {
	codes, err := o.join(room)
	if err != nil {
		return err
	}
	if strings.Contains(codes, "201") {
		if _, err := o.c.iq("set", room, "<query xmlns='"+nsMUCOwner+"'><x xmlns='jabber:x:data' type='submit'/></query>"); err != nil {
			return fmt.Errorf("instant room: %w", err)
		}
	}
	return nil
}

func joinRoom(o *occupantConn, room string) error {
	_, err := o.join(room)
	return err
}

// join sends the join presence (no history) and reads until the
// occupant's own presence (110), returning its status codes.
func (o *occupantConn) join(room string) (string, error) {
	me := room + "/" + o.nick
	if err := o.c.writeString("<presence to='" + me + "'><x xmlns='" + nsMUC + "'><history maxstanzas='0'/></x></presence>"); err != nil {
		return "", err
	}
	for {
		el, err := o.c.read()
		if err != nil {
			return "", err
		}
		if el.Name != "presence" || el.Attr("from") != me {
			continue
		}
		if el.Attr("type") == "error" {
			return "", &stanzaError{cond: condition(el.Child("", "error")), typ: errType(el)}
		}
		var codes []string
		if x := el.Child(nsMUCUser, "x"); x != nil {
			for _, s := range x.Elements() {
				if s.Name == "status" {
					codes = append(codes, s.Attr("code"))
				}
			}
		}
		if c := strings.Join(codes, ","); strings.Contains(c, "110") {
			return c, nil
		}
	}
}

// receive counts the groupchat messages an occupant gets; a sender's own
// echo frees a slot of its window (closed loop).
func (o *occupantConn) receive(i, senders int, nickIdx map[string]int, windows []chan struct{}, closed bool, errs *atomic.Int64, setErr func(error)) {
	for {
		el, err := o.c.readNoDeadline()
		if err != nil {
			return
		}
		switch el.Name {
		case "message":
			if el.Attr("type") == "error" {
				errs.Add(1)
				setErr(fmt.Errorf("message bounced: %s", condition(el.Child("", "error"))))
				continue
			}
			if el.Attr("type") != "groupchat" {
				continue
			}
			_, ts, ok := parseBody(el.ChildText("", "body"))
			if !ok {
				continue
			}
			o.lat = append(o.lat, time.Duration(clock()-ts))
			o.got.Add(1)
			if closed && i < senders {
				if s, ok := nickIdx[el.Attr("from")]; ok && s == i {
					select {
					case <-windows[i]:
					default:
					}
				}
			}
		case "iq":
			o.c.answerPing(el)
		}
	}
}

func appendGroupchat(b []byte, room string, seq, ts int64, pad int) []byte {
	b = append(b, "<message type='groupchat' to='"...)
	b = append(b, room...)
	b = append(b, "'><body>"...)
	b = appendBody(b, seq, ts, pad)
	return append(b, "</body></message>"...)
}

// sendRoomOpen sends at rate msgs/s on a fixed schedule (see sendOpen).
func sendRoomOpen(ctx context.Context, c *conn, room string, rate float64, pad int, sent *atomic.Int64) error {
	return sendScheduled(ctx, c, rate, sent, func(b []byte, seq, ts int64) []byte { return appendGroupchat(b, room, seq, ts, pad) })
}

// sendRoomClosed keeps cap(window) messages in flight.
func sendRoomClosed(ctx context.Context, c *conn, room string, window chan struct{}, pad int, sent *atomic.Int64) error {
	var seq int64
	buf := make([]byte, 0, 4096)
	for {
		select {
		case window <- struct{}{}:
		case <-ctx.Done():
			return nil
		}
		buf = appendGroupchat(buf[:0], room, seq, clock(), pad)
		if err := c.write(buf); err != nil {
			return err
		}
		seq++
		sent.Add(1)
	}
}
