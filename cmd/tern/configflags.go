package main

import (
	"flag"
	"fmt"
	"strings"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

// configFlags are the flags every command reading the configuration takes.
type configFlags struct {
	path string
	data string
}

func (c *configFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.path, "config", "", "TOML configuration `file` (default: built-in defaults, domain localhost)")
	fs.StringVar(&c.data, "data", "", "data `directory`, overriding data_dir (default tern-data)")
}

// load returns the validated configuration, or an error listing every problem.
func (c *configFlags) load() (*config.Config, error) {
	cfg := config.Default()
	if c.path != "" {
		var err error
		if cfg, err = config.Load(c.path); err != nil {
			return nil, err
		}
	}
	if c.data != "" {
		cfg.DataDir = c.data
	}
	if err := cfg.Validate(); err != nil {
		where := "configuration"
		if c.path != "" {
			where = c.path
		}
		return nil, fmt.Errorf("%s is invalid:\n  %s", where, strings.ReplaceAll(err.Error(), "\n", "\n  "))
	}
	return cfg, nil
}

// args renders the flags back, for hints like "tern user add --config f ...".
func (c *configFlags) args() string {
	var s string
	if c.path != "" {
		s += " --config " + quote(c.path)
	}
	if c.data != "" {
		s += " --data " + quote(c.data)
	}
	return s
}

func quote(s string) string {
	if strings.ContainsAny(s, " \t'\"$\\") {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return s
}
