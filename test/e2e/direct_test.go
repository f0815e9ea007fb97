package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/xdg-go/scram"

	"github.com/tern-xmpp/tern/internal/pki/ca"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

// Direct trust end to end (TIM+; docs/direct-trust.md): two tern instances on loopback, each
// with its own lab CA made by the real `tern cert` commands, each domain Direct with a circle
// holding the other's CA bundle (A reads B's from a file, B fetches A's over A's HTTP
// listener at /pki/). Certificates are made at test time, valid relative to now.

// ternCert runs `tern cert ARGS...` and returns its output; a failure fails the test.
func ternCert(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, ternBin, append([]string{"cert"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("tern cert %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// directLab is the PKI and the two servers of the Direct tests.
type directLab struct {
	dir        string // lab/<ca>/...
	ipA        string
	httpA      string
	httpB      string
	netPrefix  string // "127.0.N."
	a, b       *ternProc
	aliceA     *rawClient
	aliceAFull string
	routesA    map[string]string // peer domain -> loopback IP, fixed before A starts
}

func (l *directLab) ca(name string) string { return filepath.Join(l.dir, name) }

// issued is the certificate and key `tern cert issue` wrote for domain.
func (l *directLab) issued(caName, domain string) (string, string) {
	d := filepath.Join(l.ca(caName), "issued")
	return filepath.Join(d, domain+".pem"), filepath.Join(d, domain+".key")
}

// refusalCases are the peers A must refuse, one loopback address each.
var refusalCases = []string{"untrusted", "othercircle", "expired", "notyetvalid", "revoked", "nocrldp", "crlunreachable", "wrongsan", "nointermediate"}

func newDirectLab(t *testing.T) *directLab {
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
	pn := nextPeerNet()
	l := &directLab{dir: t.TempDir(), netPrefix: strings.TrimSuffix(pn.tern, "1"), routesA: map[string]string{}}
	l.ipA = pn.tern
	l.httpA = net.JoinHostPort(pn.tern, fmt.Sprint(freePort(t, pn.tern)))
	l.httpB = net.JoinHostPort(pn.tern2, fmt.Sprint(freePort(t, pn.tern2)))
	// orga: A's CA (RSA); orgb: B's, a root with an issuing intermediate (ECDSA); orgc: in
	// the circle of A's second Direct domain only; orgd: in no circle; orge: in A's circle,
	// its CRL distribution point on an address where nothing listens.
	ternCert(t, "init", "--dir", l.ca("orga"), "--name", "orga", "--url", "http://"+l.httpA)
	ternCert(t, "init", "--dir", l.ca("orgb"), "--name", "orgb", "--key", "ecdsa", "--intermediate", "--url", "http://"+l.httpB)
	ternCert(t, "init", "--dir", l.ca("orgc"), "--name", "orgc", "--key", "ecdsa", "--url", "http://"+l.httpA)
	ternCert(t, "init", "--dir", l.ca("orgd"), "--name", "orgd", "--key", "ecdsa", "--url", "http://"+l.httpA)
	ternCert(t, "init", "--dir", l.ca("orge"), "--name", "orge", "--key", "ecdsa", "--url", "http://"+l.httpA,
		"--crl-url", "http://"+net.JoinHostPort(pn.down, "80")+"/pki/orge/crl.der")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a.example")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a2.example")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a3.example")
	ternCert(t, "issue", "--dir", l.ca("orgb"), "--domain", "b.example", "--key", "ecdsa")

	l.routesA["b.example"] = pn.tern2
	l.routesA["ftproxystream.b.example"] = pn.tern2
	l.routesA["pb.example"] = pn.tern2
	for i, c := range refusalCases {
		l.routesA[c+".example"] = fmt.Sprintf("%s%d", l.netPrefix, 20+i)
	}
	l.a = startDirectTern(t, directOpts{
		ip: pn.tern, http: l.httpA, routes: l.routesA,
		pkiDirs: []string{l.ca("orga"), l.ca("orgc"), l.ca("orgd"), l.ca("orge")},
		circles: `[[trust.circle]]
name = "partners"
[[trust.circle.bundle]]
name = "orgb"
path = "` + filepath.Join(l.ca("orgb"), "bundle.p7b") + `"
[[trust.circle.bundle]]
name = "orge"
path = "` + filepath.Join(l.ca("orge"), "bundle.p7b") + `"

[[trust.circle]]
name = "others"
anchors = ["` + filepath.Join(l.ca("orgc"), "ca.pem") + `"]

[[trust.circle]]
name = "interonly"
anchors = ["` + filepath.Join(l.ca("orgb"), "ca.pem") + `"]  # orgb's issuing intermediate: Direct anchors need not be roots
`,
		domains: []directDomain{
			{name: "a.example", cert: first(l.issued("orga", "a.example")), key: second(l.issued("orga", "a.example")), circles: `["partners"]`},
			{name: "a2.example", cert: first(l.issued("orga", "a2.example")), key: second(l.issued("orga", "a2.example")), circles: `["others"]`},
			{name: "a3.example", cert: first(l.issued("orga", "a3.example")), key: second(l.issued("orga", "a3.example")), circles: `["interonly"]`},
		},
		plain: []string{"pa.example"},
		users: []string{"alice@a.example", "alice@a2.example", "alice@a3.example", "alice@pa.example"},
	})
	// B's certificate (leaf and intermediate) is a PKCS#12 file with a password.
	bp12, bpass := filepath.Join(l.dir, "b.example.p12"), filepath.Join(l.dir, "b.example.pass")
	writeFile(t, bpass, randomPassword(t)+"\n")
	ternCert(t, "p12", "--cert", first(l.issued("orgb", "b.example")), "--key", second(l.issued("orgb", "b.example")), "--out", bp12, "--password-file", bpass)
	// B fetches A's bundle from A's HTTP listener (/pki/orga/bundle.p7b): A is up.
	l.b = startDirectTern(t, directOpts{
		ip: pn.tern2, http: l.httpB, routes: map[string]string{"a.example": pn.tern, "a2.example": pn.tern, "pa.example": pn.tern},
		pkiDirs: []string{l.ca("orgb")},
		circles: `allow_http = true
[[trust.circle]]
name = "partners"
[[trust.circle.bundle]]
name = "orga"
url = "http://` + l.httpA + `/pki/orga/bundle.p7b"
`,
		domains: []directDomain{{name: "b.example", p12: bp12, pass: bpass, circles: `["partners"]`}},
		plain:   []string{"pb.example"},
		users:   []string{"bob@b.example", "bob@pb.example"},
		// B's file proxy, ftproxystream.b.example: its name is in B's certificate.
		extra: "[bytestreams]\nlisten = \"" + net.JoinHostPort(pn.tern2, "0") + "\"\n",
	})
	l.aliceA = dialRaw(t, &l.a.target, true)
	l.aliceAFull = l.aliceA.login(withDomain(l.a, "a.example"), "alice@a.example")
	l.aliceA.send("<presence/>")
	return l
}

func first(a, _ string) string  { return a }
func second(_, b string) string { return b }

// withDomain is p's target for logging in to one of its domains.
func withDomain(p *ternProc, domain string) *target {
	t := p.target
	t.domain = domain
	return &t
}

// directDomain is a Direct [[domain]]: PEM cert and key, or a PKCS#12 file and its password file.
type directDomain struct{ name, cert, key, p12, pass, circles string }

type directOpts struct {
	ip, http string
	routes   map[string]string
	pkiDirs  []string
	circles  string // [trust] keys and [[trust.circle]] tables
	domains  []directDomain
	plain    []string // plain domains beside them (self-signed certificate, dialback)
	users    []string
	extra    string // more TOML (sections of their own)
	quota    int    // [limits] offline_quota; 0: the harness's default
}

// startDirectTern starts tern with Direct domains, s2s on ip:5269 with static routes, dialback
// on (Direct domains must ignore it), re-validation every 2 s and CRLs re-fetched after 1 s.
func startDirectTern(t *testing.T, o directOpts) *ternProc {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "\n[s2s]\nlisten = [%q]\ndialback = true\nconnect_timeout = \"5s\"\n", s2sAddr(o.ip))
	var routes []string
	for name, ip := range o.routes {
		routes = append(routes, fmt.Sprintf("%q = %q", name, s2sAddr(ip)))
	}
	sort.Strings(routes)
	fmt.Fprintf(&b, "routes = { %s }\n\n", strings.Join(routes, ", "))
	b.WriteString("[trust]\nrevalidate = \"2s\"\ncrl_max_age = \"1s\"\ncrl_timeout = \"2s\"\n" + o.circles + "\n")
	for _, d := range o.domains {
		fmt.Fprintf(&b, "[[domain]]\nname = %q\ndirect = true\ncircles = %s\n", d.name, d.circles)
		if d.p12 != "" {
			fmt.Fprintf(&b, "pkcs12 = %q\npassword_file = %q\n\n", d.p12, d.pass)
		} else {
			fmt.Fprintf(&b, "cert = %q\nkey = %q\n\n", d.cert, d.key)
		}
	}
	for _, d := range o.plain {
		fmt.Fprintf(&b, "[[domain]]\nname = %q\n\n", d)
	}
	b.WriteString(o.extra + "\n")
	var dirs []string
	for _, d := range o.pkiDirs {
		dirs = append(dirs, fmt.Sprintf("%q", d))
	}
	p := startTern(t, ternOpts{Domains: []string{"localhost"}, Users: o.users, ExtraTOML: b.String(), OfflineQuota: o.quota,
		HTTPAddr: o.http, HTTPTOML: "pki_dirs = [" + strings.Join(dirs, ", ") + "]"})
	p.domain = o.domains[0].name
	if err := p.waitListening(s2sAddr(o.ip)); err != nil {
		t.Fatalf("tern does not listen for s2s: %v\n--- %s ---\n%s", err, p.logFile, tail(p.logFile))
	}
	return p
}

// chatTo sends a chat message with a fresh body (also its id) and returns the body.
func chatTo(t *testing.T, c *rawClient, to string) string {
	body := "direct-" + nonce(t)
	c.send("<message to='" + to + "' type='chat' id='" + body + "'><body>" + body + "</body></message>")
	return body
}

// expectBounce waits for the error reply to the message chatTo sent with body (a
// remote-server-not-found or remote-server-timeout stanza error, RFC 6120 §8.3.3.16/17).
func expectBounce(t *testing.T, c *rawClient, body string) string {
	t.Helper()
	m := expectWithin(c, `(?s)<message[^>]*\bid=['"]`+regexp.QuoteMeta(body)+`['"][^>]*>.*?</message>`, bounceWait)[0]
	if !regexp.MustCompile(`type=['"]error['"]`).MatchString(m) {
		t.Errorf("want a type='error' reply; got:\n%s", m)
	}
	if !regexp.MustCompile(`<remote-server-(?:not-found|timeout)\s[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]`).MatchString(m) {
		t.Errorf("want a remote-server-not-found or remote-server-timeout bounce; got:\n%s", m)
	}
	return m
}

// logHas waits until p's log matches pattern.
func logHas(t *testing.T, p *ternProc, pattern string, d time.Duration) {
	t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(d)
	for {
		b, _ := os.ReadFile(p.logFile)
		if re.Match(b) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("tern log %s has no line matching %s after %s:\n%s", p.logFile, pattern, d, tail(p.logFile))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestDirectTrust: chat both ways between two Direct domains over mutual TLS and SASL
// EXTERNAL (never dialback), then every refusal TIM+ requires, one subtest each: the stream is
// refused (both directions), each sender gets an error and nothing is delivered; last, a
// certificate revoked while its stream is open closes it at the next re-validation.
func TestDirectTrust(t *testing.T) {
	l := newDirectLab(t)
	bob := dialRaw(t, &l.b.target, true)
	bobFull := bob.login(&l.b.target, "bob@b.example")
	bob.send("<presence/>")

	t.Run("trusted", func(t *testing.T) {
		l.aliceA.t, bob.t = t, t
		body := chatTo(t, l.aliceA, "bob@b.example")
		expectWithin(bob, regexp.QuoteMeta(body), bounceWait)
		body = chatTo(t, bob, "alice@a.example")
		expectWithin(l.aliceA, regexp.QuoteMeta(body), bounceWait)
		for _, p := range []*ternProc{l.a, l.b} {
			if v := metricValue(t, p, `tern_direct_handshakes_total{reason="",result="trusted"}`); v < 2 {
				t.Errorf("%s: %v trusted Direct handshakes, want at least 2 (one per stream end)", p.domain, v)
			}
			logHas(t, p, `direct: peer trusted`, rawTimeout)
			if b, _ := os.ReadFile(p.logFile); regexp.MustCompile(`dialback refused|db:result`).Match(b) {
				t.Errorf("%s: dialback was attempted between Direct domains", p.domain)
			}
		}
	})

	t.Run("service-domain", func(t *testing.T) {
		// A Direct domain's service (B's file proxy) over s2s both ways without bidi:
		// A -> ftproxystream.b.example (B serves that SNI with the certificate carrying it
		// exactly), and the answer on B's own stream from ftproxystream.b.example, whose
		// client certificate B finds by that SAN (timplus.md §5 items 2, 23).
		l.aliceA.t = t
		l.aliceA.send("<iq type='get' id='px1' to='ftproxystream.b.example'><query xmlns='http://jabber.org/protocol/bytestreams'/></iq>")
		r := expectWithin(l.aliceA, `(?s)<iq[^>]*\bid=['"]px1['"].*?</iq>|<iq[^>]*\bid=['"]px1['"][^>]*/>`, bounceWait)[0]
		if !regexp.MustCompile(`type=['"]result['"]`).MatchString(r) || !strings.Contains(r, `jid="ftproxystream.b.example"`) && !strings.Contains(r, `jid='ftproxystream.b.example'`) {
			t.Fatalf("streamhost query to B's proxy: got\n%s\nwant a result naming the streamhost ftproxystream.b.example", r)
		}
		logHas(t, l.a, `direct: peer trusted.*ftproxystream.b.example`, rawTimeout)
	})

	t.Run("plain-domains-unchanged", func(t *testing.T) {
		l.aliceA.t = t
		// pa.example and pb.example are ordinary domains of the same two servers (self-signed
		// certificates): they federate by dialback as before, beside the Direct domains.
		pa := dialRaw(t, &l.a.target, true)
		pa.login(withDomain(l.a, "pa.example"), "alice@pa.example")
		pa.send("<presence/>")
		pb := dialRaw(t, &l.b.target, true)
		pb.login(withDomain(l.b, "pb.example"), "bob@pb.example")
		pb.send("<presence/>")
		body := chatTo(t, pa, "bob@pb.example")
		expectWithin(pb, regexp.QuoteMeta(body), bounceWait)
		body = chatTo(t, pb, "alice@pa.example")
		expectWithin(pa, regexp.QuoteMeta(body), bounceWait)
		// A plain domain cannot reach into a Direct one: bob@pb.example -> alice@a.example
		// needs a b... -> a.example pair, which pb.example cannot authenticate by dialback.
		body = chatTo(t, pb, "alice@a.example")
		expectBounce(t, pb, body)
		logHas(t, l.a, `direct: dialback refused.* local=a\.example remote=pb\.example`, rawTimeout)
		expectNothingBefore(t, l.aliceA, l.aliceAFull, body)
	})

	t.Run("cli", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
		defer cancel()
		out, err := exec.CommandContext(ctx, ternBin, "direct", "trust", "list", "--config", l.a.config).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "partners") || !strings.Contains(string(out), "orgb") {
			t.Errorf("tern direct trust list: %v\n%s", err, out)
		}
		chain := filepath.Join(t.TempDir(), "chain.pem")
		b, _ := os.ReadFile(first(l.issued("orgb", "b.example")))
		writeFile(t, chain, string(b))
		out, err = exec.CommandContext(ctx, ternBin, "direct", "trust", "check", "b.example", "--for", "a.example", "--chain", chain, "--config", l.a.config).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "TRUSTED") {
			t.Errorf("tern direct trust check b.example --for a.example: %v\n%s", err, out)
		}
		// Without --chain, A connects to B's s2s port and checks what B presents.
		out, err = exec.CommandContext(ctx, ternBin, "direct", "trust", "check", "b.example", "--for", "a.example", "--config", l.a.config).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "presented by b.example") || !strings.Contains(string(out), "TRUSTED") {
			t.Errorf("tern direct trust check b.example --for a.example (dialling b.example): %v\n%s", err, out)
		}
		out, err = exec.CommandContext(ctx, ternBin, "direct", "trust", "check", "b.example", "--for", "a2.example", "--chain", chain, "--config", l.a.config).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "REFUSED (untrusted-anchor)") {
			t.Errorf("tern direct trust check b.example --for a2.example: %v\n%s", err, out)
		}
	})

	type refusal struct {
		reason string                                             // in A's log line
		cert   func(t *testing.T, domain string) (string, string) // the peer's cert and key files
	}
	issue := func(caName string, extra ...string) func(t *testing.T, domain string) (string, string) {
		return func(t *testing.T, domain string) (string, string) {
			ternCert(t, append([]string{"issue", "--dir", l.ca(caName), "--domain", domain, "--key", "ecdsa"}, extra...)...)
			return l.issued(caName, domain)
		}
	}
	cases := map[string]refusal{
		"untrusted":   {"untrusted-anchor", issue("orgd")},
		"othercircle": {"untrusted-anchor", issue("orgc")},
		"expired":     {"expired", issue("orgb", "--days", "-1")},
		"notyetvalid": {"not-yet-valid", func(t *testing.T, domain string) (string, string) {
			c, err := ca.Open(l.ca("orgb"))
			if err != nil {
				t.Fatal(err)
			}
			c.SetNow(func() time.Time { return time.Now().Add(48 * time.Hour) })
			is, err := c.IssueDomain(domain, nil, ca.ECDSAP256, 30*24*time.Hour)
			if err != nil {
				t.Fatal(err)
			}
			return is.CertPath, is.KeyPath
		}},
		"revoked": {"revoked", func(t *testing.T, domain string) (string, string) {
			crt, key := issue("orgb")(t, domain)
			ternCert(t, "revoke", "--dir", l.ca("orgb"), crt)
			// A re-fetches the CRL it cached during "trusted" once crl_max_age (1s) passed.
			time.Sleep(1500 * time.Millisecond)
			return crt, key
		}},
		"nocrldp": {"no-crl-dp", func(t *testing.T, domain string) (string, string) {
			return signWithoutCRLDP(t, l.ca("orgb"), domain)
		}},
		"crlunreachable": {"crl-unavailable", issue("orge")},
		"wrongsan": {"san-mismatch", func(t *testing.T, domain string) (string, string) {
			return issue("orgb")(t, "wrong-"+domain)
		}},
		"nointermediate": {"(untrusted-anchor|bad-chain)", func(t *testing.T, domain string) (string, string) {
			crt, key := issue("orgb")(t, domain)
			is, err := keypair.LoadPEMFiles(crt, key, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			leafOnly := filepath.Join(t.TempDir(), domain+"-leaf.pem")
			writeFile(t, leafOnly, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.Leaf().Raw})))
			return leafOnly, key
		}},
	}
	for _, name := range refusalCases {
		rc := cases[name]
		t.Run(name, func(t *testing.T) {
			l.aliceA.t, bob.t = t, t // a failure ends this subtest only
			domain := name + ".example"
			crt, key := rc.cert(t, domain)
			peer := startDirectTern(t, directOpts{
				ip: l.routesA[domain], routes: map[string]string{"a.example": l.ipA, "a2.example": l.ipA, "a3.example": l.ipA},
				circles: `[[trust.circle]]
name = "partners"
[[trust.circle.bundle]]
name = "orga"
path = "` + filepath.Join(l.ca("orga"), "bundle.p7b") + `"
`,
				domains: []directDomain{{name: domain, cert: crt, key: key, circles: `["partners"]`}},
				users:   []string{"bob@" + domain},
			})
			tlsTo := peer.target
			if name == "wrongsan" {
				// The peer serves its own name only with a certificate that carries
				// it (timplus.md §5 item 2): its user's TLS names the plain domain.
				tlsTo.domain = "localhost"
				conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", peer.target.c2sTLS,
					&tls.Config{ServerName: domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
				if err == nil {
					conn.Close()
					t.Errorf("TLS with SNI %s succeeded, though no certificate of the peer carries that name", domain)
				}
				logHas(t, peer, `TLS handshake refused.*no certificate has SAN dNSName `+domain, rawTimeout)
			}
			pbob := dialRaw(t, &tlsTo, true)
			pbobFull := pbob.login(&peer.target, "bob@"+domain)
			pbob.send("<presence/>")
			// A -> peer: A's check of the peer's server certificate refuses it.
			b1 := chatTo(t, l.aliceA, "bob@"+domain)
			expectBounce(t, l.aliceA, b1)
			// peer -> A: A's check at SASL EXTERNAL refuses the peer's client certificate.
			b2 := chatTo(t, pbob, "alice@a.example")
			expectBounce(t, pbob, b2)
			logHas(t, l.a, `not trusted by a.example: `+rc.reason, rawTimeout)
			expectNothingBefore(t, l.aliceA, l.aliceAFull, b2)
			expectNothingBefore(t, pbob, pbobFull, b1)
			if name == "othercircle" {
				// The same peer is trusted by a2.example, whose circle holds its CA.
				alice2 := dialRaw(t, &l.a.target, true)
				alice2.login(withDomain(l.a, "a2.example"), "alice@a2.example")
				alice2.send("<presence/>")
				body := chatTo(t, pbob, "alice@a2.example")
				expectWithin(alice2, regexp.QuoteMeta(body), bounceWait)
			}
			if name == "nointermediate" {
				// The same leaf-only peer is trusted by a3.example, whose circle holds the
				// intermediate itself as anchor (timplus.md §5 item 9).
				alice3 := dialRaw(t, &l.a.target, true)
				alice3.login(withDomain(l.a, "a3.example"), "alice@a3.example")
				alice3.send("<presence/>")
				body := chatTo(t, pbob, "alice@a3.example")
				expectWithin(alice3, regexp.QuoteMeta(body), bounceWait)
			}
		})
	}

	t.Run("raw-peer", func(t *testing.T) {
		// TIM+ §6.1 on the wire: before TLS only <starttls><required/>; a peer without a
		// client certificate gets no stream; with one, the features are SASL EXTERNAL only
		// and a dialback request is refused.
		ternCert(t, "issue", "--dir", l.ca("orgb"), "--domain", "raw.example", "--key", "ecdsa")
		pair, err := tls.LoadX509KeyPair(l.issued("orgb", "raw.example"))
		if err != nil {
			t.Fatal(err)
		}
		open := func(cert *tls.Certificate) (*rawClient, error) {
			conn, err := net.DialTimeout("tcp", s2sAddr(l.ipA), 5*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			c := &rawClient{t: t, conn: conn}
			t.Cleanup(func() { c.conn.Close() })
			c.send(s2sHeader("raw.example", "a.example"))
			feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
			if !regexp.MustCompile(`^<(?:stream:)?features[^>]*><starttls xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]><required/></starttls></(?:stream:)?features>$`).MatchString(feats) {
				t.Errorf("features before TLS: %s; want only <starttls><required/></starttls>", feats)
			}
			c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
			c.expect(`<proceed[^>]*/>|<proceed[^>]*>\s*</proceed>`)
			cfg := &tls.Config{ServerName: "a.example", MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
			if cert != nil {
				cfg.Certificates = []tls.Certificate{*cert}
			}
			tc := tls.Client(c.conn, cfg)
			tc.SetDeadline(time.Now().Add(rawTimeout))
			if err := tc.Handshake(); err != nil {
				return nil, err
			}
			c.conn, c.buf = tc, nil
			c.send(s2sHeader("raw.example", "a.example"))
			return c, nil
		}
		if c, err := open(nil); err == nil {
			// TLS 1.3: the client finishes first; the server's refusal ends the connection.
			if got, closed := c.readToEnd(); !closed || strings.Contains(got, "<success") || strings.Contains(got, "mechanism") {
				t.Errorf("a peer without a client certificate got a stream: closed=%v %s", closed, got)
			}
		}
		c, err := open(&pair)
		if err != nil {
			t.Fatalf("TLS with a client certificate: %v", err)
		}
		feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
		if !strings.Contains(feats, "<mechanism>EXTERNAL</mechanism>") || strings.Contains(feats, "dialback") || strings.Contains(feats, "bidi") {
			t.Errorf("features after TLS: %s; want SASL EXTERNAL only", feats)
		}
		c.send("<db:result from='raw.example' to='a.example'>0123456789abcdef</db:result>")
		if m := c.expect(`(?s)<db:result[^>]*>.*?</db:result>|<db:result[^>]*/>`)[0]; !strings.Contains(m, "type=\"error\"") && !strings.Contains(m, "type='error'") || !strings.Contains(m, "not-authorized") {
			t.Errorf("dialback request to a Direct domain: %s; want type='error' with <not-authorized/>", m)
		}
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + b64("raw.example") + "</auth>")
		c.expect(`<success[^>]*/>|<success[^>]*>[^<]*</success>`)
	})

	t.Run("anchor-removed-while-open", func(t *testing.T) {
		// a2.example trusts orgc; a peer with an orgc certificate opens a stream, then the
		// operator replaces orgc's anchor in the "others" circle and sends SIGHUP: the live
		// stream is closed at the next re-validation, and the peer is refused afterwards.
		crt, key := issue("orgc")(t, "rmanchor.example")
		peer := startDirectTern(t, directOpts{
			ip: fmt.Sprintf("%s%d", l.netPrefix, 40), routes: map[string]string{"a.example": l.ipA, "a2.example": l.ipA},
			circles: `[[trust.circle]]
name = "partners"
[[trust.circle.bundle]]
name = "orga"
path = "` + filepath.Join(l.ca("orga"), "bundle.p7b") + `"
`,
			domains: []directDomain{{name: "rmanchor.example", cert: crt, key: key, circles: `["partners"]`}},
			users:   []string{"bob@rmanchor.example"},
		})
		pbob := dialRaw(t, &peer.target, true)
		pbob.login(&peer.target, "bob@rmanchor.example")
		pbob.send("<presence/>")
		alice2 := dialRaw(t, &l.a.target, true)
		alice2.login(withDomain(l.a, "a2.example"), "alice@a2.example")
		alice2.send("<presence/>")
		body := chatTo(t, pbob, "alice@a2.example")
		expectWithin(alice2, regexp.QuoteMeta(body), bounceWait)

		cfg, err := os.ReadFile(l.a.config)
		if err != nil {
			t.Fatal(err)
		}
		orgc, orgd := filepath.Join(l.ca("orgc"), "ca.pem"), filepath.Join(l.ca("orgd"), "ca.pem")
		writeFile(t, l.a.config, strings.Replace(string(cfg), orgc, orgd, 1))
		if err := l.a.cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		logHas(t, l.a, `trust reloaded.* domain=a2\.example`, rawTimeout)
		logHas(t, l.a, `closing a stream that no longer validates.* remote=rmanchor\.example .*: untrusted-anchor:`, 30*time.Second)
		body = chatTo(t, pbob, "alice@a2.example")
		expectBounce(t, pbob, body)
	})

	t.Run("revoked-while-open", func(t *testing.T) {
		l.aliceA.t, bob.t = t, t
		// The a.example <-> b.example streams of "trusted" are still open (idle 10m).
		before := metricValue(t, l.a, "tern_direct_revalidation_closures_total")
		ternCert(t, "revoke", "--dir", l.ca("orgb"), first(l.issued("orgb", "b.example")))
		logHas(t, l.a, `closing a stream that no longer validates.* remote=b\.example .*: revoked:`, 30*time.Second)
		if after := metricValue(t, l.a, "tern_direct_revalidation_closures_total"); after <= before {
			t.Errorf("tern_direct_revalidation_closures_total %v -> %v, want an increase", before, after)
		}
		body := chatTo(t, l.aliceA, "bob@b.example")
		expectBounce(t, l.aliceA, body)
		expectNothingBefore(t, bob, bobFull, body)
	})
}

// signWithoutCRLDP issues a domain certificate from the CA in dir (its issuing key) with no
// CRL distribution point, which TIM+ refuses; tern cert never makes one.
func signWithoutCRLDP(t *testing.T, dir, domain string) (string, string) {
	t.Helper()
	issuer, err := keypair.LoadPEMFiles(filepath.Join(dir, "ca.pem"), filepath.Join(dir, "ca.key"), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: randSerial(t), Subject: pkix.Name{CommonName: domain},
		DNSNames:  []string{domain},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, issuer.Leaf(), &key.PublicKey, issuer.Key)
	if err != nil {
		t.Fatal(err)
	}
	p8, _ := x509.MarshalPKCS8PrivateKey(key)
	out := t.TempDir()
	crt, kf := filepath.Join(out, domain+".pem"), filepath.Join(out, domain+".key")
	writeFile(t, crt, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))+
		string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: issuer.Leaf().Raw})))
	writeFile(t, kf, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p8})))
	return crt, kf
}

// TestDirectC2S: on a Direct domain clients log in with the bare JID or the localpart as the
// SASL username (TIM+ clients send the bare JID), a bare JID of another domain is refused,
// and in-band registration is off: not advertised, refused, and `registration = true` on a
// Direct domain is a configuration error.
func TestDirectC2S(t *testing.T) {
	l := &directLab{dir: t.TempDir()}
	if testing.Short() || buildErr != nil || ternBin == "" {
		t.Skip("e2e: tern binary unavailable or -short")
	}
	ternCert(t, "init", "--dir", l.ca("orga"), "--name", "orga")
	ternCert(t, "issue", "--dir", l.ca("orga"), "--domain", "a.example")
	crt, key := l.issued("orga", "a.example")
	pn := nextPeerNet()
	a := startDirectTern(t, directOpts{ip: pn.tern, domains: []directDomain{{name: "a.example", cert: crt, key: key, circles: "[]"}},
		users: []string{"alice@a.example"}, extra: "[bytestreams]\nlisten = \"" + net.JoinHostPort(pn.tern, "0") + "\"\n"})
	tgt := withDomain(a, "a.example")

	// TIM+ items 13 and 26 (timplus.md §5) through the binary: the server's features and
	// services in disco, and a client's vCard set refused on a Direct domain.
	s := dialRaw(t, tgt, true)
	s.login(tgt, "alice@a.example")
	iqTo := func(id, typ, to, payload string) *elem {
		s.send("<iq type='" + typ + "' id='" + id + "' to='" + to + "'>" + payload + "</iq>")
		return parseElem(t, s.expect(`(?s)<iq[^>]*\bid=['"]` + id + `['"][^>]*?(?:/>|>.*?</iq>)`)[0])
	}
	info := iqTo("di", "get", "a.example", "<query xmlns='http://jabber.org/protocol/disco#info'/>").String()
	for _, f := range []string{"urn:xmpp:blocking", "urn:xmpp:ping", "vcard-temp", "jabber:iq:version", "urn:xmpp:time", "jabber:iq:last"} {
		if !strings.Contains(info, `var="`+f+`"`) {
			t.Errorf("TIM+ item 13: disco#info of a.example lacks %s:\n%s", f, info)
		}
	}
	if items := iqTo("dt", "get", "a.example", "<query xmlns='http://jabber.org/protocol/disco#items'/>").String(); !strings.Contains(items, `jid="ftproxystream.a.example"`) {
		t.Errorf("TIM+ item 13: disco#items of a.example lacks ftproxystream.a.example:\n%s", items)
	}
	wantCondition(t, "TIM+ item 26: a client's vCard set on a Direct domain", iqTo("vs", "set", "alice@a.example", "<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>"), "not-allowed")

	plain := func(authcid string) string {
		c := dialRaw(t, tgt, true)
		c.send(streamHeader("a.example"))
		feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
		if strings.Contains(feats, "http://jabber.org/features/iq-register") {
			t.Errorf("a Direct domain advertises in-band registration: %s", feats)
		}
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" + b64("\x00"+authcid+"\x00"+a.password) + "</auth>")
		return c.expect(`<success[^>]*/>|<success[^>]*>[^<]*</success>|<failure[\s\S]*?</failure>`)[0]
	}
	for _, u := range []string{"alice@a.example", "alice"} {
		if got := plain(u); !strings.HasPrefix(got, "<success") {
			t.Errorf("PLAIN as %q: %s", u, got)
		}
	}
	if got := plain("alice@b.example"); !strings.Contains(got, "not-authorized") {
		t.Errorf("PLAIN as alice@b.example on a.example: %s; want <not-authorized/>", got)
	}
	// SCRAM-SHA-256 with the bare JID as username.
	c := dialRaw(t, tgt, true)
	c.send(streamHeader("a.example"))
	c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)
	client, _ := scram.SHA256.NewClient("alice@a.example", a.password, "")
	conv := client.NewConversation()
	first, _ := conv.Step("")
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-256'>" + b64(first) + "</auth>")
	final, err := conv.Step(unb64(t, c.expect(`<challenge[^>]*>([^<]*)</challenge>`)[1]))
	if err != nil {
		t.Fatal(err)
	}
	c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + b64(final) + "</response>")
	if m := c.expect(`<success[^>]*/>|<success[^>]*>[^<]*</success>|<failure[\s\S]*?</failure>`)[0]; !strings.HasPrefix(m, "<success") {
		t.Errorf("SCRAM-SHA-256 as alice@a.example: %s", m)
	}

	raw, _ := preAuthStream(t, tgt)
	r := rawIQ(t, raw, "reg1", "get", "<query xmlns='"+nsRegister+"'/>")
	wantCondition(t, "TIM+: no XEP-0077 on a Direct domain", r, "service-unavailable")

	bad := filepath.Join(t.TempDir(), "tern.toml")
	writeFile(t, bad, fmt.Sprintf("[[domain]]\nname = \"a.example\"\ndirect = true\nregistration = true\ncert = %q\nkey = %q\n", crt, key))
	out, err := exec.Command(ternBin, "check", "--config", bad).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "no in-band registration") {
		t.Errorf("tern check of registration = true on a Direct domain: %v\n%s", err, out)
	}
}
