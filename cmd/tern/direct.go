package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/tern-xmpp/tern/internal/ops/control"
)

const directHelp = `Usage: tern direct trust list|show CIRCLE|refresh [BUNDLE]|check PEER-DOMAIN --for LOCAL-DOMAIN [--chain FILE]
        [--config FILE] [--data DIR]

Direct trust (docs/direct-trust.md), asked of the running server through
its control socket (<data_dir>/tern.sock):

  list                    every circle, bundle (source, anchors, last refresh, errors)
                          and Direct domain
  show CIRCLE             the anchors of a circle, with where each came from
  refresh [BUNDLE]        fetch one bundle (or all) now; unchanged content is skipped
  check PEER --for LOCAL [--chain FILE]
                          validate PEER's certificate chain for the Direct domain LOCAL,
                          step by step: circles, validity, SAN, CRL distribution point,
                          path to an anchor, revocation. Without --chain the server
                          connects to PEER's s2s service (static route or SRV), runs TLS
                          as LOCAL and checks the chain PEER's server presents; with
                          --chain, the PEM chain in FILE (leaf first, then intermediates).
`

func cmdDirect(e *env, args []string) int {
	fs := e.flags("direct", directHelp)
	var cf configFlags
	cf.register(fs)
	local := fs.String("for", "", "check: the local Direct domain")
	chainFile := fs.String("chain", "", "check: PEM file of the peer's chain, leaf first")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) < 2 || pos[0] != "trust" {
		return e.usageError(fs, "write tern direct trust list|show|refresh|check")
	}
	op, rest := pos[1], pos[2:]
	req := map[string]string{}
	switch {
	case op == "list" && len(rest) == 0:
	case op == "show" && len(rest) == 1:
		req["circle"] = rest[0]
	case op == "refresh" && len(rest) <= 1:
		if len(rest) == 1 {
			req["bundle"] = rest[0]
		}
	case op == "check" && len(rest) == 1:
		if *local == "" {
			return e.usageError(fs, "check needs --for LOCAL-DOMAIN, the Direct domain whose circles decide")
		}
		req["peer"], req["for"] = rest[0], *local
		if *chainFile != "" {
			b, err := os.ReadFile(*chainFile)
			if err != nil {
				return e.fail("--chain: %v", err)
			}
			req["chain"] = string(b)
		}
	default:
		return e.usageError(fs, "write tern direct trust list, show CIRCLE, refresh [BUNDLE] or check PEER-DOMAIN --for LOCAL-DOMAIN [--chain FILE]")
	}
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	text, err := control.Call(e.ctx, cfg.ControlSocket(), "direct.trust."+op, req)
	if errors.Is(err, control.ErrNotRunning) {
		return e.fail("%v: start the server, or point --config/--data at its data directory (the trust state lives in the running server)", err)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	fmt.Fprintln(e.stdout, text)
	return 0
}
