package dnstest

import (
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Named serves zones (origin -> zone file text, $ORIGIN implied) with
// Debian's BIND named on 127.0.0.1 and returns its host:port, for tests of
// the DNS client against a real, independent server. Without named the
// test is skipped, or fails under CI=true (.ci/run installs bind9).
func Named(t testing.TB, zones map[string]string) string {
	t.Helper()
	bin, err := exec.LookPath("named")
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/named"); serr == nil {
			bin = "/usr/sbin/named"
		} else if os.Getenv("CI") == "true" {
			t.Fatalf("named not installed (apt-get install bind9); .ci/run installs it")
		} else {
			t.Skip("named not installed (apt-get install bind9)")
		}
	}
	dir := t.TempDir()
	port := freePort(t)
	var conf strings.Builder
	fmt.Fprintf(&conf, "options { directory %q; listen-on port %d { 127.0.0.1; }; listen-on-v6 { none; };\n"+
		"  recursion no; pid-file %q; session-keyfile %q; dnssec-validation no; };\n",
		dir, port, filepath.Join(dir, "named.pid"), filepath.Join(dir, "session.key"))
	for origin, text := range zones {
		file := filepath.Join(dir, origin+".zone")
		if err := os.WriteFile(file, []byte("$ORIGIN "+dns.Fqdn(origin)+"\n"+text), 0o644); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&conf, "zone %q { type primary; file %q; };\n", origin, file)
	}
	cfg := filepath.Join(dir, "named.conf")
	if err := os.WriteFile(cfg, []byte(conf.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-g", "-n", "1", "-c", cfg)
	log, _ := os.Create(filepath.Join(dir, "named.log"))
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatalf("named: %v", err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); log.Close() })
	addr := net.JoinHostPort("127.0.0.1", fmt.Sprint(port))
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	for origin := range zones {
		m := new(dns.Msg).SetQuestion(dns.Fqdn(origin), dns.TypeSOA)
		for deadline := time.Now().Add(10 * time.Second); ; {
			if r, _, err := c.Exchange(m, addr); err == nil && r.Rcode == dns.RcodeSuccess && len(r.Answer) > 0 {
				break
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(filepath.Join(dir, "named.log"))
				t.Fatalf("named does not serve %s on %s:\n%s", origin, addr, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return addr
}

// freePort is a port free on 127.0.0.1 for both UDP and TCP.
func freePort(t testing.TB) int {
	for range 20 {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := pc.LocalAddr().(*net.UDPAddr).Port
		pc.Close()
		if l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p)); err == nil {
			l.Close()
			return p
		}
	}
	t.Fatal("no free port")
	return 0
}

// CERT is a zone-file CERT PKIX record of a DER certificate at name.
func CERT(name string, der []byte) string {
	return fmt.Sprintf("%s 300 IN CERT PKIX 0 0 %s\n", name, base64.StdEncoding.EncodeToString(der))
}
