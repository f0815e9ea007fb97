package e2e

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDirectByReference: a document too large for a stanza (a 50 MB scan,
// which tern direct send passes by path and A seals streaming) goes by
// reference: A keeps the sealed bytes on its upload service under
// a random URL, the stanza carries the URL, size and SHA-256, B fetches
// them over HTTPS, checks the digest and runs the receive path as for an
// inline message; nurse gets the verified message with the document's
// download link on B; drjones gets processed and dispatched, and A then
// deletes the sealed bytes. B fetches into a file and opens it from
// there (decrypted, verified and the document taken out as it is read):
// neither server's memory grows by the document's size. The inbox keeps the
// message as a file, and tern direct export writes the document back.
func TestDirectByReference(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	portA, portB := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	// B trusts A's upload certificate (A's self-signed localhost one, known once A runs):
	// a placeholder first, then A's, and B restarted.
	caFile := filepath.Join(t.TempDir(), "fetch-ca.pem")
	writeFile(t, caFile, string(throwawayCert(t)))
	a, b := messagingPair(t, uploadSection(portA), uploadSection(portB)+fmt.Sprintf("\n[directmessages]\nfetch_private = true\nfetch_ca = [%q]\n", caFile))
	crt, err := os.ReadFile(filepath.Join(a.dataDir, "certs", "localhost.crt"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, caFile, string(crt))
	b.crash(t)
	b.restart(t)
	logHas(t, b, `(?s)e2e: restarted.*tern ready`, rawTimeout) // s2s and upload listen too

	nurse := dialRaw(t, &b.target, true)
	nurse.login(withDomain(b, "b.example"), "nurse@b.example")
	nurse.send("<presence/>")
	drjones := dialRaw(t, &a.target, true)
	drjones.login(withDomain(a, "a.example"), "drjones@a.example")
	drjones.send("<presence/>")

	idleA, idleB := memOf(t, a), memOf(t, b)
	scan := make([]byte, 50<<20) // over tern direct send's 8 MiB: passed by path, sealed streaming
	rand.Read(scan)
	doc := filepath.Join(t.TempDir(), "scan.pdf")
	writeFile(t, doc, string(scan))
	out, err := exec.Command(ternBin, "direct", "send", "--config", a.config, "--from", "drjones@a.example", "--to", "nurse@b.example",
		"--subject", "Imaging", "--text", "The scan.", "--wait", "5m", doc).CombinedOutput() // -race: minutes
	if err != nil || !strings.Contains(string(out), "nurse@b.example: sent <") || !strings.Contains(string(out), "by reference") ||
		!strings.Contains(string(out), "sealing and storing 52428800 bytes for each recipient...") || !strings.Contains(string(out), "nurse@b.example: dispatched") {
		t.Fatalf("send: %v\n%s\n--- A ---\n%s", err, out, tail(a.logFile))
	}
	got := expectWithin(nurse, `(?s)<message[^>]*from=['"]drjones@a\.example['"][^>]*>.*?</message>`, 60*time.Second)[0]
	if !strings.Contains(got, "signature and trust verified") || !strings.Contains(got, "Attachment: scan.pdf") {
		t.Fatalf("nurse's message: %s\n--- B ---\n%s", got, tail(b.logFile))
	}
	dl := regexp.MustCompile(`<url>(https://localhost:\d+/upload/[0-9a-f]{48}/scan\.pdf)</url>`).FindStringSubmatch(got)
	if dl == nil {
		t.Fatalf("no download link: %s", got)
	}
	if code, body, _ := download(t, b, dl[1]); code != 200 || !bytes.Equal(body, scan) {
		t.Errorf("download: %d, %d bytes; want the %d bytes sent", code, len(body), len(scan))
	}
	if n := notificationsFor(t, drjones, "nurse@b.example", 2); n["processed"] == "" || n["dispatched"] == "" {
		t.Errorf("drjones's notices: %v", n)
	}
	// Answered: A's copy of the sealed bytes is gone (the .json beside each file too).
	deadline := time.Now().Add(10 * time.Second)
	for {
		left, _ := filepath.Glob(filepath.Join(a.dataDir, "uploads", "*"))
		if len(left) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("A's upload directory still holds %v after the dispatched notification", left)
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	logHas(t, b, `Direct message accepted`, rawTimeout)
	// Streamed on both sides: the peak is far under the ~94 MB sealed, ~68 MB decrypted.
	for _, p := range []struct {
		name string
		idle procMem
		now  procMem
	}{{"A (seals, serves)", idleA, memOf(t, a)}, {"B (fetches, opens)", idleB, memOf(t, b)}} {
		t.Logf("%s: %d KiB resident idle, peak %d KiB (+%d KiB)", p.name, p.idle.rss, p.now.hwm, p.now.hwm-p.idle.rss)
		if grew := p.now.hwm - p.idle.rss; grew > 64<<10 && !raceEnabled { // the race detector's shadow memory is no measure
			t.Errorf("%s: peak memory %d KiB above idle while a 50 MB document went through; it must stay under 64 MiB", p.name, grew)
		}
	}
	if left, _ := filepath.Glob(filepath.Join(b.dataDir, "direct", "tmp", "*", "*")); len(left) > 0 {
		t.Errorf("B's direct/tmp holds %v after the message", left)
	}
	// The inbox: the message kept as a file, exported as sent.
	direct := func(args ...string) string { return ternDirect(t, b, args...) }
	kept, _ := filepath.Glob(filepath.Join(b.dataDir, "direct", "inbox", "*", "*.p7m"))
	mm := regexp.MustCompile(`(?m)^(\S+)\s+\S+\s+drjones@a\.example\s+"Imaging"\s+scan\.pdf$`).FindStringSubmatch(direct("inbox", "nurse@b.example"))
	if len(kept) != 1 || mm == nil {
		t.Fatalf("inbox: %v files, entry %v", kept, mm)
	}
	outDir := t.TempDir()
	direct("export", "nurse@b.example", mm[1], "--out", outDir)
	if got, err := os.ReadFile(filepath.Join(outDir, "scan.pdf")); err != nil || !bytes.Equal(got, scan) {
		t.Errorf("exported scan.pdf: %d bytes, %v; want the %d sent", len(got), err, len(scan))
	}
}

// procMem is a process's resident memory now and at its peak, in KiB.
type procMem struct{ rss, hwm int64 }

func memOf(t *testing.T, p *ternProc) procMem {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		t.Fatalf("tern's memory: %v", err)
	}
	var m procMem
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && f[0] == "VmRSS:" {
			fmt.Sscan(f[1], &m.rss)
		}
		if len(f) >= 2 && f[0] == "VmHWM:" {
			fmt.Sscan(f[1], &m.hwm)
		}
	}
	return m
}

// throwawayCert is a PEM certificate of no consequence.
func throwawayCert(t *testing.T) []byte {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "placeholder"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}
