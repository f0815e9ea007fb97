package e2e

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"html"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// uploadClient is an HTTPS client trusting p's self-signed localhost certificate.
func uploadClient(t *testing.T, p *ternProc) *http.Client {
	t.Helper()
	pem, err := os.ReadFile(filepath.Join(p.dataDir, "certs", "localhost.crt"))
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	return &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// uploadSection is an [upload] listener on 127.0.0.1:port, reached as https://localhost:port.
func uploadSection(port int) string {
	return fmt.Sprintf("[upload]\nlisten = \"127.0.0.1:%d\"\nurl = \"https://localhost:%d\"\n", port, port)
}

// download GETs url from p's upload service and returns the status and body.
func download(t *testing.T, p *ternProc, url string) (int, []byte, http.Header) {
	t.Helper()
	resp, err := uploadClient(t, p).Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, body, resp.Header
}

// TestDirectUpload: a file a clinician uploads with HTTP File Upload and
// shares with a contact at another Direct domain goes out as a Direct
// message (signed, encrypted to the contact's certificate), never as the
// link in the clear; the recipient's client gets the verified message with
// a download link on its own server, and the bytes are the ones uploaded.
// With no trusted certificate for the contact, the share is refused with
// the reason; a link that is not an upload of the sender's passes as it is.
func TestDirectUpload(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	portA, portB := freePort(t, "127.0.0.1"), freePort(t, "127.0.0.1")
	// A seals with the AS 1.3 algorithms: AES-256-GCM (authenticated-enveloped-data), RSA-OAEP.
	a, b := messagingPair(t, uploadSection(portA)+"\n[directmessages]\ncipher = \"aes256-gcm\"\nkey_transport = \"rsa-oaep\"\n", uploadSection(portB))
	nurse := dialRaw(t, &b.target, true)
	nurse.login(withDomain(b, "b.example"), "nurse@b.example")
	nurse.send("<presence/>")
	drjones := dialRaw(t, &a.target, true)
	drjones.login(withDomain(a, "a.example"), "drjones@a.example")
	drjones.send("<presence/>")

	doc := bytes.Repeat([]byte("%PDF-1.7 referral\n"), 2000)
	drjones.send(fmt.Sprintf("<iq type='get' to='upload.a.example' id='slot1'><request xmlns='urn:xmpp:http:upload:0' filename='referral.pdf' size='%d' content-type='application/pdf'/></iq>", len(doc)))
	res := expectWithin(drjones, `(?s)<iq[^>]*id=['"]slot1['"].*?</iq>`, rawTimeout)[0]
	m := regexp.MustCompile(`<put url=['"]([^'"]+)['"]>\s*<header name=['"]Authorization['"]>([^<]+)</header>`).FindStringSubmatch(res)
	if m == nil {
		t.Fatalf("slot: %s", res)
	}
	link := html.UnescapeString(m[1])
	req, _ := http.NewRequest("PUT", link, bytes.NewReader(doc))
	req.Header.Set("Authorization", m[2])
	req.Header.Set("Content-Type", "application/pdf")
	resp, err := uploadClient(t, a).Do(req)
	if err != nil || resp.StatusCode != 201 {
		t.Fatalf("PUT: %v %v", err, resp)
	}
	resp.Body.Close()

	share := func(to, id, link string) {
		drjones.send("<message to='" + to + "' type='chat' id='" + id + "'><body>" + html.EscapeString(link) + "</body><x xmlns='jabber:x:oob'><url>" +
			html.EscapeString(link) + "</url></x></message>")
	}
	share("nurse@b.example", "share1", link)
	sent := expectWithin(drjones, `(?s)<message[^>]*id=['"]share1-direct['"].*?</message>`, 30*time.Second)[0]
	if !strings.Contains(sent, "was sent to nurse@b.example as a Direct message") {
		t.Errorf("drjones's notice: %s", sent)
	}
	got := expectWithin(nurse, `(?s)<message[^>]*from=['"]drjones@a\.example['"][^>]*>.*?</message>`, 30*time.Second)[0]
	if !strings.Contains(got, "signature and trust verified") || !strings.Contains(got, "Attachment: referral.pdf (application/pdf") || strings.Contains(got, link) ||
		!strings.Contains(got, `cipher="AES-256-CBC"`) { // sealed from the file, streaming: GCM becomes CBC of its size
		t.Errorf("nurse's message (want verified, the attachment named, not A's link): %s", got)
	}
	dl := regexp.MustCompile(`<url>(https://localhost:\d+/upload/[0-9a-f]{48}/referral\.pdf)</url>`).FindStringSubmatch(got)
	if dl == nil || !strings.Contains(dl[1], fmt.Sprint(portB)) {
		t.Fatalf("nurse's message has no download link on B: %s", got)
	}
	if code, body, h := download(t, b, dl[1]); code != 200 || !bytes.Equal(body, doc) || h.Get("Content-Type") != "application/pdf" {
		t.Errorf("download: %d %s, %d bytes; want the %d bytes uploaded", code, h.Get("Content-Type"), len(body), len(doc))
	}

	// A message without files goes with the configured AES-256-GCM.
	if out, err := exec.Command(ternBin, "direct", "send", "--config", a.config, "--from", "drjones@a.example", "--to", "nurse@b.example",
		"--subject", "Note", "--text", "Call me.", "--wait", "0").CombinedOutput(); err != nil {
		t.Fatalf("send: %v\n%s", err, out)
	}
	if note := expectWithin(nurse, `(?s)<message[^>]*from=['"]drjones@a\.example['"][^>]*>.*?</message>`, 30*time.Second)[0]; !strings.Contains(note, `cipher="AES-256-GCM"`) {
		t.Errorf("a text message from A (cipher aes256-gcm): %s", note)
	}

	// No trusted certificate for the contact: refused, nothing sent.
	share("nobody@b.example", "share2", link)
	bounce := expectWithin(drjones, `(?s)<message[^>]*id=['"]share2['"].*?</message>`, 30*time.Second)[0]
	if !strings.Contains(bounce, `type="error"`) && !strings.Contains(bounce, `type='error'`) || !strings.Contains(bounce, "not-acceptable") || !strings.Contains(bounce, "no trusted certificate") {
		t.Errorf("share to an address without a certificate: %s", bounce)
	}
	// A link to the upload inside other text, spelled with another host: refused, not sent in the clear.
	other := strings.Replace(link, "https://localhost:", "https://127.0.0.1:", 1)
	drjones.send("<message to='nurse@b.example' type='chat' id='share4'><body>see " + html.EscapeString(other) + " please</body></message>")
	if b := expectWithin(drjones, `(?s)<message[^>]*id=['"]share4['"].*?</message>`, 30*time.Second)[0]; !strings.Contains(b, "not-acceptable") || !strings.Contains(b, "does not leave a Direct domain in the clear") {
		t.Errorf("a link inside text: %s", b)
	}
	// Another link is an ordinary chat message.
	share("nurse@b.example", "share3", "https://example.com/leaflet.pdf")
	plain := expectWithin(nurse, `(?s)<message[^>]*id=['"]share3['"].*?</message>`, 30*time.Second)[0]
	if !strings.Contains(plain, "https://example.com/leaflet.pdf") {
		t.Errorf("a plain link: %s", plain)
	}
}
