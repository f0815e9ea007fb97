package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/tern-xmpp/tern/internal/ops/control"
)

const directHelp = `Usage: tern direct trust list|show CIRCLE|refresh [BUNDLE]|check PEER-DOMAIN --for LOCAL-DOMAIN --chain FILE
        [--config FILE] [--data DIR]

Direct trust (docs/direct-trust.md), asked of the running server through
its control socket (<data_dir>/tern.sock):

  list                    every circle, bundle (source, anchors, last refresh, errors)
                          and Direct domain
  show CIRCLE             the anchors of a circle, with where each came from
  refresh [BUNDLE]        fetch one bundle (or all) now; unchanged content is skipped
  check PEER --for LOCAL --chain FILE
                          validate the PEM chain in FILE (the peer's leaf first, then
                          any intermediates) as PEER's certificate for the Direct domain
                          LOCAL, step by step: circles, validity, SAN, CRL distribution
                          point, path to an anchor, revocation. (--chain is required:
                          tern does not yet dial the peer to capture its chain; get it
                          with: openssl s_client -connect HOST:5269 -starttls xmpp-server
                          -xmpphost PEER -showcerts)
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
		if *chainFile == "" {
			return e.usageError(fs, "check needs --chain FILE, the peer's PEM chain (see --help for openssl s_client)")
		}
		b, err := os.ReadFile(*chainFile)
		if err != nil {
			return e.fail("--chain: %v", err)
		}
		req["peer"], req["for"], req["chain"] = rest[0], *local, string(b)
	default:
		return e.usageError(fs, "write tern direct trust list, show CIRCLE, refresh [BUNDLE] or check PEER-DOMAIN --for LOCAL-DOMAIN --chain FILE")
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
