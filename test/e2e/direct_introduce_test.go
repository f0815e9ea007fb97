package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery/dnstest"
	"github.com/tern-xmpp/tern/internal/ops/control"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
)

// TestDirectIntroduction: peer introduction between two tern instances
// (docs/direct-introduction.md). A (a.example) discovers the certificates of
// b.example's addresses by asking B over their Direct s2s stream, first of
// its sources; B introduces what its storage holds. A uses nurse@'s (valid,
// from B's CA, in A's circle) and refuses what a careless or hostile peer
// introduces: an expired certificate, one from a CA outside A's circles, one
// bound to another address (written into B's store behind `tern direct
// cert`'s checks), each with the reason, then goes on to DNS. A third
// server, c.example, whose CA is in none of A's circles, is never asked: the
// s2s stream fails A's validation before any question is sent. A slixmpp
// client of A asks its own server and gets the certificates and verdicts.
func TestDirectIntroduction(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	l := &directLab{dir: t.TempDir()}
	pn := nextPeerNet()
	httpA := net.JoinHostPort(pn.tern, fmt.Sprint(freePort(t, pn.tern)))
	httpB := net.JoinHostPort(pn.tern2, fmt.Sprint(freePort(t, pn.tern2)))
	httpC := net.JoinHostPort(pn.prosody, fmt.Sprint(freePort(t, pn.prosody)))
	ternCert(t, "init", "--dir", l.ca("orga"), "--name", "orga", "--url", "http://"+httpA)
	ternCert(t, "init", "--dir", l.ca("orgb"), "--name", "orgb", "--url", "http://"+httpB)
	ternCert(t, "init", "--dir", l.ca("orgd"), "--name", "orgd", "--key", "ecdsa", "--url", "http://"+httpC)
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--domain", "b.example")
	ternCert(t, "issue", "--dir", l.ca("orgd"), "--domain", "c.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "nurse@b.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "expired@b.example", "--days", "-1")
	ternCert(t, "issue", "--dir", l.ca("orgd"), "--address", "untrusted@b.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "someone@b.example")
	ternCert(t, "issue", "--dir", l.ca("orgd"), "--address", "carol@c.example")

	// An empty zone: DNS CERT and LDAP SRV lookups after the peer find nothing, fast.
	zone := dnstest.New(t, pn.ejabberd)
	anchors := func(ca string) string {
		return "[[trust.circle]]\nname = \"partners\"\nanchors = [\"" + filepath.Join(l.ca(ca), "ca.pem") + "\"]\n"
	}
	domain := func(name, ca string) []directDomain {
		crt, key := l.issued(ca, name)
		return []directDomain{{name: name, cert: crt, key: key, circles: `["partners"]`}}
	}
	b := startDirectTern(t, directOpts{ip: pn.tern2, http: httpB, pkiDirs: []string{l.ca("orgb"), l.ca("orgd")},
		routes: map[string]string{"a.example": pn.tern}, circles: anchors("orga"), domains: domain("b.example", "orgb"),
		users: []string{"nurse@b.example"}})
	c := startDirectTern(t, directOpts{ip: pn.prosody, http: httpC, pkiDirs: []string{l.ca("orgd")},
		routes: map[string]string{"a.example": pn.tern}, circles: anchors("orga"), domains: domain("c.example", "orgd")})
	a := startDirectTern(t, directOpts{ip: pn.tern, http: httpA, pkiDirs: []string{l.ca("orga")},
		routes: map[string]string{"b.example": pn.tern2, "c.example": pn.prosody}, circles: anchors("orgb"),
		domains: domain("a.example", "orga"), users: []string{"alice@a.example"},
		extra: "[dns]\nresolver = \"" + zone.Addr + "\"\n"})

	// B: nurse@'s certificate through `tern direct cert add` (which checks it); the bad
	// ones written into B's store directly, as a peer without those checks would hold them.
	nurse, _ := l.issued("orgb", "nurse@b.example")
	if out, err := exec.Command(ternBin, "direct", "cert", "--config", b.config, "add", "nurse@b.example", "--cert", nurse).CombinedOutput(); err != nil {
		t.Fatalf("tern direct cert add: %v\n%s", err, out)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(b.dataDir, "tern.db"))
	if err != nil {
		t.Fatal(err)
	}
	for addr, file := range map[string]string{"expired@b.example": "expired@b.example", "untrusted@b.example": "untrusted@b.example", "wrong@b.example": "someone@b.example"} {
		ca := "orgb"
		if addr == "untrusted@b.example" {
			ca = "orgd"
		}
		pemFile, _ := l.issued(ca, file)
		der := readDER(t, pemFile)
		sum := sha256.Sum256(der)
		if err := st.DirectCerts().PutCert(context.Background(), storage.DirectCert{Address: addr, SHA256: hex.EncodeToString(sum[:]), DER: der, Added: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	if _, err := control.Call(ctx, filepath.Join(b.dataDir, "tern.sock"), "direct.certs.changed", nil); err != nil {
		t.Fatalf("telling B its certificates changed: %v", err)
	}
	// C holds carol@'s certificate: it would answer, if asked.
	carol, _ := l.issued("orgd", "carol@c.example")
	if out, err := exec.Command(ternBin, "direct", "cert", "--config", c.config, "add", "carol@c.example", "--cert", carol).CombinedOutput(); err != nil {
		t.Fatalf("tern direct cert add on C: %v\n%s", err, out)
	}

	type candidate struct {
		Source, Where, Bound, Reason, SHA256 string
		Usable                               bool
	}
	type report struct {
		Usable     int
		Tried      []string
		Candidates []candidate
	}
	discover := func(address string) (report, int) {
		t.Helper()
		out, err := exec.Command(ternBin, "direct", "discover", "--config", a.config, "--for", "a.example", "--json", address).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		var r report
		if err := json.Unmarshal(out, &r); err != nil {
			t.Fatalf("discover %s: exit %d, %v\n%s\n--- A ---\n%s", address, code, err, out, tail(a.logFile))
		}
		return r, code
	}
	nurseSum := sha256.Sum256(readDER(t, nurse))
	r, code := discover("nurse@b.example")
	if code != 0 || r.Usable != 1 || len(r.Candidates) != 1 || len(r.Tried) != 1 {
		t.Fatalf("nurse@b.example: exit %d, %+v; want one usable certificate, from the first source\n--- A ---\n%s", code, r, tail(a.logFile))
	}
	if c := r.Candidates[0]; c.Source != "peer" || c.Where != "b.example" || c.Bound != "address" || c.SHA256 != hex.EncodeToString(nurseSum[:]) ||
		!strings.HasPrefix(r.Tried[0], "peer b.example: 1 certificate") {
		t.Errorf("nurse@b.example: %+v, tried %q; want nurse's certificate introduced by b.example, address-bound", c, r.Tried)
	}
	for addr, reason := range map[string]string{"expired@b.example": "expired", "untrusted@b.example": "untrusted-anchor", "wrong@b.example": "san-mismatch"} {
		r, code := discover(addr)
		if code != 1 || r.Usable != 0 || len(r.Candidates) != 1 || r.Candidates[0].Source != "peer" || r.Candidates[0].Reason != reason {
			t.Errorf("%s: exit %d, %+v; want exit 1, the introduced certificate refused for %s", addr, code, r, reason)
		}
		if len(r.Tried) < 3 || !strings.HasPrefix(r.Tried[1], "dns ") {
			t.Errorf("%s: tried %q; want the peer, then DNS", addr, r.Tried)
		}
	}

	r, code = discover("carol@c.example")
	t.Logf("carol@c.example: tried %q", r.Tried)
	if code != 1 || r.Usable != 0 || len(r.Tried) == 0 || !strings.HasPrefix(r.Tried[0], "peer c.example: ") || strings.Contains(r.Tried[0], "certificate(s)") {
		t.Errorf("carol@c.example: exit %d, %+v; want the peer question failed (c.example is not in a.example's circles)", code, r)
	}
	for _, p := range []*ternProc{c, b} {
		answered := metricValue(t, p, `tern_introduce_total{outcome="answered",side="answered"}`)
		if p == c && answered != 0 {
			t.Errorf("c.example answered %v introduction questions; want none (never asked)", answered)
		}
		if p == b && answered < 4 {
			t.Errorf("b.example answered %v introduction questions; want 4", answered)
		}
	}
	if n := metricValue(t, a, `tern_introduce_total{outcome="answered",side="asked"}`); n != 4 {
		t.Errorf("a.example got %v answers; want 4 (one per b.example address)", n)
	}

	// A client of A asks its own server: slixmpp, which knows no DNS, LDAP nor trust.
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, a.password+"\n")
	args := []string{filepath.Join("..", "interop", "introduce.py"), "--trace", "--addr", a.c2s, "--alice", "alice@a.example", "--password-file", pw,
		"--expect", "nurse@b.example=usable:" + hex.EncodeToString(nurseSum[:]), "--expect", "expired@b.example=refused:expired"}
	last, runErr, trace := runStepScript(t, dir, args, 2*time.Minute)
	if runErr != nil || last.Step != "done" || !last.OK {
		t.Errorf("introduce.py ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s", runErr, last.Step, last.Expected, last.Error, tail(trace))
	}
}
