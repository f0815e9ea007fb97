package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"time"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

// Severity grades a result.
type Severity int

const (
	OK Severity = iota
	Info
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case OK:
		return "ok"
	case Info:
		return "info"
	case Warning:
		return "warn"
	case Error:
		return "error"
	}
	return fmt.Sprintf("Severity(%d)", int(s))
}

// Result is one line of output.
type Result struct {
	Severity Severity
	Check    string // what was checked: "config", "cert example.org", "dns example.org", ...
	Message  string // what was found and, if not ok, what to do
}

func (r Result) String() string {
	return fmt.Sprintf("%-5s %s: %s", r.Severity, r.Check, r.Message)
}

// Pinger is the part of a storage backend the check needs.
type Pinger interface {
	Ping(ctx context.Context) error
	Close() error
}

// Checker runs the checks. The zero value checks everything with the
// system resolver except storage (OpenStore nil).
type Checker struct {
	// Resolver answers DNS questions; nil means net.DefaultResolver. Tests
	// point it at a local DNS server.
	Resolver *net.Resolver
	// Now is the clock for certificate dates; nil means time.Now.
	Now func() time.Time
	// OpenStore opens the configured storage; nil skips the storage check.
	OpenStore func(ctx context.Context, cfg *config.Config) (Pinger, error)
	// SkipDNS skips the DNS checks (offline machines).
	SkipDNS bool
	// Timeout bounds each network probe; 0 means 3 seconds.
	Timeout time.Duration
}

// Run runs every check on cfg. If the configuration is invalid, only the
// configuration results are returned.
func (c *Checker) Run(ctx context.Context, cfg *config.Config) []Result {
	rs := Config(cfg)
	if Count(rs, Error) > 0 {
		return rs
	}
	rs = append(rs, Certificates(cfg, c.now())...)
	if c.SkipDNS {
		rs = append(rs, Result{Info, "dns", "skipped"})
	} else {
		rs = append(rs, c.DNS(ctx, cfg)...)
	}
	rs = append(rs, c.Control(ctx, cfg)...)
	rs = append(rs, c.Listeners(ctx, cfg)...)
	rs = append(rs, c.S2S(ctx, cfg)...)
	rs = append(rs, c.Trust(ctx, cfg)...)
	rs = append(rs, c.Keys(cfg)...)
	rs = append(rs, c.Storage(ctx, cfg)...)
	return rs
}

func (c *Checker) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Checker) timeout() time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return 3 * time.Second
}

func (c *Checker) resolver() *net.Resolver {
	if c.Resolver != nil {
		return c.Resolver
	}
	return net.DefaultResolver
}

// Config validates cfg: one result per problem, or one ok.
func Config(cfg *config.Config) []Result {
	src := "built-in defaults (no --config)"
	if cfg.Path != "" {
		src = cfg.Path
	}
	err := cfg.Validate()
	if err == nil {
		return []Result{{OK, "config", src + " is valid"}}
	}
	var rs []Result
	for _, line := range splitLines(err.Error()) {
		rs = append(rs, Result{Error, "config", line})
	}
	return rs
}

// Count returns how many results have severity s.
func Count(rs []Result, s Severity) int {
	n := 0
	for _, r := range rs {
		if r.Severity == s {
			n++
		}
	}
	return n
}

// Write prints one line per result and the summary line, and returns the
// number of errors and warnings.
func Write(w io.Writer, rs []Result) (errors, warnings int) {
	for _, r := range rs {
		fmt.Fprintln(w, r)
	}
	errors, warnings = Count(rs, Error), Count(rs, Warning)
	fmt.Fprintf(w, "%s, %s\n", amount(errors, "error"), amount(warnings, "warning"))
	return errors, warnings
}

// amount says n of a unit with the unit in the right number: "1 day",
// "2 days", "0 errors". The units counted here take an "s" in the plural.
func amount(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return fmt.Sprintf("%d %ss", n, unit)
}

func splitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}
