package main

import (
	"fmt"
	"net/url"
	"regexp"

	"github.com/BurntSushi/toml"
	"github.com/tern-xmpp/tern/internal/config"
)

const configHelp = `Usage: tern config <example|show> [--config FILE] [--data DIR]

  tern config example > tern.toml   every key with a comment and its default
  tern config show                  the effective configuration, after
                                    defaults, --config and --data
`

func cmdConfig(e *env, args []string) int {
	if len(args) == 0 {
		fmt.Fprint(e.stderr, configHelp)
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(e.stdout, configHelp)
		return 0
	case "example":
		fs := e.flags("config example", configHelp)
		pos, code, ok := e.parse(fs, args[1:])
		if !ok {
			return code
		}
		if len(pos) > 0 {
			return e.usageError(fs, "unexpected argument %q", pos[0])
		}
		e.stdout.Write(config.Example())
		return 0
	case "show":
		fs := e.flags("config show", configHelp)
		var cf configFlags
		cf.register(fs)
		pos, code, ok := e.parse(fs, args[1:])
		if !ok {
			return code
		}
		if len(pos) > 0 {
			return e.usageError(fs, "unexpected argument %q", pos[0])
		}
		cfg, err := cf.load()
		if err != nil {
			return e.fail("%v", err)
		}
		cfg.Storage.DSN = redactDSN(cfg.Storage.DSN)
		if err := toml.NewEncoder(e.stdout).Encode(cfg); err != nil {
			return e.fail("%v", err)
		}
		return 0
	}
	fmt.Fprintf(e.stderr, "tern config: unknown subcommand %q\n%s", args[0], configHelp)
	return 2
}

var dsnPassword = regexp.MustCompile(`(password\s*=\s*)('[^']*'|\S+)`)

// redactDSN hides the password of a PostgreSQL URL or key=value DSN, so
// `config show` output can be pasted into a bug report.
func redactDSN(dsn string) string {
	if u, err := url.Parse(dsn); err == nil && u.Scheme != "" {
		s := u.Redacted()
		if q := u.Query(); q.Has("password") {
			q.Set("password", "xxxxx")
			u.RawQuery = q.Encode()
			s = u.Redacted()
		}
		return s
	}
	return dsnPassword.ReplaceAllString(dsn, "${1}xxxxx")
}
