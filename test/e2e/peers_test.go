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
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// python is Debian's interpreter: pyenv's python3 on PATH cannot import apt's slixmpp.
const python = "/usr/bin/python3"

var (
	slixmppOnce sync.Once
	slixmppOK   bool
)

// haveSlixmpp reports whether /usr/bin/python3 can import slixmpp (apt: python3-slixmpp).
func haveSlixmpp() bool {
	slixmppOnce.Do(func() {
		slixmppOK = exec.Command(python, "-c", "import slixmpp").Run() == nil
	})
	return slixmppOK
}

func haveProsody() bool {
	_, err1 := exec.LookPath("prosody")
	_, err2 := exec.LookPath("prosodyctl")
	return err1 == nil && err2 == nil
}

// forEachServer runs f as a parallel subtest against tern and against Prosody (the reference),
// each with a fresh server holding users alice and bob; TERN_E2E_SERVERS narrows the set.
func forEachServer(t *testing.T, f func(t *testing.T, srv *target)) {
	t.Helper()
	forEachServerWith(t, ternOpts{}, f)
}

// forEachServerWith is forEachServer with tern started with opts.
func forEachServerWith(t *testing.T, opts ternOpts, f func(t *testing.T, srv *target)) {
	t.Helper()
	starts := []struct {
		name  string
		start func(t *testing.T) *target
	}{
		{"tern", func(t *testing.T) *target { return &startTern(t, opts).target }},
		{"prosody", func(t *testing.T) *target { return startProsody(t, "localhost", "alice", "bob") }},
	}
	for _, s := range starts {
		if !wantServer(s.name) {
			continue
		}
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			f(t, s.start(t))
		})
	}
}

// startProsody runs Prosody (../interop/prosody.cfg.lua) on its own loopback address with
// the given users, and stops it with SIGTERM on cleanup.
func startProsody(t *testing.T, domain string, users ...string) *target {
	t.Helper()
	if testing.Short() {
		t.Skip("e2e: skipped in -short mode")
	}
	needPeer(t, "prosody (apt-get install prosody)", haveProsody())
	cfg, err := filepath.Abs(filepath.Join("..", "interop", "prosody.cfg.lua"))
	if err != nil {
		t.Fatal(err)
	}
	run := t.TempDir()
	ip := nextLoopback()
	c2s, c2sTLS := freePort(t, ip), freePort(t, ip)
	srv := &target{
		name: "prosody", domain: domain, ip: ip,
		c2s:      net.JoinHostPort(ip, fmt.Sprint(c2s)),
		c2sTLS:   net.JoinHostPort(ip, fmt.Sprint(c2sTLS)),
		password: randomPassword(t),
		logFile:  filepath.Join(run, "prosody.log"),
		lacks: map[string]string{
			"SCRAM-SHA-256":      "Prosody 0.12 with internal_hashed offers only SCRAM-SHA-1 and PLAIN",
			"SCRAM-SHA-256-PLUS": "Prosody 0.12 has no SCRAM-SHA-256 and no tls-exporter channel binding",
		},
		deviations: map[string]string{
			"unsubscribe-unavailable-bob": "Prosody 0.12 sends no unavailable presence to the unsubscriber (RFC 6121 §3.3.3)",
		},
	}
	writeSelfSigned(t, run, domain)
	env := append(os.Environ(), "PEER_RUN="+run, "PEER_DOMAIN="+domain, "PEER_IP="+ip,
		fmt.Sprintf("PEER_C2S=%d", c2s), fmt.Sprintf("PEER_C2S_TLS=%d", c2sTLS))
	for _, u := range users {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "prosodyctl", "--config", cfg, "register", u, domain, srv.password)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("prosodyctl register %s: %v\n%s", u, err, out)
		}
		srv.users = append(srv.users, u+"@"+domain)
	}
	runProsody(t, cfg, env, filepath.Join(run, "stdout.log"), func(stdout string) {
		if t.Failed() {
			t.Logf("--- prosody log %s (tail) ---\n%s\n%s", srv.logFile, tail(srv.logFile), tail(stdout))
		}
	})
	deadline := time.Now().Add(startTimeout)
	for _, addr := range []string{srv.c2s, srv.c2sTLS} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("prosody not listening on %s: %v\n%s", addr, err, tail(filepath.Join(run, "stdout.log")))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return srv
}

// writeSelfSigned writes <domain>.crt and <domain>.key (ECDSA P-256) for domain into dir.
func writeSelfSigned(t testing.TB, dir, domain string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: domain},
		DNSNames:     []string{domain, "*." + domain},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, domain+".crt"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	writeFile(t, filepath.Join(dir, domain+".key"), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})))
}

// localpart returns the part of a bare JID before '@'.
func localpart(bare string) string {
	l, _, _ := strings.Cut(bare, "@")
	return l
}

// runProsody starts `prosody --config cfg -F` with env, output to stdout (a file path), and
// stops it in t.Cleanup (SIGTERM, then kill after stopTimeout, which fails the test); onStop
// runs after it exited, to show logs. It returns the channel that receives the exit (Wait) result.
func runProsody(t *testing.T, cfg string, env []string, stdout string, onStop func(stdout string)) chan error {
	t.Helper()
	out, err := os.Create(stdout)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("prosody", "--config", cfg, "-F")
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start prosody: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait(); out.Close() }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(stopTimeout):
			cmd.Process.Kill()
			<-exited
			t.Errorf("prosody did not exit within %s of SIGTERM; killed it", stopTimeout)
		}
		onStop(stdout)
	})
	return exited
}
