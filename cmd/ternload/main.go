package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

// globalFlags are the flags every subcommand takes.
type globalFlags struct {
	server   string
	domain   string
	prefix   string
	password string
	sources  string
	timeout  time.Duration
	maxTime  time.Duration
	pid      int
	mech     string
	first    int
	cpuprof  string
}

func (g *globalFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&g.server, "server", "127.0.0.2:5222", "server `host:port` (must be in 127.0.0.0/8)")
	fs.StringVar(&g.domain, "domain", "bench.test", "XMPP domain (also the TLS ServerName)")
	fs.StringVar(&g.prefix, "prefix", "load", "user names are PREFIX0, PREFIX1, ...")
	fs.StringVar(&g.password, "password", "ternload-secret", "password of every load user")
	fs.StringVar(&g.sources, "sources", "", "source addresses, e.g. 127.0.0.10-127.0.0.29 or a,b,c (default: kernel's choice)")
	fs.DurationVar(&g.timeout, "timeout", 30*time.Second, "timeout of each protocol step (connect, one read)")
	fs.DurationVar(&g.maxTime, "max-time", 5*time.Minute, "hard bound on the whole run")
	fs.IntVar(&g.pid, "pid", 0, "server PID: its RSS and CPU time are read from /proc (0: don't)")
	fs.StringVar(&g.mech, "mech", "auto", "SASL mechanism: auto (SCRAM-SHA-256 > SCRAM-SHA-1 > PLAIN) or a name")
	fs.IntVar(&g.first, "first", 0, "index of the first user")
	fs.StringVar(&g.cpuprof, "cpuprofile", "", "write this tool's CPU profile to `file` (is the load generator the bottleneck?)")
}

func (g *globalFlags) user(i int) string { return g.prefix + strconv.Itoa(g.first+i) }

type command struct {
	name, summary string
	run           func(ctx context.Context, args []string) (any, error)
}

var commands = []command{
	{"register", "create users PREFIX0..N-1 by in-band registration (XEP-0077)", runRegister},
	{"sessions", "hold N idle authenticated sessions and report server KB per session", runSessions},
	{"logins", "full logins (TCP, STARTTLS, SCRAM, bind, close): logins/s and latency", runLogins},
	{"messages", "one-to-one chat between P pairs: throughput and one-way latency", runMessages},
	{"mam", "message archive paging (XEP-0313): results/s and page latency", runMAM},
	{"muc", "group chat fan-out (XEP-0045): deliveries/s, latency, CPU per delivery", runMUC},
}

func usage() {
	fmt.Fprintf(os.Stderr, "usage: ternload <command> [flags]   (ternload <command> --help for its flags)\n\n")
	for _, c := range commands {
		fmt.Fprintf(os.Stderr, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintf(os.Stderr, "\nProgress goes to stderr every second; the result is one JSON line on stdout.\n")
}

func main() {
	if len(os.Args) < 2 || os.Args[1] == "-h" || os.Args[1] == "--help" || os.Args[1] == "help" {
		usage()
		os.Exit(2)
	}
	for _, c := range commands {
		if c.name != os.Args[1] {
			continue
		}
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		res, err := c.run(ctx, os.Args[2:])
		stop()
		stopProfile()
		if res != nil { // also on failure, so scripts see the partial counts
			out, _ := json.Marshal(res)
			fmt.Println(string(out))
		}
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "ternload %s: %v\n", c.name, err)
			os.Exit(1)
		}
		return
	}
	fmt.Fprintf(os.Stderr, "ternload: unknown command %q\n\n", os.Args[1])
	usage()
	os.Exit(2)
}

// newFlagSet returns a FlagSet whose --help describes the subcommand.
func newFlagSet(name, summary string, g *globalFlags) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	g.register(fs)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "usage: ternload %s [flags]\n%s\n\n", name, summary)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args and checks the loopback-only rule.
func parse(fs *flag.FlagSet, g *globalFlags, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if err := checkLoopback(g.server); err != nil {
		return err
	}
	if g.cpuprof != "" {
		f, err := os.Create(g.cpuprof)
		if err != nil {
			return err
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		stopProfile = func() { pprof.StopCPUProfile(); _ = f.Close() }
	}
	return nil
}

// stopProfile ends a -cpuprofile; main calls it before exiting.
var stopProfile = func() {}

// progress prints one line per second on stderr until stop is called.
func progress(name string, line func(elapsed time.Duration) string) (stop func()) {
	start := time.Now()
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				el := time.Since(start)
				fmt.Fprintf(os.Stderr, "[%s %5.1fs] %s\n", name, el.Seconds(), line(el))
			}
		}
	}()
	var once atomic.Bool
	return func() {
		if !once.Swap(true) {
			close(done)
			<-finished
		}
	}
}
