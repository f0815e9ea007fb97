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

// mamResult is the outcome of the mam command.
type mamResult struct {
	Command      string    `json:"command"`
	Server       string    `json:"server"`
	Readers      int       `json:"readers"`
	Filled       int       `json:"filled_per_reader"`
	Page         int       `json:"page"`
	Seconds      float64   `json:"seconds"`
	Pages        int64     `json:"pages"`
	Results      int64     `json:"results"`
	ResultsPerS  float64   `json:"results_per_sec"`
	PageLatency  latencyMS `json:"page_latency"`
	ServerCPUPct float64   `json:"server_cpu_pct"`
	PerServerCPU float64   `json:"results_per_server_cpu_sec,omitempty"`
	FirstError   string    `json:"first_error,omitempty"`
}

const nsMAM, nsRSM = "urn:xmpp:mam:2", "http://jabber.org/protocol/rsm"

// runMAM measures archive paging (XEP-0313): R readers PREFIX0..R-1 each
// get -fill messages from PREFIX(R+i) (skipped with -fill 0: the archives
// are there already), then all page their whole archives at once, -page
// results a query, each next page after the last id.
func runMAM(ctx context.Context, args []string) (any, error) {
	var g globalFlags
	fs := newFlagSet("mam", "Message archive paging (XEP-0313): R readers (PREFIX0..R-1) each receive -fill messages from\n"+
		"PREFIX(R+i), then all page their whole archives at once, -page results per query, each next\n"+
		"page after the last one's id (RSM after), until <fin complete='true'/>. Reports results/s and\n"+
		"the latency of a page (query sent to <fin/>).", &g)
	readers := fs.Int("readers", 10, "users paging their archives at once (users PREFIX0..2R-1 must exist)")
	fill := fs.Int("fill", 2000, "messages each reader gets first (0: page what the archives hold)")
	page := fs.Int("page", 250, "results per query (RSM max)")
	rounds := fs.Int("rounds", 3, "times each reader pages its whole archive")
	if err := parse(fs, &g, args); err != nil {
		return nil, err
	}
	if *readers <= 0 || *fill < 0 || *page <= 0 || *rounds <= 0 {
		return nil, errors.New("need -readers > 0, -fill >= 0, -page > 0, -rounds > 0")
	}
	d, err := newDialer(&g)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, g.maxTime)
	defer cancel()
	res := mamResult{Command: "mam", Server: g.server, Readers: *readers, Filled: *fill, Page: *page}
	a := newAuthCache(g.mech)
	conns := make([]*conn, 2**readers)
	defer closeAll(conns)
	for i := range conns {
		c, err := openSession(ctx, d, a, g.user(i), g.password, "mam")
		if err != nil {
			return res, fmt.Errorf("login %s: %w", g.user(i), err)
		}
		conns[i] = c
	}
	if *fill > 0 {
		fmt.Fprintf(os.Stderr, "[mam] filling %d archives with %d messages each\n", *readers, *fill)
		var wg sync.WaitGroup
		errs := make(chan error, 2**readers)
		// The readers read what they are sent meanwhile (a server must not
		// be left with blocked streams), up to the last filled message.
		for i := range *readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := 0; n < *fill; {
					el, err := conns[i].read()
					if err != nil {
						errs <- fmt.Errorf("%s reading the fill: %w", g.user(i), err)
						return
					}
					if el.Name == "message" && strings.HasPrefix(el.ChildText("", "body"), "archived message ") {
						n++
					}
				}
			}()
		}
		for i := range *readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				from, to := conns[*readers+i], escapeText(g.user(i)+"@"+d.domain)
				var b []byte
				for k := range *fill {
					b = append(b[:0], "<message type='chat' to='"...)
					b = append(b, to...)
					b = append(b, "'><body>archived message "...)
					b = strconv.AppendInt(b, int64(k), 10)
					b = append(b, " with some text of a typical length</body></message>"...)
					if err := from.write(b); err != nil {
						errs <- err
						return
					}
				}
				// The ping's answer comes once the archive holds them.
				if _, err := from.iq("get", "", "<ping xmlns='urn:xmpp:ping'/>"); err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return res, fmt.Errorf("fill: %w", err)
		}
	}
	fmt.Fprintf(os.Stderr, "[mam] %d readers paging %d results at a time, %d rounds\n", *readers, *page, *rounds)
	var pages, results atomic.Int64
	lats := make([][]time.Duration, *readers)
	var errOnce sync.Once
	meter := startCPU(g.pid)
	t0 := time.Now()
	var wg sync.WaitGroup
	for i := range *readers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := conns[i]
			for range *rounds {
				after := ""
				for {
					set := "<set xmlns='" + nsRSM + "'><max>" + strconv.Itoa(*page) + "</max>"
					if after != "" {
						set += "<after>" + after + "</after>"
					}
					start := time.Now()
					n, last, complete, err := mamPage(c, set+"</set>")
					if err != nil {
						errOnce.Do(func() { res.FirstError = err.Error() })
						return
					}
					lats[i] = append(lats[i], time.Since(start))
					pages.Add(1)
					results.Add(int64(n))
					if complete || last == "" {
						break
					}
					after = last
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(t0).Seconds()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	res.Seconds, res.Pages, res.Results = round1(el), pages.Load(), results.Load()
	res.ResultsPerS = round1(float64(res.Results) / el)
	res.PageLatency = summarize(all)
	if g.pid > 0 {
		res.ServerCPUPct, _ = meter.percent()
		res.PerServerCPU = perCPU(res.ResultsPerS, res.ServerCPUPct)
	}
	if res.FirstError != "" {
		return res, errors.New(res.FirstError)
	}
	return res, nil
}

// mamPage sends one query and reads its results and <fin/>: how many
// results, the RSM last id, and whether the archive ends there.
func mamPage(c *conn, set string) (n int, last string, complete bool, err error) {
	id := c.nextID()
	if err := c.writeString("<iq type='set' id='" + id + "'><query xmlns='" + nsMAM + "' queryid='" + id + "'>" + set + "</query></iq>"); err != nil {
		return 0, "", false, err
	}
	for {
		el, err := c.read()
		if err != nil {
			return n, "", false, err
		}
		switch {
		case el.Name == "message" && el.Child(nsMAM, "result") != nil:
			n++
		case el.Name == "iq" && el.Attr("id") == id:
			if el.Attr("type") != "result" {
				return n, "", false, &stanzaError{cond: condition(el.Child("", "error")), typ: errType(el)}
			}
			fin := el.Child(nsMAM, "fin")
			if fin == nil {
				return n, "", false, errors.New("MAM result without <fin/>")
			}
			s := fin.Child(nsRSM, "set")
			if s != nil {
				last = s.ChildText(nsRSM, "last")
			}
			return n, last, fin.Attr("complete") == "true", nil
		}
	}
}
