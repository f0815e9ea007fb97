package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDirectMessages: a Direct message between two tern instances
// (docs/direct-messages.md). `tern direct send` on A seals a message from
// drjones@a.example (signed with the key `tern direct cert add` stored,
// encrypted to the certificate peer introduction found for
// nurse@b.example) and sends it over the Direct s2s stream; B opens it with
// nurse's stored key, checks the signer against b.example's circles and
// delivers nurse's client a chat message saying what was verified, with the
// text and the attachment named. A recipient without a trusted certificate
// gets nothing; a message signed by a CA outside B's circles is refused by
// B (not-acceptable with the rule, turned by A into a notice for the
// sender's clients) and never reaches nurse. B notifies drjones that the
// accepted message was processed (a signed, encrypted MDN, itself never
// answered); nurse's inbox keeps it, its document exported as sent. Both
// audit trails record it all, digests and no content,
// their hash chains intact.
// messagingPair starts A (a.example: drjones@ with orga's certificate, rogue@ with orgd's)
// and B (b.example: nurse@), each trusting the other's CA, the keys stored with
// `tern direct cert add`; extraA and extraB are more TOML for each.
func messagingPair(t *testing.T, extraA, extraB string) (a, b *ternProc) {
	t.Helper()
	return messagingPairQuota(t, extraA, extraB, 0)
}

// messagingPairQuota is messagingPair with B's offline quota set (0: the default).
func messagingPairQuota(t *testing.T, extraA, extraB string, quotaB int) (a, b *ternProc) {
	t.Helper()
	a, b, _ = messagingPairWith(t, pairOpts{extraA: extraA, extraB: extraB, quotaB: quotaB})
	return a, b
}

// pairOpts: more TOML for A and B, B's offline quota (0: the default), more users of A
// (without certificates).
type pairOpts struct {
	extraA, extraB string
	quotaB         int
	usersA         []string
}

// messagingPairWith is messagingPair with opts; it returns the lab's CAs too.
func messagingPairWith(t *testing.T, o pairOpts) (a, b *ternProc, l *directLab) {
	t.Helper()
	extraA, extraB, quotaB := o.extraA, o.extraB, o.quotaB
	// B seals its Direct private keys with a key of its own ([keys] file), A with its secret.
	keyFile := filepath.Join(t.TempDir(), "sealing.key")
	writeFile(t, keyFile, strings.Repeat("5a", 32)+"\n")
	os.Chmod(keyFile, 0o600)
	extraB += fmt.Sprintf("\n[keys]\nfile = %q\n", keyFile)
	l = &directLab{dir: t.TempDir()}
	pn := nextPeerNet()
	httpA := net.JoinHostPort(pn.tern, fmt.Sprint(freePort(t, pn.tern)))
	httpB := net.JoinHostPort(pn.tern2, fmt.Sprint(freePort(t, pn.tern2)))
	ternCert(t, "init", "--dir", l.ca("orga"), "--name", "orga", "--url", "http://"+httpA)
	ternCert(t, "init", "--dir", l.ca("orgb"), "--name", "orgb", "--url", "http://"+httpB)
	ternCert(t, "init", "--dir", l.ca("orgd"), "--name", "orgd", "--url", "http://"+httpA)
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--domain", "b.example")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--address", "drjones@a.example")
	ternCert(t, "issue", "--dir", l.ca("orgd"), "--address", "rogue@a.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "nurse@b.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--address", "ghost@b.example")
	anchors := func(ca string) string {
		return "[[trust.circle]]\nname = \"partners\"\nanchors = [\"" + filepath.Join(l.ca(ca), "ca.pem") + "\"]\n"
	}
	domain := func(name, ca string) []directDomain {
		crt, key := l.issued(ca, name)
		return []directDomain{{name: name, cert: crt, key: key, circles: `["partners"]`}}
	}
	b = startDirectTern(t, directOpts{ip: pn.tern2, http: httpB, pkiDirs: []string{l.ca("orgb")},
		routes: map[string]string{"a.example": pn.tern}, circles: anchors("orga"), domains: domain("b.example", "orgb"),
		users: []string{"nurse@b.example", "ghost@b.example"}, extra: extraB, quota: quotaB})
	a = startDirectTern(t, directOpts{ip: pn.tern, http: httpA, pkiDirs: []string{l.ca("orga"), l.ca("orgd")},
		routes: map[string]string{"b.example": pn.tern2}, circles: anchors("orgb"), domains: domain("a.example", "orga"),
		users: append([]string{"drjones@a.example", "rogue@a.example"}, o.usersA...), extra: extraA})
	addCert := func(p *ternProc, ca, address string) {
		t.Helper()
		crt, key := l.issued(ca, address)
		if out, err := exec.Command(ternBin, "direct", "cert", "--config", p.config, "add", address, "--cert", crt, "--key", key).CombinedOutput(); err != nil {
			t.Fatalf("tern direct cert add %s: %v\n%s", address, err, out)
		}
	}
	addCert(a, "orga", "drjones@a.example")
	addCert(a, "orgd", "rogue@a.example")
	addCert(b, "orgb", "nurse@b.example")
	addCert(b, "orgb", "ghost@b.example")

	return a, b, l
}

func TestDirectMessages(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	a, b := messagingPair(t, "", "")
	nurse := dialRaw(t, &b.target, true)
	nurse.login(withDomain(b, "b.example"), "nurse@b.example")
	nurse.send("<presence/>")
	drjones := dialRaw(t, &a.target, true)
	drjonesFull := drjones.login(withDomain(a, "a.example"), "drjones@a.example")
	drjones.send("<presence/>")
	rogue := dialRaw(t, &a.target, true)
	rogue.login(withDomain(a, "a.example"), "rogue@a.example")
	rogue.send("<presence/>")

	doc := filepath.Join(t.TempDir(), "summary.xml")
	writeFile(t, doc, "<ClinicalDocument xmlns='urn:hl7-org:v3'><title>Discharge</title></ClinicalDocument>\n")
	pdf := filepath.Join(t.TempDir(), "discharge.pdf")
	pdfData := "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n" // binary bytes: base64 on the way
	writeFile(t, pdf, pdfData)
	send := func(from, to string, wait ...string) (string, int) {
		t.Helper()
		args := append([]string{"direct", "send", "--config", a.config, "--from", from, "--to", to,
			"--subject", "Discharge summary", "--text", "Mr Smith went home today."}, wait...)
		out, err := exec.Command(ternBin, append(args, doc, pdf)...).CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	out, code := send("drjones@a.example", "nurse@b.example")
	if code != 0 || !strings.Contains(out, "nurse@b.example: sent <") || !strings.Contains(out, "peer b.example") {
		t.Fatalf("send: exit %d\n%s\n--- A ---\n%s", code, out, tail(a.logFile))
	}
	// tern direct send waits (--wait, 15s by default) and prints the outcome.
	if !strings.Contains(out, "nurse@b.example: processed (accepted by its server") || !strings.Contains(out, "nurse@b.example: dispatched (delivered to the recipient)") {
		t.Errorf("send's outcome: %s", out)
	}
	m := expectWithin(nurse, `(?s)<message[^>]*from=['"]drjones@a\.example['"][^>]*>.*?</message>`, 20*time.Second)[0]
	for _, want := range []string{"type=\"chat\"|type='chat'", "Discharge summary", "signature and trust verified", "address-bound",
		"Attachment: summary.xml", "Attachment: discharge.pdf \\(application/pdf", "Mr Smith went home today.", "urn:tern:direct:message:0"} {
		if !regexp.MustCompile(want).MatchString(m) {
			t.Errorf("nurse's message lacks %q:\n%s", want, m)
		}
	}
	if strings.Contains(m, "<direct ") {
		t.Errorf("nurse got the S/MIME bytes, not the verified message:\n%s", m)
	}
	// B's "processed" notification (RFC 3798, signed by nurse's certificate and encrypted
	// to drjones's, which B found by asking A) reaches drjones's clients as a notice.
	// And, nurse's client having taken it, "dispatched" with X-DIRECT-FINAL-DESTINATION-DELIVERY
	// (tern senders ask for timely and reliable delivery); the two may come in either order.
	notices := notificationsFor(t, drjones, "nurse@b.example", 2)
	if !strings.Contains(notices["processed"], "was accepted by its recipient's server (processed)") || !strings.Contains(notices["dispatched"], "was delivered to its recipient (dispatched)") {
		t.Errorf("drjones's notices: %v", notices)
	}

	out, code = send("drjones@a.example", "nobody@b.example")
	if code != 1 || !strings.Contains(out, "nobody@b.example: FAILED: no trusted certificate") {
		t.Errorf("send to an address without a certificate: exit %d\n%s", code, out)
	}

	// rogue@'s certificate comes from orgd, in none of b.example's circles.
	out, code = send("rogue@a.example", "nurse@b.example")
	if code != 1 || !strings.Contains(out, "nurse@b.example: sent <") || !strings.Contains(out, "nurse@b.example: FAILED: refused by its server (rule untrusted)") {
		t.Fatalf("send as rogue (A does not judge its own signer; B refuses it): exit %d\n%s", code, out)
	}
	notice := expectWithin(rogue, `(?s)<message[^>]*from=['"]a\.example['"][^>]*>.*?</message>`, 20*time.Second)[0]
	if !strings.Contains(notice, "was refused by its server") || !strings.Contains(notice, "not-acceptable") || !strings.Contains(notice, `rule="untrusted"`) {
		t.Errorf("rogue's notice: %s; want the refusal, not-acceptable, naming the rule untrusted", notice)
	}
	logHas(t, b, `Direct message refused.*rule=untrusted`, rawTimeout)

	// A refusal A did not ask for (nurse writes it herself, naming a message
	// drjones never sent) is no refusal: it reaches drjones as the error it
	// is, from nurse, not as a notice from a.example.
	// (To the full JID: an error to a bare JID is dropped, RFC 6121 §8.5.2.1.1.)
	nurse.send(`<message type='error' to='` + drjonesFull + `' id='forged1'><direct xmlns='urn:tern:direct:message:0' message-id='&lt;forged@a.example&gt;' rule='untrusted'/>` +
		`<error type='modify'><not-acceptable xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></message>`)
	forged := expectWithin(drjones, `(?s)<message[^>]*id=['"]forged1[^>]*>.*?</message>`, 20*time.Second)[0]
	if !regexp.MustCompile(`from=['"]nurse@b\.example`).MatchString(forged) || !strings.Contains(forged, `type="error"`) && !strings.Contains(forged, `type='error'`) {
		t.Errorf("the forged refusal reached drjones as: %s; want the error from nurse, unchanged", forged)
	}

	// A client cannot send a <verified/> element to another server (it would come back in
	// an error reply, asking for a signed notification): A removes it on the way out.
	rogue.send("<message to='b.example' type='chat' id='forged2'><body>x</body><verified xmlns='urn:tern:direct:message:0' message-id='&lt;forged2@a.example&gt;' subject='s'/></message>")
	logHas(t, a, `elements of the Direct message namespace removed from a message for another server`, rawTimeout)

	// An address that no longer has an account (deleted after A learnt
	// its certificate, which A keeps for [discovery] peer_cache): B refuses
	// it unopened, service-unavailable with the rule recipient-unknown.
	if out, code := send("drjones@a.example", "ghost@b.example", "--wait", "0"); code != 0 {
		t.Fatalf("send to ghost: exit %d\n%s", code, out)
	}
	if n := notificationsFor(t, drjones, "ghost@b.example", 1); n["processed"] == "" {
		t.Errorf("drjones's notice for ghost: %v; want processed (ghost is offline: no dispatched yet)", n)
	}
	// ghost logs in and fetches the message: then dispatched.
	ghost := dialRaw(t, &b.target, true)
	ghost.login(withDomain(b, "b.example"), "ghost@b.example")
	ghost.send("<presence/>")
	expectWithin(ghost, `(?s)<message[^>]*from=['"]drjones@a\.example['"][^>]*>.*?signature and trust verified.*?</message>`, 20*time.Second)
	if n := notificationsFor(t, drjones, "ghost@b.example", 1); n["dispatched"] == "" {
		t.Errorf("drjones's notice once ghost fetched the message: %v; want dispatched", n)
	}
	if out, err := exec.Command(ternBin, "user", "del", "--config", b.config, "--yes", "ghost@b.example").CombinedOutput(); err != nil {
		t.Fatalf("tern user del ghost: %v\n%s", err, out)
	}
	if out, code := send("drjones@a.example", "ghost@b.example", "--wait", "0"); code != 0 {
		t.Fatalf("send to deleted ghost (A's cached certificate): exit %d\n%s", code, out)
	}
	gone := expectWithin(drjones, `(?s)<message[^>]*from=['"]a\.example['"][^>]*>.*?</message>`, 20*time.Second)[0]
	if !strings.Contains(gone, "was refused by its server") || !strings.Contains(gone, "service-unavailable") || !strings.Contains(gone, `rule="recipient-unknown"`) {
		t.Errorf("drjones's notice for the deleted ghost: %s", gone)
	}
	// The audit trails of both sides: what happened, with digests and no content;
	// the hash chains intact.
	logOf := func(p *ternProc, args ...string) string {
		t.Helper()
		out, err := exec.Command(ternBin, append([]string{"direct", "log", "--config", p.config}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("tern direct log %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	aLog, bLog := logOf(a), logOf(b, "--json")
	for _, want := range []string{`sent\s+drjones@a\.example -> nurse@b\.example <\w+@a\.example> sha256 [0-9a-f]{16}`,
		`failed\s+drjones@a\.example -> nobody@b\.example`, `sent\s+rogue@a\.example -> nurse@b\.example`,
		`refused-by-peer rogue@a\.example -> nurse@b\.example <\w+@a\.example> rule untrusted`,
		`mdn-received\s+drjones@a\.example <- nurse@b\.example <\w+@a\.example> rule processed`,
		`mdn-received\s+drjones@a\.example <- nurse@b\.example <\w+@a\.example> rule dispatched`,
		`refused-by-peer drjones@a\.example -> ghost@b\.example <\w+@a\.example> rule recipient-unknown`} {
		if !regexp.MustCompile(want).MatchString(aLog) {
			t.Errorf("A's audit trail lacks %s:\n%s", want, aLog)
		}
	}
	for _, want := range []string{`"event":"received","address":"nurse@b.example","peer":"drjones@a.example"`,
		`"event":"rejected","address":"nurse@b.example","peer":"rogue@a.example"`, `"rule":"untrusted"`,
		`"event":"mdn-sent","address":"nurse@b.example","peer":"drjones@a.example"`} {
		if !strings.Contains(bLog, want) {
			t.Errorf("B's audit trail lacks %s:\n%s", want, bLog)
		}
	}
	if strings.Contains(aLog, "forged@") || strings.Contains(aLog, "forged2@") {
		t.Errorf("A recorded the forged refusal:\n%s", aLog)
	}
	if strings.Contains(aLog, "mdn-sent") {
		t.Errorf("A answered B's notification with another:\n%s", aLog)
	}
	if strings.Contains(aLog+bLog, "Mr Smith") {
		t.Error("document content in the audit trail")
	}
	for _, p := range []*ternProc{a, b} {
		if out := logOf(p, "--verify"); !strings.Contains(out, "chain intact") {
			t.Errorf("--verify: %s", out)
		}
	}
	// received, rejected (rogue), processed and dispatched sent.
	if out := logOf(b, "--address", "nurse@b.example"); strings.Count(out, "nurse@b.example") != 4 || !regexp.MustCompile(`mdn-sent\s+nurse@b\.example -> drjones@a\.example <\w+@a\.example>.* rule dispatched`).MatchString(out) {
		t.Errorf("--address nurse@b.example: %s", out)
	}

	// nurse's inbox on B: the accepted message only, its document exported as sent.
	direct := func(args ...string) string { return ternDirect(t, b, args...) }
	inbox := direct("inbox", "nurse@b.example")
	mm := regexp.MustCompile(`(?m)^(\S+)\s+\S+\s+drjones@a\.example\s+"Discharge summary"\s+summary\.xml, discharge\.pdf$`).FindStringSubmatch(inbox)
	if mm == nil || !strings.Contains(inbox, "1 message(s)") {
		t.Fatalf("inbox:\n%s", inbox)
	}
	if show := direct("show", "nurse@b.example", mm[1]); !strings.Contains(show, "Mr Smith went home today.") || !strings.Contains(show, "Attachment: summary.xml") {
		t.Errorf("show:\n%s", show)
	}
	outDir := t.TempDir()
	direct("export", "nurse@b.example", mm[1], "--out", outDir)
	if got, err := os.ReadFile(filepath.Join(outDir, "summary.xml")); err != nil || string(got) != "<ClinicalDocument xmlns='urn:hl7-org:v3'><title>Discharge</title></ClinicalDocument>\n" {
		t.Errorf("exported summary.xml: %q, %v", got, err)
	}
	if got, err := os.ReadFile(filepath.Join(outDir, "discharge.pdf")); err != nil || string(got) != pdfData {
		t.Errorf("exported discharge.pdf: %q, %v", got, err)
	}
	if eml, err := os.ReadFile(filepath.Join(outDir, "message.eml")); err != nil || !strings.Contains(string(eml), "Subject: Discharge summary") {
		t.Errorf("exported message.eml: %v\n%s", err, eml)
	}

	nurse.send("<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
	got := expectWithin(nurse, `(?s).*?<iq[^>]*id=['"]ping1['"]`, rawTimeout)[0]
	if strings.Contains(got, "rogue@a.example") {
		t.Errorf("nurse received rogue's refused message:\n%s", got)
	}
}

// TestDirectMessageTimeout: a recipient's server that cannot send the
// "processed" notification (B finds no certificate of the sender: it asks
// DNS only, and its resolver does not answer): past
// [directmessages] processed_timeout the sender's clients are told the
// message failed, once, and A's audit trail records the time-out.
func TestDirectMessageTimeout(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	a, b := messagingPair(t, "[directmessages]\nprocessed_timeout = \"3s\"\n", "[discovery]\norder = [\"dns\"]\n\n[dns]\nresolver = \"127.0.0.1:9\"\n")
	drjones := dialRaw(t, &a.target, true)
	drjones.login(withDomain(a, "a.example"), "drjones@a.example")
	drjones.send("<presence/>")
	out, err := exec.Command(ternBin, "direct", "send", "--config", a.config, "--from", "drjones@a.example", "--to", "nurse@b.example",
		"--subject", "Referral", "--text", "Please see Mr Smith.", "--wait", "20s").CombinedOutput()
	if !strings.Contains(string(out), "nurse@b.example: sent") || !strings.Contains(string(out), "nurse@b.example: FAILED: no processed notification from nurse@b.example within 3s") {
		t.Fatalf("send (waiting for the outcome): %v\n%s", err, out)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Errorf("send: %v; want exit 1 for a recipient that failed", err)
	}
	notice := expectWithin(drjones, `(?s)<message[^>]*from=['"]a\.example['"][^>]*>.*?</message>`, 20*time.Second)[0]
	if !strings.Contains(notice, "failed: no processed notification from nurse@b.example within 3s") || !strings.Contains(notice, `reason="timeout"`) {
		t.Errorf("drjones's notice: %s", notice)
	}
	logOut, err := exec.Command(ternBin, "direct", "log", "--config", a.config, "--address", "drjones@a.example").CombinedOutput()
	if err != nil || !regexp.MustCompile(`failed\s+drjones@a\.example -> nurse@b\.example <\w+@a\.example> rule timeout`).Match(logOut) {
		t.Errorf("A's audit trail: %v\n%s", err, logOut)
	}
	logHas(t, b, `processed notification not sent`, rawTimeout)
	time.Sleep(4 * time.Second) // more scans: the sender is told once
	drjones.send("<iq type='get' id='ping2'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := expectWithin(drjones, `(?s).*?<iq[^>]*id=['"]ping2['"]`, rawTimeout)[0]; strings.Contains(got, "-timeout") {
		t.Errorf("a second time-out notice: %s", got)
	}
}

// notificationsFor reads n notices from the sender's own domain about messages to rcpt and
// returns them by disposition.
func notificationsFor(t *testing.T, c *rawClient, rcpt string, n int) map[string]string {
	t.Helper()
	out := map[string]string{}
	re := regexp.MustCompile(`disposition="([a-z]+)"`)
	for len(out) < n {
		m := expectWithin(c, `(?s)<message[^>]*from=['"]a\.example['"][^>]*>.*?</message>`, 30*time.Second)[0]
		if !strings.Contains(m, rcpt) {
			t.Fatalf("a notice about another recipient than %s: %s", rcpt, m)
		}
		d := re.FindStringSubmatch(m)
		if d == nil {
			t.Fatalf("a notice without a disposition: %s", m)
		}
		out[d[1]] = m
	}
	return out
}

// TestDirectFailedAfterProcessed: a message that passes the checks but
// cannot be delivered (the recipient is offline and its offline storage is
// full: ETT MT 41) gets "processed", then a signed "failed" notification
// with the reason; the error that would carry the message's text never
// leaves B; the sender is told it failed, and nothing times out later.
func TestDirectFailedAfterProcessed(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	a, b := messagingPairQuota(t, "", "", 1)
	drjones := dialRaw(t, &a.target, true)
	drjones.login(withDomain(a, "a.example"), "drjones@a.example")
	drjones.send("<presence/>")
	send := func(text string) {
		t.Helper()
		out, err := exec.Command(ternBin, "direct", "send", "--config", a.config, "--from", "drjones@a.example", "--to", "nurse@b.example",
			"--subject", "Lab results", "--text", text, "--wait", "0").CombinedOutput()
		if err != nil {
			t.Fatalf("send: %v\n%s", err, out)
		}
	}
	send("First: stored for nurse, who is offline.")
	if n := notificationsFor(t, drjones, "nurse@b.example", 1); n["processed"] == "" {
		t.Fatalf("first message: %v; want processed", n)
	}
	send("Second: nurse's offline storage is full.")
	n := notificationsFor(t, drjones, "nurse@b.example", 2)
	if n["processed"] == "" || !strings.Contains(n["failed"], "failed") {
		t.Fatalf("second message: %v; want processed then failed", n)
	}
	logHas(t, b, `verified Direct message not delivered; the sender gets a failed notification`, rawTimeout)
	if raw, _ := os.ReadFile(a.logFile); strings.Contains(string(raw), "Second: nurse's offline storage is full.") {
		t.Error("the text of the undelivered message reached A in the clear")
	}
	out, err := exec.Command(ternBin, "direct", "log", "--config", a.config).CombinedOutput()
	if err != nil || !regexp.MustCompile(`mdn-received\s+drjones@a\.example <- nurse@b\.example <\w+@a\.example> rule failed`).Match(out) {
		t.Errorf("A's audit trail: %v\n%s", err, out)
	}
	drjones.send("<iq type='get' id='ping3'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := expectWithin(drjones, `(?s).*?<iq[^>]*id=['"]ping3['"]`, rawTimeout)[0]; strings.Contains(got, "<message") && !strings.Contains(got, "a.example") {
		t.Errorf("drjones got the raw error: %s", got)
	}
}

// TestDirectSenderRestart: the sender's server is killed (kill -9) right
// after a message left; restarted, it still knows the message awaits its
// notification: past the time-out the sender is told it failed (the scan
// at start-up and after), once.
func TestDirectSenderRestart(t *testing.T) {
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	a, _ := messagingPair(t, "[directmessages]\nprocessed_timeout = \"4s\"\n", "[discovery]\norder = [\"dns\"]\n\n[dns]\nresolver = \"127.0.0.1:9\"\n")
	out, err := exec.Command(ternBin, "direct", "send", "--config", a.config, "--from", "drjones@a.example", "--to", "nurse@b.example",
		"--subject", "Referral", "--text", "Please see Mr Smith.", "--wait", "0").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "nurse@b.example: sent") {
		t.Fatalf("send: %v\n%s", err, out)
	}
	a.crash(t)
	a.restart(t)
	drjones := dialRaw(t, &a.target, true)
	drjones.login(withDomain(a, "a.example"), "drjones@a.example")
	drjones.send("<presence/>")
	notice := expectWithin(drjones, `(?s)<message[^>]*from=['"]a\.example['"][^>]*>.*?</message>`, 20*time.Second)[0]
	if !strings.Contains(notice, "failed: no processed notification from nurse@b.example within 4s") {
		t.Errorf("drjones's notice after the restart: %s", notice)
	}
	time.Sleep(5 * time.Second)
	drjones.send("<iq type='get' id='ping4'><ping xmlns='urn:xmpp:ping'/></iq>")
	if got := expectWithin(drjones, `(?s).*?<iq[^>]*id=['"]ping4['"]`, rawTimeout)[0]; strings.Contains(got, "-timeout") {
		t.Errorf("a second time-out notice: %s", got)
	}
}

// ternDirect runs `tern direct ARGS... --config` of p and returns its
// output; a failure fails the test.
func ternDirect(t *testing.T, p *ternProc, args ...string) string {
	t.Helper()
	out, err := exec.Command(ternBin, append([]string{"direct"}, append(args, "--config", p.config)...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tern direct %v: %v\n%s", args, err, out)
	}
	return string(out)
}
