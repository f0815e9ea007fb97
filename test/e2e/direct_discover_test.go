package e2e

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/direct/discovery/dnstest"
	"github.com/tern-xmpp/tern/internal/direct/discovery/ldaptest"
)

// TestDirectDiscoverDNS: `tern direct discover` through the running binary
// (issue 14): the server asks a DNS server (miekg/dns, UDP and TCP) for
// nurse@b.example's CERT records at nurse.b.example, checks each against
// a.example's circles, prefers the valid address-bound certificate and says
// why the expired one is not usable; an address with nothing published
// exits 1 naming both names asked.
func TestDirectDiscoverDNS(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	l := &directLab{dir: t.TempDir()}
	pn := nextPeerNet()
	http := net.JoinHostPort(pn.tern, fmt.Sprint(freePort(t, pn.tern)))
	ternCert(t, "init", "--dir", l.ca("orga"), "--name", "orga")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a.example")
	ternCert(t, "init", "--dir", l.ca("orgb"), "--name", "orgb", "--key", "rsa", "--url", "http://"+http)
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "nurse@b.example", "--key", "rsa", "--days", "-1")
	expiredPEM, _ := l.issued("orgb", "nurse@b.example")
	expired := readDER(t, expiredPEM)
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "nurse@b.example", "--key", "rsa")
	validPEM, _ := l.issued("orgb", "nurse@b.example-02") // a second one is not written over the first
	valid := readDER(t, validPEM)

	// The zone: two CERT records at nurse.b.example, nothing for anyone else.
	zone := dnstest.New(t, pn.tern2)
	zone.Add("nurse.b.example", 300, 1, expired)
	zone.Add("nurse.b.example", 300, 1, valid)
	dnsAddr := zone.Addr

	crt, key := l.issued("orga", "a.example")
	a := startDirectTern(t, directOpts{ip: pn.tern, http: http, pkiDirs: []string{l.ca("orgb")},
		circles: `[[trust.circle]]
name = "partners"
anchors = ["` + filepath.Join(l.ca("orgb"), "ca.pem") + `"]
`,
		domains: []directDomain{{name: "a.example", cert: crt, key: key, circles: `["partners"]`}},
		extra:   "[dns]\nlisten = \"" + net.JoinHostPort(pn.tern, fmt.Sprint(freeUDPPort(t, pn.tern))) + "\"\nhost = \"xmpp.a.example\"\nhost_ips = [\"" + pn.tern + "\"]\n"})

	discover := func(args ...string) (string, int) {
		cmd := exec.Command(ternBin, append([]string{"direct", "discover", "--config", a.config, "--for", "a.example", "--sources", "dns", "--dns", dnsAddr}, args...)...)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := discover("nurse@b.example")
	if code != 0 || !strings.Contains(out, "usable, address-bound") || !strings.Contains(out, "NOT USABLE (expired)") {
		t.Errorf("discover nurse@b.example: exit %d\n%s\nwant exit 0, the valid certificate usable (address-bound), the expired one not", code, out)
	}
	out, code = discover("--json", "nurse@b.example")
	var rep struct {
		Usable     int `json:"usable"`
		Candidates []struct {
			Usable bool   `json:"usable"`
			Bound  string `json:"bound"`
			Reason string `json:"reason"`
			Where  string `json:"where"`
		} `json:"candidates"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != 0 {
		t.Fatalf("--json: exit %d, %v\n%s", code, err, out)
	}
	if rep.Usable != 1 || len(rep.Candidates) != 2 {
		t.Errorf("--json: %+v; want 2 candidates, 1 usable", rep)
	}
	for _, c := range rep.Candidates {
		if c.Where != "nurse.b.example" || c.Usable == (c.Reason == "expired") || (c.Usable && c.Bound != "address") {
			t.Errorf("candidate %+v", c)
		}
	}
	out, code = discover("nobody@b.example")
	if code != 1 || !strings.Contains(out, "nobody.b.example: no CERT record") || !strings.Contains(out, "b.example: no CERT record") || !strings.Contains(out, "no usable certificate") {
		t.Errorf("discover nobody@b.example: exit %d\n%s\nwant exit 1, both names asked, no usable certificate", code, out)
	}
	if out, code := discover("not-an-address"); code == 0 || !strings.Contains(out, "not a Direct address") {
		t.Errorf("discover not-an-address: exit %d\n%s", code, out)
	}

	// A publishes its SRV records with its own responder ([dns] listen), read with dig;
	// its TLS-only domain certificate is not published as a CERT record.
	dig, err := exec.LookPath("dig")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("dig not installed (bind9-dnsutils); .ci/run installs it")
		}
		t.Skip("dig not installed (apt-get install bind9-dnsutils)")
	}
	m := regexp.MustCompile(`DNS responder listening.*addr=(\S+)`).FindStringSubmatch(logWait(t, a, "DNS responder listening"))
	if m == nil {
		t.Fatal("no DNS responder address in the log")
	}
	host, port, _ := net.SplitHostPort(m[1])
	digOut := func(args ...string) string {
		out, err := exec.Command(dig, append([]string{"@" + host, "-p", port, "+time=2", "+tries=1", "+short"}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("dig %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if got := digOut("_xmpp-server._tcp.a.example", "SRV"); got != "0 0 5269 xmpp.a.example." {
		t.Errorf("dig _xmpp-server._tcp.a.example SRV: %q; want 0 0 5269 xmpp.a.example.", got)
	}
	if got := digOut("xmpp.a.example", "A"); got != pn.tern {
		t.Errorf("dig xmpp.a.example A: %q; want %s", got, pn.tern)
	}
	if got := digOut("a.example", "CERT"); got != "" {
		t.Errorf("dig a.example CERT: %q; want nothing (a TLS-only certificate)", got)
	}
	logHas(t, a, `not published \(DNS CERT, peer introduction\)`, rawTimeout)

	// tern direct cert: an address certificate stored, published at once (DCDT H1 through
	// the binary: dig reads it, tern's discovery finds it usable), listed, removed.
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "nurse@a.example", "--key", "rsa")
	nurseCrt, nurseKey := l.issued("orgb", "nurse@a.example")
	cert := func(args ...string) (string, int) {
		out, err := exec.Command(ternBin, append([]string{"direct", "cert", "--config", a.config}, args...)...).CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	if out, code := cert("add", "nurse@a.example", "--cert", nurseCrt, "--key", nurseKey); code != 0 || !strings.Contains(out, "private key sealed") || !strings.Contains(out, "publishes the stored certificates now") {
		t.Fatalf("cert add: exit %d\n%s", code, out)
	}
	if out, code := cert("add", "nurse@a.example", "--cert", validPEM); code == 0 || !strings.Contains(out, "not bound to nurse@a.example") {
		t.Errorf("cert add of another address's certificate: exit %d\n%s", code, out)
	}
	if out, code := cert("add", "nurse@b.example", "--cert", validPEM); code == 0 || !strings.Contains(out, "not a Direct domain of this server") {
		t.Errorf("cert add for another server's domain: exit %d\n%s", code, out)
	}
	if out, code := cert("add", "a.example", "--cert", crt); code == 0 || !strings.Contains(out, "does not allow S/MIME") {
		t.Errorf("cert add of the TLS certificate: exit %d\n%s", code, out)
	}
	if got := digOut("nurse.a.example", "CERT"); !strings.HasPrefix(got, "PKIX 0 0 ") {
		t.Errorf("dig nurse.a.example CERT after cert add: %q", got)
	}
	cmd := exec.Command(ternBin, "direct", "discover", "--config", a.config, "--for", "a.example", "--sources", "dns", "--dns", m[1], "nurse@a.example")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "usable, address-bound") {
		t.Errorf("discover nurse@a.example through A's own responder: %v\n%s", err, out)
	}
	if out, code := cert("list", "a.example"); code != 0 || !strings.Contains(out, "nurse@a.example") || !strings.Contains(out, "key sealed") || !strings.Contains(out, "1 certificate(s)") {
		t.Errorf("cert list: exit %d\n%s", code, out)
	}
	if b, _ := os.ReadFile(nurseKey); len(b) > 0 {
		der, _ := pem.Decode(b)
		db, _ := os.ReadFile(filepath.Join(a.dataDir, "tern.db"))
		wal, _ := os.ReadFile(filepath.Join(a.dataDir, "tern.db-wal")) // where a fresh write usually is
		db = append(db, wal...)
		if der != nil && strings.Contains(string(db), string(der.Bytes[len(der.Bytes)-64:])) {
			t.Error("the private key is in the database in the clear")
		}
	}
	// DCDT H2: a domain-bound S/MIME certificate (tern cert issue --smime) stored for
	// a.example is published at the apex and used for an address without its own.
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--domain", "a.example", "--smime", "--key", "rsa")
	domPEM, _ := l.issued("orgb", "a.example")
	if out, code := cert("add", "a.example", "--cert", domPEM); code != 0 {
		t.Fatalf("cert add a.example (domain-bound S/MIME): exit %d\n%s", code, out)
	}
	if got := digOut("a.example", "CERT"); !strings.HasPrefix(got, "PKIX 0 0 ") {
		t.Errorf("dig a.example CERT after cert add of the domain's S/MIME certificate: %q", got)
	}
	for _, src := range []string{"dns", "peer"} { // A's responder; A introducing its own domain
		cmd = exec.Command(ternBin, "direct", "discover", "--config", a.config, "--for", "a.example", "--sources", src, "--dns", m[1], "clerk@a.example")
		if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "usable, domain-bound") || !strings.Contains(string(out), "from "+src) {
			t.Errorf("discover clerk@a.example (%s): %v\n%s; want the domain's certificate, from %s", src, err, out, src)
		}
	}

	// DCDT H3 and H4: the address's and the domain's certificates exported as LDIF, loaded
	// into Debian's slapd, found by tern's LDAP discovery (SRV _ldap._tcp.a.example -> slapd).
	ldifFile := filepath.Join(t.TempDir(), "a.ldif")
	if out, code := cert("--help"); code != 0 || !strings.Contains(out, "tern direct cert add") {
		t.Errorf("cert --help: exit %d\n%s", code, out)
	}
	exported, err := exec.Command(ternBin, "direct", "export-ldif", "a.example", "--base", "dc=test", "--out", ldifFile, "--config", a.config).CombinedOutput()
	if err != nil || !strings.Contains(string(exported), "wrote 2 entries") {
		t.Fatalf("export-ldif: %v\n%s", err, exported)
	}
	ldif, _ := os.ReadFile(ldifFile)
	ldapAddr := ldaptest.Slapd(t, string(ldif))
	zone2 := dnstest.New(t, pn.tern2)
	zone2.AddSRV("_ldap._tcp.a.example", 0, 0, ldapAddr)
	cmd = exec.Command(ternBin, "direct", "discover", "--config", a.config, "--for", "a.example", "--sources", "ldap", "--dns", zone2.Addr, "nurse@a.example")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "from ldap") || !strings.Contains(string(out), "usable, address-bound") {
		t.Errorf("discover nurse@a.example in the exported directory (H3): %v\n%s", err, out)
	}
	cmd = exec.Command(ternBin, "direct", "discover", "--config", a.config, "--for", "a.example", "--sources", "ldap", "--dns", zone2.Addr, "clerk@a.example")
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), "from ldap") || !strings.Contains(string(out), "usable, domain-bound") {
		t.Errorf("discover clerk@a.example in the exported directory (H4: the domain's certificate): %v\n%s", err, out)
	}
	if out, code := discover("--sources", "nonsense", "nurse@a.example"); code == 0 || !strings.Contains(out, "unknown discovery source") {
		t.Errorf("--sources nonsense: exit %d\n%s", code, out)
	}

	if out, code := cert("remove", "nurse@a.example"); code != 0 || !strings.Contains(out, "removed 1") {
		t.Errorf("cert remove: exit %d\n%s", code, out)
	}
	if got := digOut("nurse.a.example", "CERT"); got != "" {
		t.Errorf("dig nurse.a.example CERT after cert remove: %q", got)
	}
	if v := metricValue(t, a, `tern_dns_queries_total{outcome="answer"}`); v < 3 {
		t.Errorf("tern_dns_queries_total{outcome=\"answer\"} = %v; want at least 3", v)
	}
}

// freeUDPPort is a UDP port free on ip now (and, for the responder, its TCP twin).
func freeUDPPort(t *testing.T, ip string) int {
	t.Helper()
	for range 20 {
		pc, err := net.ListenPacket("udp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if ln, err := net.Listen("tcp", net.JoinHostPort(ip, fmt.Sprint(p))); err == nil {
			ln.Close()
			return p
		}
	}
	t.Fatal("no free UDP+TCP port")
	return 0
}

// logWait waits until p's log has a line matching pattern and returns it.
func logWait(t *testing.T, p *ternProc, pattern string) string {
	t.Helper()
	logHas(t, p, pattern, rawTimeout)
	b, _ := os.ReadFile(p.logFile)
	for _, l := range strings.Split(string(b), "\n") {
		if regexp.MustCompile(pattern).MatchString(l) {
			return l
		}
	}
	return ""
}

func readDER(t *testing.T, file string) []byte {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatalf("%s: no PEM", file)
	}
	return blk.Bytes
}
