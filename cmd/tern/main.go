package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

const usage = `tern is an XMPP server.

Usage:
  tern <command> [flags] [arguments]

Commands:
  serve      run the server (zero configuration: domain localhost, data in ./tern-data)
  user       add, delete, list accounts and change passwords
  check      check the configuration, certificates, DNS records, ports and storage
  cert       lab PKI for Direct trust: CA, certificates, revocation, CRLs
  direct     Direct trust of the running server: list, show, refresh circles, check a peer
  unban      lift a running server's refusal of an address or account after failed logins
  config     print an example configuration, or the effective one
  version    print the version, Go version and commit

Run "tern <command> --help" for a command's flags.

Quick start:
  tern serve                      # in one terminal
  tern user add alice@localhost   # in another, then log in with any XMPP client
`

// env is what a command may touch, so tests can run the real CLI.
type env struct {
	ctx    context.Context
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
}

type command struct {
	run     func(e *env, args []string) int
	summary string
}

var commands map[string]command

func init() {
	commands = map[string]command{
		"serve":   {cmdServe, "run the server"},
		"user":    {cmdUser, "manage accounts"},
		"check":   {cmdCheck, "check the setup"},
		"cert":    {cmdCert, "lab PKI"},
		"direct":  {cmdDirect, "Direct trust circles"},
		"unban":   {cmdUnban, "lift a login refusal"},
		"config":  {cmdConfig, "print configuration"},
		"version": {cmdVersion, "print the version"},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without os.Exit: it returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{ctx: ctx, stdin: stdin, stdout: stdout, stderr: stderr}
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		if len(args) > 1 && args[0] == "help" {
			if c, ok := commands[args[1]]; ok {
				return c.run(e, []string{"--help"})
			}
		}
		fmt.Fprint(stdout, usage)
		return 0
	case "-version", "--version":
		return cmdVersion(e, nil)
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "tern: unknown command %q%s\nRun \"tern --help\" for the list of commands.\n", args[0], suggest(args[0]))
		return 2
	}
	return c.run(e, args[1:])
}

func suggest(name string) string {
	var names []string
	for n := range commands {
		if strings.HasPrefix(n, name) || strings.HasPrefix(name, n) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	if len(names) == 0 {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", names[0])
}

// flags makes a FlagSet whose --help prints help to stdout.
func (e *env) flags(name, help string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), help)
		if hasFlags(fs) {
			fmt.Fprintln(fs.Output(), "\nFlags:")
			fs.PrintDefaults()
		}
	}
	return fs
}

func hasFlags(fs *flag.FlagSet) bool {
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n > 0
}

// parse parses flags anywhere among the arguments (`user add alice@d
// --password-file f` works) and returns the positional ones. ok is false
// when the command must stop with code.
func (e *env) parse(fs *flag.FlagSet, args []string) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				fs.SetOutput(e.stdout)
				fs.Usage()
				return nil, 0, false
			}
			fmt.Fprintf(e.stderr, "tern %s: %v\n", fs.Name(), err)
			fs.SetOutput(e.stderr)
			fs.Usage()
			return nil, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		// fs.Parse stops at the first non-flag or after "--".
		if consumedDashDash(args, rest) {
			return append(pos, rest...), 0, true
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func consumedDashDash(args, rest []string) bool {
	i := len(args) - len(rest) - 1
	return i >= 0 && args[i] == "--"
}

// usageError prints msg and the command's usage to stderr and returns 2.
func (e *env) usageError(fs *flag.FlagSet, format string, a ...any) int {
	fmt.Fprintf(e.stderr, "tern %s: %s\n", fs.Name(), fmt.Sprintf(format, a...))
	fs.SetOutput(e.stderr)
	fs.Usage()
	return 2
}

// fail prints an error and returns 1.
func (e *env) fail(format string, a ...any) int {
	fmt.Fprintf(e.stderr, "tern: "+format+"\n", a...)
	return 1
}
