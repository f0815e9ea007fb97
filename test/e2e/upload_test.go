package e2e

import (
	"bytes"
	"fmt"
	"html"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestHTTPUpload: HTTP File Upload (XEP-0363) through the binary. slixmpp's
// xep_0363 plugin finds the service, uploads a 3 MB file over HTTPS and
// fetches it back, and meets the errors (too large, no Authorization, a
// used slot, a path as name). Then a raw client's slot: the file survives
// a kill -9 and restart; a slot never used is freed after slot_timeout;
// deleting the account deletes its files.
func TestHTTPUpload(t *testing.T) {
	port := freePort(t, "127.0.0.1")
	p := startTern(t, ternOpts{ExtraTOML: fmt.Sprintf("\n[upload]\nlisten = \"127.0.0.1:%d\"\nurl = \"https://localhost:%d\"\nmax_file_size = 10485760\nslot_timeout = \"2s\"\n", port, port)})
	certFile := filepath.Join(p.dataDir, "certs", "localhost.crt")
	logHas(t, p, `HTTP file upload listening`, rawTimeout)

	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	dir := t.TempDir()
	pw := filepath.Join(dir, "password")
	writeFile(t, pw, p.password+"\n")
	doc := filepath.Join(dir, "scan.pdf")
	data := bytes.Repeat([]byte("%PDF-1.7 tern upload test\n"), 3_000_000/26)
	writeFile(t, doc, string(data))
	t.Setenv("SSL_CERT_FILE", certFile) // Python's default context trusts the server's self-signed certificate
	last, runErr, trace := runStepScript(t, dir, []string{filepath.Join("..", "interop", "upload.py"), "--trace", "--addr", p.c2s,
		"--alice", "alice@localhost", "--password-file", pw, "--file", doc}, 2*time.Minute)
	if runErr != nil || last.Step != "done" || !last.OK {
		t.Errorf("upload.py ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s", runErr, last.Step, last.Expected, last.Error, tail(trace))
	}

	hc := uploadClient(t, p)
	bob := dialRaw(t, &p.target, true)
	bob.login(&p.target, "bob@localhost")
	slot := func(id, name string, size int) (put, get, auth string) {
		t.Helper()
		bob.send(fmt.Sprintf("<iq type='get' to='upload.localhost' id='%s'><request xmlns='urn:xmpp:http:upload:0' filename='%s' size='%d' content-type='text/plain'/></iq>", id, name, size))
		res := expectWithin(bob, `(?s)<iq[^>]*id=['"]`+id+`['"].*?</iq>`, rawTimeout)[0]
		m := regexp.MustCompile(`<put url=['"]([^'"]+)['"]>\s*<header name=['"]Authorization['"]>([^<]+)</header>\s*</put>\s*<get url=['"]([^'"]+)['"]`).FindStringSubmatch(res)
		if m == nil {
			t.Fatalf("slot: %s", res)
		}
		return html.UnescapeString(m[1]), html.UnescapeString(m[3]), m[2]
	}
	do := func(method, url, auth string, body []byte) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, url, bytes.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		req.Header.Set("Content-Type", "text/plain")
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", method, url, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	put, get, auth := slot("s1", "notes.txt", 11)
	if code, b := do("PUT", put, auth, []byte("hello, tern")); code != 201 {
		t.Fatalf("PUT: %d %s", code, b)
	}
	if code, _ := do("PUT", put+"x", auth, []byte("hello, tern")); code != 404 {
		t.Errorf("PUT to another name: %d; want 404", code)
	}
	short, _, shortAuth := slot("s2", "short.txt", 100)
	if code, _ := do("PUT", short, shortAuth, []byte("only these")); code != 400 {
		t.Errorf("PUT of fewer bytes than asked: %d; want 400", code)
	}
	unused, _, _ := slot("s3", "never.txt", 5)

	p.crash(t)
	p.restart(t)
	var code int
	var body []byte
	for i := 0; i < 50; i++ { // the HTTPS listener comes up beside c2s
		req, _ := http.NewRequest("GET", get, nil)
		if resp, err := hc.Do(req); err == nil {
			code = resp.StatusCode
			body, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if code != 200 || string(body) != "hello, tern" {
		t.Errorf("GET after kill -9 and restart: %d %q", code, body)
	}
	time.Sleep(2500 * time.Millisecond) // past slot_timeout
	if code, _ := do("PUT", unused, auth, []byte("hello")); code != 404 {
		t.Errorf("PUT to an expired slot: %d; want 404", code)
	}
	if out, err := exec.Command(ternBin, "user", "del", "--config", p.config, "--yes", "bob@localhost").CombinedOutput(); err != nil {
		t.Fatalf("tern user del: %v\n%s", err, out)
	}
	if code, _ := do("GET", get, "", nil); code != 404 {
		t.Errorf("GET after the owner's account was deleted: %d; want 404", code)
	}
	if n, _ := filepath.Glob(filepath.Join(p.dataDir, "uploads", "*")); len(n) != 2*2 { // alice's two files, each with its .json
		t.Errorf("upload directory after bob's deletion: %v", strings.Join(n, " "))
	}
}
