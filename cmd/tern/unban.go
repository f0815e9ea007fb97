package main

import (
	"errors"
	"fmt"

	"github.com/tern-xmpp/tern/internal/ops/control"
)

const unbanHelp = `Usage: tern unban ADDRESS|USER@DOMAIN|--all [--config FILE] [--data DIR]

Lifts, at once, the refusal a running server applies after too many failed
logins (limits.auth_failures_per_ip, and the per-account limit) or
in-band registrations (limits.registrations_per_ip) from an IP address,
or after failed logins to an account; --all lifts every one. The counters
live in the server's memory, so this talks to the running server through
its control socket (<data_dir>/tern.sock).

To exempt an address for good (a clinic behind one NAT address), list it
in limits.trusted_networks instead.
`

func cmdUnban(e *env, args []string) int {
	fs := e.flags("unban", unbanHelp)
	var cf configFlags
	cf.register(fs)
	all := fs.Bool("all", false, "lift every address's and account's refusal")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	switch {
	case *all && len(pos) > 0:
		return e.usageError(fs, "give an address or account, or --all, not both")
	case !*all && len(pos) != 1:
		return e.usageError(fs, "give one address or account (e.g. 192.0.2.7 or alice@example.org), or --all")
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	target := ""
	if !*all {
		target = pos[0]
	}
	text, err := control.Call(e.ctx, cfg.ControlSocket(), "unban", map[string]string{"target": target})
	if errors.Is(err, control.ErrNotRunning) {
		return e.fail("%v: start the server, or point --config/--data at its data directory (a stopped server has no refusals to lift)", err)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	fmt.Fprintln(e.stdout, text)
	return 0
}
