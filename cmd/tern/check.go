package main

import (
	"context"
	"errors"

	"github.com/tern-xmpp/tern/internal/ops/check"
	"github.com/tern-xmpp/tern/internal/ops/config"
)

const checkHelp = `Usage: tern check [--config FILE] [--data DIR] [--no-dns]

Checks the configuration, each domain's certificate (files, key, expiry,
names, trust), the DNS records clients and servers use to find each domain
(SRV _xmpp-client, _xmpps-client, _xmpp-server, _xmpps-server; A/AAAA),
that each listen address is free (or held by a running tern), and that the
storage opens. Prints one line per check and a summary; exits 1 if any
check failed.
`

func cmdCheck(e *env, args []string) int {
	fs := e.flags("check", checkHelp)
	var cf configFlags
	cf.register(fs)
	noDNS := fs.Bool("no-dns", false, "skip the DNS checks (offline machine)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return e.usageError(fs, "unexpected argument %q", pos[0])
	}
	cfg := config.Default()
	if cf.path != "" {
		var err error
		if cfg, err = config.Load(cf.path); err != nil {
			// Syntax, unknown keys, wrong types: one check line each.
			var rs []check.Result
			var fe *config.FileError
			if errors.As(err, &fe) {
				for _, e := range fe.Errs {
					rs = append(rs, check.Result{Severity: check.Error, Check: "config", Message: fe.Path + ": " + e.Error()})
				}
			} else {
				rs = []check.Result{{Severity: check.Error, Check: "config", Message: err.Error()}}
			}
			check.Write(e.stdout, rs)
			return 1
		}
	}
	if cf.data != "" {
		cfg.DataDir = cf.data
	}
	c := &check.Checker{
		SkipDNS: *noDNS,
		OpenStore: func(ctx context.Context, cfg *config.Config) (check.Pinger, error) {
			return openStore(ctx, cfg)
		},
	}
	if errs, _ := check.Write(e.stdout, c.Run(e.ctx, cfg)); errs > 0 {
		return 1
	}
	return 0
}
