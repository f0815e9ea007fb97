package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ternBin is the server binary built once by TestMain; buildErr says why it is missing.
var (
	ternBin  string
	buildErr error
)

const (
	startTimeout = 30 * time.Second // a -race binary opening SQLite on a busy 2-core box
	stopTimeout  = 10 * time.Second // graceful shutdown after SIGTERM
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tern-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: cannot create a temp dir:", err)
		os.Exit(1)
	}
	ternBin, buildErr = buildTern(dir)
	if buildErr != nil {
		// Not fatal here: the Prosody oracle tests still run; every tern test fails with this.
		fmt.Fprintf(os.Stderr, "e2e: FAIL: cannot build the tern binary, every tern test will fail:\n%v\n", buildErr)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// buildTern compiles ./cmd/tern (with -race when the tests run with it, so server races
// surface here) unless TERN_BIN points at a prebuilt binary.
func buildTern(dir string) (string, error) {
	if bin := os.Getenv("TERN_BIN"); bin != "" {
		return bin, nil
	}
	if !wantServer("tern") {
		return "", nil // startTern skips
	}
	bin := filepath.Join(dir, "tern")
	args := []string{"build", "-o", bin}
	if raceEnabled {
		args = append(args, "-race")
	}
	args = append(args, "./cmd/tern")
	cmd := exec.Command("go", args...)
	cmd.Dir = filepath.Join("..", "..") // module root, from test/e2e
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin, nil
}

// wantServer reports whether TERN_E2E_SERVERS (comma-separated, default all) selects name.
func wantServer(name string) bool {
	v := os.Getenv("TERN_E2E_SERVERS")
	if v == "" {
		return true
	}
	for _, s := range strings.Split(v, ",") {
		if strings.TrimSpace(s) == name {
			return true
		}
	}
	return false
}

// target is a running XMPP server under test: tern, or Prosody as the reference.
type target struct {
	name     string // "tern" or "prosody"
	domain   string // first hosted domain
	ip       string // its own loopback address
	c2s      string // host:port, STARTTLS (RFC 6120 §5)
	c2sTLS   string // host:port, direct TLS (XEP-0368)
	password string // shared by every user, random per server
	users    []string
	logFile  string // server output, shown when the test fails
	// lacks names features this server does not have, with the reason: a row needing one
	// is skipped for this server (only the reference server may lack features).
	lacks map[string]string
	// deviations names scenario.py steps this (reference) server is known to fail, with why.
	deviations map[string]string
}

// require skips t when srv lacks feature; tern lacks nothing, so its rows always run.
func (srv *target) require(t testing.TB, feature string) {
	t.Helper()
	if why, ok := srv.lacks[feature]; ok {
		t.Skipf("%s cannot check this: %s", srv.name, why)
	}
}

// ternOpts shapes the config of one tern instance. The zero value gives one domain
// "localhost" with users alice and bob.
type ternOpts struct {
	Domains      []string // [[domain]] tables; default ["localhost"]
	Users        []string // bare JIDs to create; default alice@ and bob@ the first domain
	Registration bool     // in-band registration (XEP-0077)
	OfflineQuota int      // [limits] offline_quota; default 100
	ExtraTOML    string   // appended verbatim (inside the [limits] table unless it opens another)
	TopTOML      string   // top-level keys, written before the first table
	HTTPAddr     string   // [http] listen; default a free port on the server's loopback address
	HTTPTOML     string   // more [http] keys
}

// ternProc is a tern serve process started for one test; t.Cleanup stops it.
type ternProc struct {
	target
	cmd     *exec.Cmd
	config  string
	dataDir string
	httpURL string // http://ip:port, Prometheus /metrics
	exited  chan struct{}
	waitErr error // valid once exited is closed
}

// hostSeq hands out 127.0.0.x addresses, x in 10..250, one per server, starting at a random
// offset so two `go test` processes on one machine rarely collide (ports are free-checked anyway).
var hostSeq atomic.Int64

func init() {
	n, _ := rand.Int(rand.Reader, big.NewInt(241))
	hostSeq.Store(n.Int64())
}

func nextLoopback() string {
	return fmt.Sprintf("127.0.0.%d", 10+hostSeq.Add(1)%241)
}

// ternProcs maps the target of a running tern to its process, for tests that receive a
// *target (forEachServer) and need tern's log or metrics.
var ternProcs sync.Map

// ternOf returns the tern process behind srv, or nil when srv is another server.
func ternOf(srv *target) *ternProc {
	if p, ok := ternProcs.Load(srv); ok {
		return p.(*ternProc)
	}
	return nil
}

// handedOut remembers every ip:port freePort gave: the kernel may offer a
// port again once its probe listener is closed, before the server binds it.
var handedOut sync.Map

// freePort asks the kernel for a free TCP port on ip, never the same one twice.
func freePort(t testing.TB, ip string) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatalf("no free port on %s (is the whole 127.0.0.0/8 routed to lo?): %v", ip, err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if _, taken := handedOut.LoadOrStore(net.JoinHostPort(ip, fmt.Sprint(port)), true); !taken {
			return port
		}
	}
	t.Fatalf("no port on %s that was not handed out already", ip)
	return 0
}

// randomPassword returns a CSPRNG password; hex keeps SASLprep out of the picture.
func randomPassword(t testing.TB) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// startTern builds a config, starts `tern serve`, waits until its listeners accept, creates
// the users with `tern user add`, and registers a cleanup that stops it with SIGTERM.
func startTern(t testing.TB, opts ternOpts) *ternProc {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	if buildErr != nil {
		t.Fatalf("tern binary unavailable: %v", buildErr)
	}
	if ternBin == "" {
		t.Skip("TERN_E2E_SERVERS excludes tern")
	}
	if len(opts.Domains) == 0 {
		opts.Domains = []string{"localhost"}
	}
	if len(opts.Users) == 0 {
		opts.Users = []string{"alice@" + opts.Domains[0], "bob@" + opts.Domains[0]}
	}
	if opts.OfflineQuota == 0 {
		opts.OfflineQuota = 100
	}
	dir := t.TempDir()
	ip := nextLoopback()
	p := &ternProc{
		target: target{
			name:     "tern",
			domain:   opts.Domains[0],
			ip:       ip,
			c2s:      net.JoinHostPort(ip, fmt.Sprint(freePort(t, ip))),
			c2sTLS:   net.JoinHostPort(ip, fmt.Sprint(freePort(t, ip))),
			password: randomPassword(t),
			users:    opts.Users,
			logFile:  filepath.Join(dir, "tern.log"),
		},
		config:  filepath.Join(dir, "tern.toml"),
		dataDir: filepath.Join(dir, "data"),
		exited:  make(chan struct{}),
	}
	httpAddr := opts.HTTPAddr
	if httpAddr == "" {
		httpAddr = net.JoinHostPort(ip, fmt.Sprint(freePort(t, ip)))
	}
	p.httpURL = "http://" + httpAddr
	writeFile(t, p.config, ternConfig(p, httpAddr, opts))

	logf, err := os.Create(p.logFile)
	if err != nil {
		t.Fatal(err)
	}
	p.cmd = exec.Command(ternBin, "serve", "--config", p.config)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("start %s: %v", ternBin, err)
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logf.Close()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t); ternProcs.Delete(&p.target) })
	ternProcs.Store(&p.target, p)

	for _, addr := range []string{p.c2s, p.c2sTLS, httpAddr} {
		if err := p.waitListening(addr); err != nil {
			t.Fatalf("tern did not come up: %v\n--- %s ---\n%s", err, p.logFile, tail(p.logFile))
		}
	}
	pwFile := filepath.Join(dir, "password")
	writeFile(t, pwFile, p.password+"\n")
	for _, u := range opts.Users {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		out, err := exec.CommandContext(ctx, ternBin, "user", "add", "--config", p.config,
			"--password-file", pwFile, u).CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("tern user add %s: %v\n%s", u, err, out)
		}
	}
	return p
}

func ternConfig(p *ternProc, httpAddr string, opts ternOpts) string {
	var b strings.Builder
	fmt.Fprintf(&b, "data_dir = %q\nlog_level = \"debug\"\n%s\n\n", p.dataDir, opts.TopTOML)
	for _, d := range opts.Domains {
		fmt.Fprintf(&b, "[[domain]]\nname = %q\nregistration = %t\n\n", d, opts.Registration)
	}
	fmt.Fprintf(&b, "[c2s]\nlisten = [%q]\nlisten_tls = [%q]\n\n", p.c2s, p.c2sTLS)
	fmt.Fprintf(&b, "[http]\nlisten = %q\n%s\n", httpAddr, opts.HTTPTOML)
	fmt.Fprintf(&b, "[limits]\noffline_quota = %d\n", opts.OfflineQuota)
	if opts.ExtraTOML != "" {
		b.WriteString("\n" + opts.ExtraTOML + "\n")
	}
	return b.String()
}

// waitListening polls addr until it accepts, failing early if the process exits.
func (p *ternProc) waitListening(addr string) error {
	deadline := time.Now().Add(startTimeout)
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("tern exited before listening on %s: %v", addr, p.waitErr)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listening on %s after %s: %v", addr, startTimeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and expects a clean exit (status 0) within stopTimeout; it fails the test
// on a hang, a non-zero exit or a data race report, and shows the server log on any failure.
func (p *ternProc) stop(t testing.TB) {
	select {
	case <-p.exited:
		t.Errorf("tern exited before the test ended: %v", p.waitErr)
	default:
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Errorf("SIGTERM tern: %v", err)
		}
		select {
		case <-p.exited:
			if p.waitErr != nil {
				t.Errorf("tern exited with %v after SIGTERM; want status 0 (graceful shutdown)", p.waitErr)
			}
		case <-time.After(stopTimeout):
			// SIGQUIT makes the Go runtime dump every goroutine into the log: the hang's cause.
			p.cmd.Process.Signal(syscall.SIGQUIT)
			select {
			case <-p.exited:
			case <-time.After(5 * time.Second):
				p.cmd.Process.Kill()
				<-p.exited
			}
			t.Errorf("tern did not exit within %s of SIGTERM; sent SIGQUIT (goroutine dump in the log)", stopTimeout)
		}
	}
	if log, err := os.ReadFile(p.logFile); err == nil && bytes.Contains(log, []byte("WARNING: DATA RACE")) {
		t.Errorf("the race detector reported a data race in tern (see log below)")
	}
	if t.Failed() {
		t.Logf("--- tern log %s (tail) ---\n%s", p.logFile, tail(p.logFile))
	}
}

// needPeer skips the test when an interop peer is missing on a developer machine, and fails
// it under CI=true, where .ci/run is responsible for installing every peer.
func needPeer(t testing.TB, what string, ok bool) {
	t.Helper()
	if ok {
		return
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("interop peer %s is missing; CI=true requires it (install it in .ci/run)", what)
	}
	t.Skipf("interop peer %s is not installed; skipping (run .ci/run or apt-get install it to test)", what)
}

func writeFile(t testing.TB, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// tail returns the last 256 KiB of a log file, enough for a failing test's context.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", path, err)
	}
	const max = 256 << 10 // room for a goroutine dump
	if len(b) > max {
		return "...(truncated)...\n" + string(b[len(b)-max:])
	}
	return string(b)
}
