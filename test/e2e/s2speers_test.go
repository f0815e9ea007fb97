package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// s2sPort is the port every federation peer listens on: Prosody (no SRV records here) and
// ejabberd (outgoing_s2s_port is global) both dial the standard port, so each server gets its
// own loopback address instead of its own port.
const s2sPort = 5269

// peerNetSeq hands each federation test its own 127.0.N.0/24 (N from 40 on), so servers of one
// test never meet a lingering socket of the previous one on port 5269. The block is far from
// the harness's 127.0.0.x and from addresses other tools on the box use.
var peerNetSeq atomic.Int64

// peerNet is the set of loopback addresses of one federation test.
type peerNet struct {
	tern, prosody, ejabberd, tern2, fake string
	down                                 string // nothing ever listens here
}

func nextPeerNet() peerNet {
	n := 40 + peerNetSeq.Add(1)%200
	ip := func(h int) string { return fmt.Sprintf("127.0.%d.%d", n, h) }
	return peerNet{tern: ip(1), prosody: ip(2), ejabberd: ip(3), tern2: ip(4), fake: ip(5), down: ip(6)}
}

func s2sAddr(ip string) string { return net.JoinHostPort(ip, fmt.Sprint(s2sPort)) }

func haveEjabberd() bool {
	for _, bin := range []string{"ejabberdctl", "unshare", "mount"} {
		if _, err := exec.LookPath(bin); err != nil {
			return false
		}
	}
	return true
}

// testCA is a throw-away certificate authority: every server of a "certificates" test trusts
// it, so peers authenticate with SASL EXTERNAL (XEP-0178) instead of dialback.
type testCA struct {
	dir  string
	file string // ca.pem
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randSerial(t),
		Subject:               pkix.Name{CommonName: "tern e2e test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &testCA{dir: t.TempDir(), cert: cert, key: key, pool: x509.NewCertPool()}
	ca.pool.AddCert(cert)
	ca.file = filepath.Join(ca.dir, "ca.pem")
	writeFile(t, ca.file, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	return ca
}

// issue writes <domain>.crt and <domain>.key into dir: a certificate for domain and its
// subdomains with both serverAuth and clientAuth, as s2s needs both (RFC 6120 §13.7.1.2).
func (ca *testCA) issue(t testing.TB, dir, domain string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t),
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain, "*." + domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, domain+".crt"), filepath.Join(dir, domain+".key")
	writeFile(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
	return certFile, keyFile
}

func randSerial(t testing.TB) *big.Int {
	t.Helper()
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// peerOpts describes one federating server of a test.
type peerOpts struct {
	domain string
	ip     string            // its loopback address; s2s on ip:5269
	hosts  map[string]string // other domains -> their loopback address (its private name resolution)
	muc    bool              // Prosody: a group chat service at conference.<domain>
	ca     *testCA           // nil: self-signed certificate and dialback; else CA certificates only
	users  []string          // localparts
	limits string            // tern only: extra [limits] lines
}

// hostsLines renders hosts as "ip name" lines, sorted for stable files.
func (o peerOpts) hostsLines() string {
	var lines []string
	for name, ip := range o.hosts {
		lines = append(lines, ip+" "+name)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

// startTernPeer starts tern serving domain with users alice (or o.users) and s2s on o.ip:5269
// and o.ip:5270 (direct TLS), with static routes to o.hosts. extraS2S is appended to [s2s].
func startTernPeer(t *testing.T, o peerOpts, extraS2S string) *ternProc {
	t.Helper()
	if len(o.users) == 0 {
		o.users = []string{"alice"}
	}
	var users []string
	for _, u := range o.users {
		users = append(users, u+"@"+o.domain)
	}
	var b strings.Builder
	b.WriteString(o.limits) // still inside the harness's [limits] table
	fmt.Fprintf(&b, "\n[s2s]\nlisten = [%q]\nlisten_tls = [%q]\n", s2sAddr(o.ip), net.JoinHostPort(o.ip, "5270"))
	fmt.Fprintf(&b, "dialback = %t\nrequire_valid_certs = %t\n", o.ca == nil, o.ca != nil)
	if o.ca != nil {
		fmt.Fprintf(&b, "ca_file = %q\n", o.ca.file)
	}
	b.WriteString("connect_timeout = \"3s\"\nidle_timeout = \"10m\"\nqueue_max = 1000\n")
	b.WriteString(extraS2S)
	var routes []string
	for name, ip := range o.hosts {
		routes = append(routes, fmt.Sprintf("%q = %q", name, s2sAddr(ip)))
	}
	sort.Strings(routes)
	fmt.Fprintf(&b, "routes = { %s }\n\n", strings.Join(routes, ", "))
	// The served domain is a second [[domain]] (TOML appends it to the harness's array, whose
	// tables have no cert/key); the first, localhost, is idle. Serving two domains is deliberate:
	// Prosody 0.12 sends no SNI on STARTTLS s2s, so the certificate must follow the stream
	// header's 'to', not default to the first domain.
	fmt.Fprintf(&b, "[[domain]]\nname = %q\n", o.domain)
	if o.ca != nil {
		crt, key := o.ca.issue(t, t.TempDir(), o.domain)
		fmt.Fprintf(&b, "cert = %q\nkey = %q\n", crt, key)
	}
	p := startTern(t, ternOpts{Domains: []string{"localhost"}, Users: users, ExtraTOML: b.String()})
	p.domain = o.domain
	if err := p.waitListening(s2sAddr(o.ip)); err != nil {
		t.Fatalf("tern does not listen for s2s: %v\n--- %s ---\n%s", err, p.logFile, tail(p.logFile))
	}
	return p
}

// startProsodyPeer runs Prosody (../interop/peers/prosody.cfg.lua) for o.domain on o.ip:5269.
func startProsodyPeer(t *testing.T, o peerOpts) *target {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	needPeer(t, "prosody (apt-get install prosody)", haveProsody())
	cfg, err := filepath.Abs(filepath.Join("..", "interop", "peers", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	certs := filepath.Join(run, "certs")
	if err := os.Mkdir(certs, 0o700); err != nil {
		t.Fatal(err)
	}
	c2s := freePort(t, o.ip)
	srv := &target{
		name: "prosody", domain: o.domain, ip: o.ip,
		c2s:      net.JoinHostPort(o.ip, fmt.Sprint(c2s)),
		password: randomPassword(t),
		logFile:  filepath.Join(run, "prosody.log"),
	}
	env := append(os.Environ(), "PEER_RUN="+run, "PEER_DOMAIN="+o.domain, "PEER_IP="+o.ip,
		fmt.Sprintf("PEER_C2S=%d", c2s), "PEER_S2S_TIMEOUT=5")
	if o.muc {
		env = append(env, "PEER_MUC=1")
	}
	if o.ca != nil {
		o.ca.issue(t, certs, o.domain)
		env = append(env, "PEER_CAFILE="+o.ca.file)
	} else {
		writeSelfSigned(t, certs, o.domain)
	}
	writeFile(t, filepath.Join(run, "hosts"), "127.0.0.1 localhost\n"+o.hostsLines())
	for _, u := range o.users {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "prosodyctl", "--config", cfg, "register", u, o.domain, srv.password)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", u, err, out)
		}
		srv.users = append(srv.users, u+"@"+o.domain)
	}
	stdout := filepath.Join(run, "stdout.log")
	exited := runProsody(t, cfg, env, stdout, func(stdout string) {
		if t.Failed() || traceWanted() {
			t.Logf("--- prosody log %s (tail) ---\n%s\n%s", srv.logFile, tailN(srv.logFile, 64<<10), tail(stdout))
		}
	})
	waitAccepting(t, "prosody", exited, stdout, srv.c2s, s2sAddr(o.ip))
	return srv
}

// startEjabberdPeer runs ejabberd (../interop/peers/ejabberd.yml.in) for o.domain on o.ip:5269,
// in a private mount namespace whose /etc/hosts maps o.hosts (ejabberd 23.01 resolves with libc).
// ejabberdctl drops to the ejabberd user, so the run directory is world-readable and chowned.
func startEjabberdPeer(t *testing.T, o peerOpts) *target {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	needPeer(t, "ejabberd (apt-get install ejabberd) and unshare/mount (util-linux)", haveEjabberd())
	if os.Geteuid() != 0 {
		needPeer(t, "root (ejabberd runs in its own mount namespace with a private /etc/hosts)", false)
	}
	tmpl, err := os.ReadFile(filepath.Join("..", "interop", "peers", "ejabberd.yml.in"))
	if err != nil {
		t.Fatal(err)
	}
	run, err := os.MkdirTemp("", "tern-e2e-ejabberd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(run) })
	for _, d := range []string{"certs", "cfg", "spool", "logs"} {
		if err := os.MkdirAll(filepath.Join(run, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(run, 0o755)
	c2s := freePort(t, o.ip)
	srv := &target{
		name: "ejabberd", domain: o.domain, ip: o.ip,
		c2s:      net.JoinHostPort(o.ip, fmt.Sprint(c2s)),
		password: randomPassword(t),
		logFile:  filepath.Join(run, "logs", "ejabberd.log"),
	}
	certs := filepath.Join(run, "certs")
	caFile, starttls, dialback := "/etc/ssl/certs/ca-certificates.crt", "optional", "mod_s2s_dialback: {}"
	if o.ca != nil {
		o.ca.issue(t, certs, o.domain)
		caFile = filepath.Join(certs, "ca.pem")
		b, err := os.ReadFile(o.ca.file)
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, caFile, string(b))
		starttls, dialback = "required", "# no mod_s2s_dialback: certificates (SASL EXTERNAL) only"
	} else {
		writeSelfSigned(t, certs, o.domain)
	}
	crt, _ := os.ReadFile(filepath.Join(certs, o.domain+".crt"))
	key, _ := os.ReadFile(filepath.Join(certs, o.domain+".key"))
	pemFile := filepath.Join(certs, o.domain+".pem")
	writeFile(t, pemFile, string(crt)+string(key))
	cfg := strings.NewReplacer("@RUN@", run, "@DOMAIN@", o.domain, "@IP@", o.ip, "@C2S@", fmt.Sprint(c2s),
		"@CERTFILE@", pemFile, "@S2S_TLS@", starttls, "@CA_FILE@", caFile, "@DIALBACK@", dialback).Replace(string(tmpl))
	writeFile(t, filepath.Join(run, "cfg", "ejabberd.yml"), cfg)
	// Erlang distribution on a free loopback port, no epmd: ejabberdctl talks to the node there.
	dist := freePort(t, "127.0.0.1")
	writeFile(t, filepath.Join(run, "cfg", "ejabberdctl.cfg"), fmt.Sprintf(
		"ERL_OPTIONS=\"-env ERL_CRASH_DUMP_BYTES 0\"\nEJABBERD_PID_PATH=%s/ejabberd.pid\n"+
			"EJABBERD_CONFIG_PATH=%s/cfg/ejabberd.yml\nINET_DIST_INTERFACE=127.0.0.1\nERL_DIST_PORT=%d\n", run, run, dist))
	if b, err := os.ReadFile("/etc/ejabberd/inetrc"); err == nil {
		writeFile(t, filepath.Join(run, "cfg", "inetrc"), string(b))
	}
	sysHosts, _ := os.ReadFile("/etc/hosts")
	hosts := filepath.Join(run, "hosts")
	writeFile(t, hosts, string(sysHosts)+"\n"+o.hostsLines())
	filepath.Walk(run, func(p string, info os.FileInfo, err error) error {
		if err == nil {
			if info.IsDir() {
				os.Chmod(p, 0o755)
			} else {
				os.Chmod(p, 0o644)
			}
		}
		return nil
	})
	if out, err := exec.Command("chown", "-R", "ejabberd:ejabberd", run).CombinedOutput(); err != nil {
		t.Fatalf("chown %s to the ejabberd user: %v\n%s", run, err, out)
	}
	node := fmt.Sprintf("terne2e%d@localhost", dist)
	ctl := fmt.Sprintf("ejabberdctl -n %s -d %s/cfg -c %s/cfg/ejabberdctl.cfg -s %s/spool -l %s/logs", node, run, run, run, run)
	stdout := filepath.Join(run, "stdout.log")
	out, err := os.Create(stdout)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("unshare", "--mount", "sh", "-c",
		fmt.Sprintf("mount --bind %s /etc/hosts && exec %s foreground", hosts, ctl))
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // stop the whole tree (su, beam) by its group id
	if err := cmd.Start(); err != nil {
		t.Fatalf("start ejabberd: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		// SIGTERM to the Erlang VM by the PID it wrote (su puts it in a session of its own, out
		// of our process group): it shuts down gracefully, seconds faster than `ejabberdctl
		// stop`, which boots another VM. The launcher (sh, su) exits with it.
		vm := 0
		if b, err := os.ReadFile(filepath.Join(run, "ejabberd.pid")); err == nil {
			vm, _ = strconv.Atoi(strings.TrimSpace(string(b)))
		}
		if vm > 0 {
			syscall.Kill(vm, syscall.SIGTERM)
		} else {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		}
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			if vm > 0 {
				syscall.Kill(vm, syscall.SIGKILL)
			}
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
			t.Errorf("ejabberd did not exit within %s of SIGTERM; killed it", stopTimeout)
		}
		if t.Failed() || traceWanted() {
			t.Logf("--- ejabberd log %s (tail) ---\n%s\n%s", srv.logFile, tailN(srv.logFile, 64<<10), tail(stdout))
		}
	})
	waitAccepting(t, "ejabberd", exited, stdout, srv.c2s, s2sAddr(o.ip))
	// In-band registration (XEP-0077): milliseconds, where `ejabberdctl register` boots a
	// second Erlang VM per user. (By hand: sh -c "$(cat RUN/ctl) registered_users DOMAIN".)
	writeFile(t, filepath.Join(run, "ctl"), ctl+"\n")
	for _, u := range o.users {
		registerInBand(t, srv, u)
		srv.users = append(srv.users, u+"@"+o.domain)
	}
	return srv
}

// registerInBand creates user on srv with XEP-0077 before authentication, on a TLS stream.
func registerInBand(t *testing.T, srv *target, user string) {
	t.Helper()
	c := dialRaw(t, srv, false)
	c.send(streamHeader(srv.domain))
	c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)
	c.send("<iq type='set' id='reg1'><query xmlns='jabber:iq:register'><username>" + user +
		"</username><password>" + srv.password + "</password></query></iq>")
	m := c.expect(`(?s)<iq[^>]*\bid=['"]reg1['"][^>]*(?:/>|>.*?</iq>)`)[0]
	if !regexp.MustCompile(`type=['"]result['"]`).MatchString(m) {
		t.Fatalf("in-band registration of %s@%s failed: %s", user, srv.domain, m)
	}
	c.send("</stream:stream>")
}

// waitAccepting polls each address until it accepts, failing early if the server exits.
func waitAccepting(t *testing.T, name string, exited chan error, stdout string, addrs ...string) {
	t.Helper()
	deadline := time.Now().Add(startTimeout)
	for _, addr := range addrs {
		for {
			select {
			case err := <-exited:
				exited <- err // for the cleanup
				t.Fatalf("%s exited before listening on %s: %v\n%s", name, addr, err, tail(stdout))
			default:
			}
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s not listening on %s after %s: %v\n%s", name, addr, startTimeout, err, tail(stdout))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// traceWanted reports whether TERN_E2E_TRACE asks for client traces and peer logs of
// passing tests too (to see which authentication the servers chose).
func traceWanted() bool { return os.Getenv("TERN_E2E_TRACE") != "" }

// tailN returns the last max bytes of a file.
func tailN(path string, max int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	if len(b) > max {
		return "...(truncated)...\n" + string(b[len(b)-max:])
	}
	return string(b)
}
