package main

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/BurntSushi/toml"
	"github.com/tern-xmpp/tern/internal/ops/config"
)

const configHelp = `Usage: tern config <example|show> [--config FILE] [--data DIR]

  tern config example > tern.toml   every key with a comment and its default
  tern config show                  the effective configuration, after
                                    defaults, --config and --data, with
                                    the storage.dsn password hidden
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
		io.WriteString(e.stdout, config.ExampleSections())
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

var (
	// password=..., sslpassword=... in a key=value DSN: a quoted value
	// (backslash escapes, maybe unterminated) or a word.
	kvPassword = regexp.MustCompile(`(?i)(\b\w*password\s*=\s*)('(?:[^'\\]|\\.)*(?:'|$)|\S*)`)
	// ?password=... &sslpassword=... in a URL's query.
	queryPassword = regexp.MustCompile(`(?i)([?&][^=&#]*password[^=&#]*=)[^&#]*`)
)

// redactDSN hides the passwords of a PostgreSQL URL or key=value DSN, so
// `config show` output can be pasted into a bug report. It works on the
// text, not a parse: a password with characters a URL does not allow
// (an unescaped '/', '%' or space) must be hidden too. When unsure what
// is a password it hides more.
func redactDSN(dsn string) string {
	scheme, rest, isURL := strings.Cut(dsn, "://")
	if !isURL {
		return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
	}
	// user:password@ ends at the last '@' of the whole rest: a password
	// may hold '@' and, unescaped, '/' or '?'. (An '@' in the query then
	// hides more than the password.)
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if user, _, hasPassword := strings.Cut(rest[:at], ":"); hasPassword {
			rest = user + ":xxxxx" + rest[at:]
		}
	}
	return scheme + "://" + queryPassword.ReplaceAllString(rest, "${1}xxxxx")
}
