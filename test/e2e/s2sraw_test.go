package e2e

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"
)

// s2sHeader is a server-to-server stream header from one domain to another (RFC 6120 §4.7),
// declaring the dialback prefix (XEP-0220) as Prosody and ejabberd do.
func s2sHeader(from, to string) string {
	return "<?xml version='1.0'?><stream:stream xmlns='jabber:server' xmlns:db='jabber:server:dialback' " +
		"xmlns:stream='http://etherx.jabber.org/streams' from='" + from + "' to='" + to + "' version='1.0'>"
}

// dialS2S opens a raw s2s connection to addr as domain from, sends a stream header to domain
// to, and negotiates STARTTLS (RFC 6120 §5). With cert, TLS presents it as a client certificate
// and verifies the server's certificate for to against roots; without, it does not verify.
// The returned client is inside TLS, before the second stream header.
func dialS2S(t testing.TB, addr, from, to string, cert *tls.Certificate, roots *x509.CertPool) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial s2s %s: %v", addr, err)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { c.conn.Close() })
	c.send(s2sHeader(from, to))
	c.expect(`<starttls[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]`)
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.expect(`<proceed[^>]*/>|<proceed[^>]*>\s*</proceed>`)
	cfg := &tls.Config{ServerName: to, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true}
	if cert != nil {
		cfg.Certificates = []tls.Certificate{*cert}
	}
	if roots != nil {
		cfg.InsecureSkipVerify, cfg.RootCAs = false, roots
	}
	c.upgrade(cfg)
	return c
}

// dialPlain opens a TCP connection and sends nothing.
func dialPlain(t testing.TB, addr string) *rawClient {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial s2s %s: %v", addr, err)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { c.conn.Close() })
	return c
}

// authExternal restarts the stream inside TLS and authenticates as from with SASL EXTERNAL
// (XEP-0178 §3: authzid is the sending domain), then restarts it again (RFC 6120 §6.4.6).
func (c *rawClient) authExternal(from, to string) {
	c.t.Helper()
	c.send(s2sHeader(from, to))
	feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>|<(?:stream:)?features[^>]*/>`)[0]
	if !regexp.MustCompile(`<mechanism>\s*EXTERNAL\s*</mechanism>`).MatchString(feats) {
		c.t.Fatalf("%s does not offer SASL EXTERNAL to %s, whose certificate chains to its ca_file (XEP-0178 §3); features: %s", to, from, feats)
	}
	c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>" + b64(from) + "</auth>")
	m := c.expect(`<success[^>]*/>|<success[^>]*>[^<]*</success>|<failure[\s\S]*?</failure>`)
	if strings.HasPrefix(m[0], "<failure") {
		c.t.Fatalf("SASL EXTERNAL as %s failed: %s", from, m[0])
	}
	c.send(s2sHeader(from, to))
	c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>|<(?:stream:)?features[^>]*/>`)
}

// nonce is a CSPRNG token that marks one test's stanzas.
func nonce(t testing.TB) string {
	t.Helper()
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// expectNothingBefore has alice send herself a marker and read up to it: any body containing
// forbidden before the marker was delivered although it must not have been. The marker
// travels the router after the refused stanza was handled, so it orders the check.
func expectNothingBefore(t *testing.T, alice *rawClient, aliceFull, forbidden string) {
	t.Helper()
	marker := "barrier " + nonce(t)
	alice.send("<message to='" + aliceFull + "' type='chat' id='barrier'><body>" + marker + "</body></message>")
	before := alice.expect(`(?s)^(.*?)<body>` + regexp.QuoteMeta(marker) + `</body>`)[1]
	if strings.Contains(before, forbidden) {
		t.Errorf("a refused stanza was delivered to %s (it must not be):\n%s", aliceFull, clip([]byte(before)))
	}
}

// s2sServers are the servers the raw s2s tests run against: tern, and Prosody as the
// reference (its known differences from the RFCs are logged, not failed).
var s2sServers = []string{"tern", "prosody"}

// forEachS2SServer runs f as a sequential subtest per server (fixed port 5269: never parallel).
func forEachS2SServer(t *testing.T, f func(t *testing.T, kind string)) {
	for _, kind := range s2sServers {
		if !wantServer(kind) {
			continue
		}
		t.Run(kind, func(t *testing.T) { f(t, kind) })
	}
}

// s2sTestServer starts the server under test (kind tern or prosody) serving tern.test with
// alice on pn.tern:5269, trusting ca (nil: dialback), resolving hosts, and logs alice in.
func s2sTestServer(t *testing.T, kind string, pn peerNet, ca *testCA, hosts map[string]string) (*target, *rawClient, string) {
	t.Helper()
	// A short login time-out for the time-out rows (the harness's [limits] table).
	o := peerOpts{domain: "tern.test", ip: pn.tern, hosts: hosts, ca: ca, users: []string{"alice"}, limits: `auth_timeout = "5s"`}
	var srv *target
	if kind == "prosody" {
		srv = startProsodyPeer(t, o)
	} else {
		srv = &startTernPeer(t, o, "").target
	}
	alice := dialRaw(t, srv, false)
	full := alice.login(srv, srv.users[0])
	alice.send("<presence/>")
	return srv, alice, full
}

// TestS2SSpoofedFrom: a peer authenticated for evil.test (SASL EXTERNAL with a certificate
// from the trusted test CA) sends a stanza claiming victim.test. RFC 6120 §8.1.2.2 and
// §4.9.3.9: the stream must close with <invalid-from/> and nothing be delivered; a stanza
// from evil.test itself on a new stream is delivered (the check is not a blanket refusal).
func TestS2SSpoofedFrom(t *testing.T) {
	forEachS2SServer(t, func(t *testing.T, kind string) {
		pn := nextPeerNet()
		ca := newTestCA(t)
		srv, alice, aliceFull := s2sTestServer(t, kind, pn, ca, map[string]string{"evil.test": pn.down, "victim.test": pn.down})
		cert := loadIssued(t, ca, "evil.test")
		n := nonce(t)

		evil := dialS2S(t, s2sAddr(pn.tern), "evil.test", srv.domain, cert, ca.pool)
		evil.authExternal("evil.test", srv.domain)
		evil.send("<message from='mallory@victim.test/x' to='" + srv.users[0] + "' type='chat' id='spoof'><body>spoofed " + n + "</body></message>")
		want := "invalid-from"
		if kind == "prosody" {
			want = "not-authorized" // Prosody 0.12 (mod_s2s) uses this condition for an unauthenticated 'from'
			t.Logf("prosody differs from RFC 6120 §4.9.3.9: expecting %q", want)
		}
		checkS2SStreamError(t, kind, evil, want, "RFC 6120 §8.1.2.2, §4.9.3.9: 'from' not authenticated on this stream")
		expectNothingBefore(t, alice, aliceFull, "spoofed "+n)

		honest := dialS2S(t, s2sAddr(pn.tern), "evil.test", srv.domain, cert, ca.pool)
		honest.authExternal("evil.test", srv.domain)
		honest.send("<message from='mallory@evil.test/x' to='" + srv.users[0] + "' type='chat' id='ok'><body>honest " + n + "</body></message>")
		before := alice.expect(`(?s)^(.*?)<body>honest ` + n + `</body>`)[1]
		if strings.Contains(before, "spoofed "+n) {
			t.Errorf("the spoofed stanza reached alice: %s", clip([]byte(before)))
		}
	})
}

// s2sBadRow is one kind of bad s2s input and the stream error RFC 6120 requires for it.
type s2sBadRow struct {
	name    string
	rule    string
	auth    bool                   // authenticate as evil.test (SASL EXTERNAL) first
	first   bool                   // payload is the very first bytes on the TCP connection (no TLS)
	payload func(to string) string // sent after TLS; includes the stream header when !auth
	want    string                 // stream error condition
	// prosody is Prosody 0.12's condition where it differs ("-" = no stream error at all).
	prosody string
}

func s2sBadRows() []s2sBadRow {
	hdr := func(to string) string { return s2sHeader("evil.test", to) }
	return []s2sBadRow{
		{name: "garbage", rule: "RFC 6120 §4.9.3.13 not-well-formed",
			payload: func(to string) string { return hdr(to) + "<<>>" }, want: "not-well-formed"},
		{name: "mismatched-end-tag", rule: "RFC 6120 §4.9.3.13 not-well-formed",
			payload: func(to string) string { return hdr(to) + "<db:result from='evil.test' to='" + to + "'>x</message>" },
			want:    "not-well-formed"},
		{name: "wrong-stream-namespace", rule: "RFC 6120 §4.8.1, §4.9.3.10 invalid-namespace",
			payload: func(to string) string {
				return "<stream:stream xmlns='jabber:server' xmlns:stream='urn:example:not-streams' from='evil.test' to='" + to + "' version='1.0'>"
			}, want: "invalid-namespace"},
		{name: "unknown-content-namespace", rule: "RFC 6120 §4.8.2, §4.9.3.10 invalid-namespace", prosody: "-", // accepted
			payload: func(to string) string {
				return "<stream:stream xmlns='urn:example:unknown' xmlns:stream='http://etherx.jabber.org/streams' from='evil.test' to='" + to + "' version='1.0'>"
			}, want: "invalid-namespace"},
		{name: "unserved-stream-to", rule: "RFC 6120 §4.9.3.6 host-unknown", first: true,
			payload: func(string) string { return s2sHeader("evil.test", "nowhere.test") }, want: "host-unknown"},
		{name: "utf16-header", rule: "RFC 6120 §11.6 UTF-8 only, §4.9.3.22 unsupported-encoding", first: true, prosody: "-", // Prosody 0.12 answers nothing
			payload: func(to string) string { return "\xFE\xFF" + utf16(s2sHeader("evil.test", to), true) }, want: "unsupported-encoding"},
		{name: "stanza-instead-of-header", rule: "RFC 6120 §4.8.1, §4.9.3.10 invalid-namespace", first: true,
			payload: func(to string) string { return "<message from='mallory@evil.test' to='alice@" + to + "'/>" }, want: "invalid-namespace"},
		{name: "no-header-until-timeout", rule: "RFC 6120 §4.9.3.4 connection-timeout after limits.auth_timeout (5s here), §4.9.1.1 our header first",
			first: true, prosody: "-", // Prosody's s2s_timeout is 90 s by default
			payload: func(string) string { return "" }, want: "connection-timeout"},
		{name: "unknown-first-level-element", rule: "RFC 6120 §4.9.3.21 unsupported-stanza-type", auth: true,
			payload: func(to string) string { return "<frobnicate xmlns='urn:example:unknown'/>" }, want: "unsupported-stanza-type"},
		{name: "stanza-to-unserved-domain", rule: "RFC 6120 §8.1.1.2, §4.9.3.6 host-unknown", auth: true,
			payload: func(to string) string {
				return "<message from='mallory@evil.test' to='alice@nowhere.test' type='chat'><body>bad</body></message>"
			}, want: "host-unknown"},
		{name: "stanza-without-from", rule: "RFC 6120 §8.1.2.2, §4.9.3.7 improper-addressing", auth: true, prosody: "not-authorized",
			payload: func(to string) string { return "<message to='alice@" + to + "' type='chat'><body>bad</body></message>" },
			want:    "improper-addressing"},
		{name: "stanza-before-auth", rule: "RFC 6120 §4.9.3.12 not-authorized", prosody: "-", // dropped, stream left open
			payload: func(to string) string {
				return hdr(to) + "<message from='mallory@evil.test' to='alice@" + to + "' type='chat'><body>bad</body></message>"
			}, want: "not-authorized"},
	}
}

// TestS2SBadInput sends each bad input on its own s2s connection and checks the stream error,
// that the stream and the connection close (RFC 6120 §4.9.1.1), and that the server still
// accepts an authenticated s2s stream afterwards and delivered none of the bad stanzas.
func TestS2SBadInput(t *testing.T) {
	forEachS2SServer(t, func(t *testing.T, kind string) {
		pn := nextPeerNet()
		ca := newTestCA(t)
		srv, alice, aliceFull := s2sTestServer(t, kind, pn, ca, map[string]string{"evil.test": pn.down})
		cert := loadIssued(t, ca, "evil.test")
		for _, row := range s2sBadRows() {
			t.Run(row.name, func(t *testing.T) {
				want := row.want
				if kind == "prosody" && row.prosody != "" {
					want = row.prosody
					t.Logf("prosody differs from %s: expecting %q", row.rule, want)
				}
				var c *rawClient
				if row.first {
					c = dialPlain(t, s2sAddr(pn.tern))
				} else {
					c = dialS2S(t, s2sAddr(pn.tern), "evil.test", srv.domain, cert, ca.pool)
				}
				if row.auth {
					c.authExternal("evil.test", srv.domain)
				}
				c.send(row.payload(srv.domain))
				if want == "-" {
					t.Logf("prosody sends no stream error here; only checking that it keeps serving")
				} else {
					checkS2SStreamError(t, kind, c, want, row.rule)
					if row.first && kind == "tern" {
						// §4.9.1.1: our header, from the served domain, comes first.
						checkHeaderBeforeError(t, srv, string(c.buf), row.rule, "localhost", srv.domain)
					}
				}
				ok := dialS2S(t, s2sAddr(pn.tern), "evil.test", srv.domain, cert, ca.pool)
				ok.authExternal("evil.test", srv.domain)
				ok.send("</stream:stream>")
			})
		}
		t.Run("starttls-then-newline", func(t *testing.T) {
			// Whitespace after <starttls/> is harmless (RFC 6120 §5.4.3.3 refuses data, not
			// whitespace): the handshake and authentication go on.
			c := dialPlain(t, s2sAddr(pn.tern))
			c.send(s2sHeader("evil.test", srv.domain))
			c.expect(`<starttls[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]`)
			c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n")
			c.expect(`<proceed[^>]*/>|<proceed[^>]*>\s*</proceed>`)
			c.upgrade(&tls.Config{ServerName: srv.domain, MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{*cert}, RootCAs: ca.pool})
			c.authExternal("evil.test", srv.domain)
			c.send("</stream:stream>")
		})
		expectNothingBefore(t, alice, aliceFull, "<body>bad</body>")
	})
}

// TestS2SDialbackKeyDoesNotVerify: a peer without a usable certificate claims evil.test with a
// dialback key that evil.test's authoritative server (a real Prosody) did not issue. XEP-0220
// §2.3-2.4: the server asks Prosody with <db:verify/>, Prosody answers invalid, and the server
// must answer <db:result type='invalid'/> (or type='error', or end the stream) and accept no
// stanza from that stream.
func TestS2SDialbackKeyDoesNotVerify(t *testing.T) {
	forEachS2SServer(t, func(t *testing.T, kind string) {
		pn := nextPeerNet()
		srv, alice, aliceFull := s2sTestServer(t, kind, pn, nil, map[string]string{"evil.test": pn.prosody})
		startProsodyPeer(t, peerOpts{domain: "evil.test", ip: pn.prosody, hosts: map[string]string{"tern.test": pn.tern}})
		n := nonce(t)

		c := dialS2S(t, s2sAddr(pn.tern), "evil.test", srv.domain, nil, nil)
		c.send(s2sHeader("evil.test", srv.domain))
		c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>|<(?:stream:)?features[^>]*/>`)
		c.send("<db:result from='evil.test' to='" + srv.domain + "'>" + strings.Repeat("0badc0de", 8) + "</db:result>")
		got := expectWithin(c, `<db:result[^>]*type=['"](?:invalid|error|valid)['"][^>]*>|<(?:stream:)?error[\s>]|</stream:stream>`, bounceWait)[0]
		if regexp.MustCompile(`type=['"]valid['"]`).MatchString(got) {
			t.Fatalf("the server accepted a dialback key that evil.test's server did not issue (XEP-0220 §2.4): %s", got)
		}
		t.Logf("answer to the unverifiable key: %s%s", got, clip(c.buf))
		// Whatever the answer, a stanza from evil.test on this stream must not be delivered.
		c.send("<message from='mallory@evil.test' to='" + srv.users[0] + "' type='chat'><body>unverified " + n + "</body></message>")
		expectNothingBefore(t, alice, aliceFull, "unverified "+n)
	})
}

// checkS2SStreamError is checkStreamError for s2s: the condition, the stream end and the close.
func checkS2SStreamError(t *testing.T, kind string, c *rawClient, want, rule string) {
	t.Helper()
	got, closed := c.readToEnd()
	if !hasStreamError(got, want) {
		t.Errorf("%s: want <stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/> (%s); got:\n%s", kind, want, rule, clip([]byte(got)))
	}
	if !strings.Contains(got, "</stream:stream>") && !closed {
		t.Errorf("%s: after the stream error the stream stayed open (RFC 6120 §4.9.1.1)", kind)
	}
	if !c.closedAfterOurClose() {
		t.Errorf("%s: the TCP connection stayed open after both stream closes (RFC 6120 §4.4)", kind)
	}
}

// loadIssued issues a certificate for domain from ca and loads it for a TLS client.
func loadIssued(t *testing.T, ca *testCA, domain string) *tls.Certificate {
	t.Helper()
	crt, key := ca.issue(t, t.TempDir(), domain)
	cert, err := tls.LoadX509KeyPair(crt, key)
	if err != nil {
		t.Fatal(err)
	}
	return &cert
}

// TestS2SConnsPerIP: limits.conns_per_ip bounds inbound s2s streams from one address too (counted
// apart from client connections); the one over it gets our header and <policy-violation/> naming
// the limit (RFC 6120 §4.9.3.14), on the STARTTLS and the direct-TLS port.
func TestS2SConnsPerIP(t *testing.T) {
	t.Parallel()
	pn := nextPeerNet()
	srv := startTernPeer(t, peerOpts{domain: "tern.test", ip: pn.tern, limits: "conns_per_ip = 2"}, "")
	// Hold two streams; the harness's own probe of the port may still be counted at first.
	deadline := time.Now().Add(rawTimeout)
	for held := 0; held < 2; {
		c := dialPlain(t, s2sAddr(pn.tern))
		c.send(s2sHeader("evil.test", srv.domain))
		for c.fill(deadline) && !strings.Contains(string(c.buf), "<stream:features") {
		}
		switch {
		case strings.Contains(string(c.buf), "<starttls"):
			held++
		case time.Now().After(deadline):
			t.Fatalf("no s2s stream accepted: %s", clip(c.buf))
		default:
			c.conn.Close()
			time.Sleep(50 * time.Millisecond)
		}
	}
	for _, addr := range []string{s2sAddr(pn.tern), net.JoinHostPort(pn.tern, "5270")} {
		c := dialPlain(t, addr)
		if strings.HasSuffix(addr, ":5270") {
			c.upgrade(&tls.Config{ServerName: srv.domain, MinVersion: tls.VersionTLS12, InsecureSkipVerify: true, NextProtos: []string{"xmpp-server"}})
		}
		got, _ := c.readToEnd()
		checkHeaderBeforeError(t, &srv.target, got, "RFC 6120 §4.9.3.14 policy-violation", "localhost", srv.domain)
		if !hasStreamError(got, "policy-violation") || !strings.Contains(got, "limits.conns_per_ip = 2") {
			t.Errorf("%s: a 3rd s2s connection from one address with conns_per_ip = 2: want <policy-violation/> naming limits.conns_per_ip = 2; got:\n%s", addr, clip([]byte(got)))
		}
	}
	// Client connections are counted apart: alice still logs in.
	if jid := dialRaw(t, &srv.target, false).login(&srv.target, srv.users[0]); jid == "" {
		t.Error("no c2s login while s2s connections from the same address are at the limit")
	}
	waitLog(t, srv, "s2s connection refused: too many connections from this address")
}
