package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/ops/server"
)

const directHelp = `Usage: tern direct trust list|show CIRCLE|refresh [BUNDLE]|check PEER-DOMAIN --for LOCAL-DOMAIN [--chain FILE]
       tern direct discover ADDRESS --for LOCAL-DOMAIN [--purpose encrypt|verify] [--sources LIST] [--dns HOST:PORT] [--json]
       tern direct cert add|list|remove ...   (tern direct cert --help)
       tern direct export-ldif [DOMAIN] [--base DN] [--out FILE]
       tern direct send --from A --to B [FILE...] (tern direct send --help)
       tern direct verify MESSAGE.eml ...     (tern direct verify --help)
       tern direct log [DOMAIN] [--address A] [--verify] ...
       tern direct inbox ADDRESS | show ADDRESS ID | export ADDRESS ID --out DIR
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

Certificate discovery (Direct Applicability Statement §5.3), run by the server:

  discover ADDRESS --for LOCAL
                          find ADDRESS's certificates (by [discovery] order: its own
                          server by peer introduction, DNS CERT at its name then at its
                          domain, LDAP) and say for each whether LOCAL may use it for the
                          purpose (encrypt: the default; verify: a signature) and why:
                          binding (SAN rfc822Name or dNSName), validity, key usage,
                          path to an anchor of LOCAL's circles, revocation. --sources
                          asks only these, in this order (e.g. dns,ldap); --dns asks
                          that resolver instead of the system's; --json for scripts.
                          Exit 0 when a usable certificate was found, 1 when none.
`

func cmdDirect(e *env, args []string) int {
	if len(args) > 0 && args[0] == "cert" {
		return cmdDirectCert(e, args[1:])
	}
	if len(args) > 0 && args[0] == "export-ldif" {
		return cmdExportLDIF(e, args[1:])
	}
	if len(args) > 0 && args[0] == "verify" {
		return cmdDirectVerify(e, args[1:])
	}
	if len(args) > 0 && args[0] == "send" {
		return cmdDirectSend(e, args[1:])
	}
	if len(args) > 0 && args[0] == "log" {
		return cmdDirectLog(e, args[1:])
	}
	if len(args) > 0 && (args[0] == "inbox" || args[0] == "show" || args[0] == "export") {
		return cmdDirectInbox(e, args[0], args[1:])
	}
	fs := e.flags("direct", directHelp)
	var cf configFlags
	cf.register(fs)
	local := fs.String("for", "", "check: the local Direct domain")
	chainFile := fs.String("chain", "", "check: PEM file of the peer's chain, leaf first")
	purpose := fs.String("purpose", "encrypt", "discover: encrypt or verify")
	dnsServer := fs.String("dns", "", "discover: the DNS resolver to ask, HOST:PORT (default: the system's)")
	asJSON := fs.Bool("json", false, "discover: print the report as JSON")
	sources := fs.String("sources", "", "discover: the sources to ask, in order, comma-separated: peer, dns, ldap (default: [discovery] order)")
	pos, code, ok := e.parse(fs, args)
	if !ok {
		return code
	}
	if len(pos) >= 1 && pos[0] == "discover" {
		if len(pos) != 2 || *local == "" {
			return e.usageError(fs, "write tern direct discover ADDRESS --for LOCAL-DOMAIN")
		}
		return directDiscover(e, cf, map[string]string{"address": pos[1], "for": *local, "purpose": *purpose, "dns": *dnsServer, "sources": *sources}, *asJSON)
	}
	if len(pos) < 2 || pos[0] != "trust" {
		return e.usageError(fs, "write tern direct trust list|show|refresh|check, or tern direct discover")
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

// directDiscover asks the running server to discover and prints its report.
func directDiscover(e *env, cf configFlags, req map[string]string, asJSON bool) int {
	cfg, err := cf.load()
	if err != nil {
		return e.fail("%v", err)
	}
	text, err := control.Call(e.ctx, cfg.ControlSocket(), "direct.discover", req)
	if errors.Is(err, control.ErrNotRunning) {
		return e.fail("%v: start the server, or point --config/--data at its data directory (discovery runs in the server, with its trust circles)", err)
	}
	if err != nil {
		return e.fail("%v", err)
	}
	var rep server.DiscoverReport
	if err := json.Unmarshal([]byte(text), &rep); err != nil {
		return e.fail("the server's report: %v", err)
	}
	if asJSON {
		fmt.Fprintln(e.stdout, text)
	} else {
		fmt.Fprintf(e.stdout, "%s, for %s to %s:\n", rep.Address, rep.For, rep.Purpose)
		for _, t := range rep.Tried {
			fmt.Fprintf(e.stdout, "  asked %s\n", t)
		}
		for i, c := range rep.Candidates {
			verdict := "NOT USABLE (" + c.Reason + ")"
			if c.Usable {
				verdict = "usable, " + c.Bound + "-bound"
			}
			fmt.Fprintf(e.stdout, "\ncertificate %d from %s %s: %s\n", i+1, c.Source, c.Where, verdict)
			if c.Subject != "" {
				fmt.Fprintf(e.stdout, "  subject %q, serial %s, until %s, sha256 %s\n", c.Subject, c.Serial, c.NotAfter, c.SHA256)
			}
			for _, l := range strings.Split(strings.TrimRight(c.Detail, "\n"), "\n") {
				fmt.Fprintf(e.stdout, "  %s\n", l)
			}
		}
		if rep.Usable == 0 {
			fmt.Fprintf(e.stdout, "\nno usable certificate for %s to %s\n", rep.Address, rep.Purpose)
		} else {
			fmt.Fprintf(e.stdout, "\n%d usable certificate(s)\n", rep.Usable)
		}
	}
	if rep.Usable == 0 {
		return 1
	}
	return 0
}
