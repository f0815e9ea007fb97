// Package ldaptest runs Debian's slapd for tests of LDAP discovery.
package ldaptest

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Slapd is Debian's OpenLDAP server, started for a test with the given
// entries under dc=test (anonymous read, as Direct directories allow), and returns its
// host:port; it is stopped when the test ends. Without slapd the test is
// skipped, and fails under CI=true.
func Slapd(t testing.TB, ldif string) string {
	t.Helper()
	bin, err := exec.LookPath("slapd")
	if err != nil {
		if _, err = os.Stat("/usr/sbin/slapd"); err == nil {
			bin = "/usr/sbin/slapd"
		}
	}
	if bin == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("slapd not installed; .ci/run installs it (apt-get install slapd ldap-utils)")
		}
		t.Skip("slapd not installed (apt-get install slapd)")
	}
	dir := t.TempDir()
	conf := filepath.Join(dir, "slapd.conf")
	if err := os.MkdirAll(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(conf, []byte(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile `+filepath.Join(dir, "slapd.pid")+`
database mdb
suffix "dc=test"
rootdn "cn=admin,dc=test"
directory `+filepath.Join(dir, "db")+`
maxsize 10485760
access to * by * read
`), 0o600); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data.ldif")
	if err := os.WriteFile(data, []byte("dn: dc=test\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: test\n\n"+ldif), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(filepath.Join(filepath.Dir(bin), "slapadd"), "-f", conf, "-l", data).CombinedOutput(); err != nil {
		t.Fatalf("slapadd: %v\n%s", err, out)
	}
	port := FreePort(t)
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	cmd := exec.Command(bin, "-f", conf, "-h", "ldap://"+addr+"/", "-d", "0")
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("slapd does not listen on %s:\n%s", addr, log.String())
		}
	}
}

func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
