package e2e

import (
	"path/filepath"
	"testing"
	"time"
)

// Federation tests run one after another, never in parallel: every peer listens on port 5269
// of its own loopback address and ejabberd's Erlang node is heavy on 2 cores.

// fedMode is how two servers authenticate each other.
type fedMode struct {
	name string
	ca   bool // true: all servers trust a test CA, SASL EXTERNAL only (no dialback anywhere)
}

var fedModes = []fedMode{
	{"dialback-self-signed", false}, // XEP-0220 over TLS; certificates do not verify
	{"sasl-external-test-ca", true}, // XEP-0178; dialback disabled on every server
}

// peerStarter starts one federating server for o (o.users gets the one user of the scenario).
type peerStarter func(t *testing.T, o peerOpts) *target

func ternPeer(t *testing.T, o peerOpts) *target { return &startTernPeer(t, o, "").target }

// TestFederationReference runs federation.py between Prosody and ejabberd, which federate
// without tern: it validates the script, the peer configs and both modes on this machine,
// so a failure of a tern row below is tern's.
func TestFederationReference(t *testing.T) {
	if !wantServer("prosody") {
		t.Skip("TERN_E2E_SERVERS excludes prosody, the reference")
	}
	runFederationRows(t, "prosody", startProsodyPeer, "ejabberd", startEjabberdPeer)
}

// TestFederationTernProsody: alice@tern.test and bob@prosody.test, both directions.
func TestFederationTernProsody(t *testing.T) {
	runFederationRows(t, "tern", ternPeer, "prosody", startProsodyPeer)
}

// TestFederationTernEjabberd: alice@tern.test and bob@ejabberd.test, both directions.
func TestFederationTernEjabberd(t *testing.T) {
	runFederationRows(t, "tern", ternPeer, "ejabberd", startEjabberdPeer)
}

// TestFederationTernTern: two tern instances on two loopback addresses.
func TestFederationTernTern(t *testing.T) {
	runFederationRows(t, "tern", ternPeer, "tern2", ternPeer)
}

// runFederationRows starts server A (alice) and server B (bob) for each mode and runs
// federation.py between them. Domains are <name>.test; each server resolves the other's
// domain to its loopback address (tern: static routes; Prosody: hosts file; ejabberd: /etc/hosts).
func runFederationRows(t *testing.T, nameA string, startA peerStarter, nameB string, startB peerStarter) {
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	for _, mode := range fedModes {
		t.Run(mode.name, func(t *testing.T) {
			pn := nextPeerNet()
			ips := map[string]string{"tern": pn.tern, "prosody": pn.prosody, "ejabberd": pn.ejabberd, "tern2": pn.tern2}
			domA, domB := nameA+".test", nameB+".test"
			var ca *testCA
			if mode.ca {
				ca = newTestCA(t)
			}
			a := startA(t, peerOpts{domain: domA, ip: ips[nameA], hosts: map[string]string{domB: ips[nameB]}, ca: ca, users: []string{"alice"}})
			b := startB(t, peerOpts{domain: domB, ip: ips[nameB], hosts: map[string]string{domA: ips[nameA]}, ca: ca, users: []string{"bob"}})
			runFederationPy(t, a, b)
		})
	}
}

// runFederationPy runs ../interop/federation.py with alice on a and bob on b and reports the
// first failing step with what it expected.
func runFederationPy(t *testing.T, a, b *target) {
	t.Helper()
	dir := t.TempDir()
	pwA, pwB := filepath.Join(dir, "password-a"), filepath.Join(dir, "password-b")
	writeFile(t, pwA, a.password+"\n")
	writeFile(t, pwB, b.password+"\n")
	args := []string{filepath.Join("..", "interop", "federation.py"), "--trace",
		"--alice", a.users[0], "--alice-addr", a.c2s, "--password-file", pwA,
		"--bob", b.users[0], "--bob-addr", b.c2s, "--bob-password-file", pwB}
	last, runErr, trace := runStepScript(t, dir, args, 2*time.Minute)
	if traceWanted() {
		t.Logf("--- client trace ---\n%s", tailN(trace, 256<<10))
	}
	switch {
	case runErr == nil && last.Step == "done" && last.OK:
	case runErr != nil && !last.OK && last.Step != "":
		t.Errorf("%s <-> %s: step %q failed: expected %s; %s\n--- client trace (tail) ---\n%s",
			a.domain, b.domain, last.Step, last.Expected, last.Error, tailN(trace, 32<<10))
	default:
		t.Errorf("%s <-> %s: federation.py ended with %v after step %q (want exit 0 after \"done\")\n--- client trace (tail) ---\n%s",
			a.domain, b.domain, runErr, last.Step, tailN(trace, 32<<10))
	}
}
