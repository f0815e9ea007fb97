package e2e

import (
	"crypto/tls"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// preStreamRow is input a client sends where a stream header belongs: the server must answer
// with its own header (from a domain it serves, never one the client chose) and then the
// stream error (RFC 6120 §4.9.1.1, §4.9.1.2).
type preStreamRow struct {
	name string
	rule string
	send func(srv *target) string // the first bytes of the stream; "" sends nothing
	want string                   // stream error condition
	// prosody is Prosody 0.12's condition where it differs ("-": not comparable, skipped on Prosody).
	prosody string
}

func preStreamRows() []preStreamRow {
	return []preStreamRow{
		{name: "utf16-be-bom", rule: "RFC 6120 §11.6: UTF-8 only, §4.9.3.22 unsupported-encoding", prosody: "-", // Prosody 0.12 answers nothing and waits
			send: func(srv *target) string { return "\xFE\xFF" + utf16(streamHeader(srv.domain), true) }, want: "unsupported-encoding"},
		{name: "utf16-le-bom", rule: "RFC 6120 §11.6, §4.9.3.22 unsupported-encoding", prosody: "-", // Prosody 0.12 answers nothing and waits
			send: func(srv *target) string { return "\xFF\xFE" + utf16(streamHeader(srv.domain), false) }, want: "unsupported-encoding"},
		{name: "utf16-no-bom", rule: "RFC 6120 §11.6, §4.9.3.22; XML 1.0 Appendix F (UTF-16 without a byte order mark)", prosody: "-", // Prosody 0.12 answers nothing and waits
			send: func(srv *target) string { return utf16(streamHeader(srv.domain), false) }, want: "unsupported-encoding"},
		{name: "stanza-instead-of-header", rule: "RFC 6120 §4.8.1, §4.9.3.10 invalid-namespace; the server's header is from a served domain, not the stanza's 'to'",
			send: func(srv *target) string { return "<message to='bob@" + srv.domain + "'/>" }, want: "invalid-namespace"},
		{name: "no-header-until-timeout", rule: "RFC 6120 §4.9.3.4 connection-timeout, §4.9.1.1 header first; limits.auth_timeout (1s here)",
			prosody: "-", // Prosody's c2s_timeout is 300 s by default: too slow for a test
			send:    func(*target) string { return "" }, want: "connection-timeout"},
	}
}

// TestPreStreamErrors runs every pre-stream row on the STARTTLS port (plain TCP, the row's
// bytes first) and on the direct-TLS port (the row's bytes first inside TLS, XEP-0368).
func TestPreStreamErrors(t *testing.T) {
	forEachServerWith(t, ternOpts{ExtraTOML: `auth_timeout = "1s"`}, func(t *testing.T, srv *target) {
		for _, row := range preStreamRows() {
			for _, direct := range []bool{false, true} {
				name := row.name + "/starttls-port"
				if direct {
					name = row.name + "/direct-tls"
				}
				t.Run(name, func(t *testing.T) {
					want := row.want
					if srv.name == "prosody" && row.prosody != "" {
						if row.prosody == "-" {
							t.Skipf("prosody 0.12 is not comparable here (see the row's comment); tern is checked against %s", row.rule)
						}
						want = row.prosody
						t.Logf("prosody differs from %s: expecting %q", row.rule, want)
					}
					c := dialStreamStart(t, srv, direct)
					if s := row.send(srv); s != "" {
						c.send(s)
					}
					got, _ := c.readToEnd()
					checkHeaderBeforeError(t, srv, got, row.rule)
					checkStreamError(t, srv, c, want, row.rule)
				})
			}
		}
		if p := ternOf(srv); p != nil {
			// Two rows end in a time-out (one per port): counted and logged like any stream error.
			if n := metricValue(t, p, `tern_stream_errors_total{condition="connection-timeout"}`); n < 2 {
				t.Errorf("tern_stream_errors_total{condition=\"connection-timeout\"} = %v after two login time-outs; want >= 2", n)
			}
			waitLog(t, p, "stream error sent", "connection-timeout", "limits.auth_timeout")
		}
	})
}

// checkHeaderBeforeError: the server's stream header comes before <stream:error>, and its
// 'from' is a domain the server serves (served; default srv.domain).
func checkHeaderBeforeError(t *testing.T, srv *target, got, rule string, served ...string) {
	t.Helper()
	hdr := regexp.MustCompile(`<stream:stream\s[^>]*>`).FindStringIndex(got)
	errAt := strings.Index(got, "<stream:error")
	switch {
	case hdr == nil:
		t.Errorf("%s: no server stream header at all before the error (RFC 6120 §4.9.1.1; %s):\n%s", srv.name, rule, clip([]byte(got)))
		return
	case errAt >= 0 && hdr[0] > errAt:
		t.Errorf("%s: <stream:error> before the server's stream header (RFC 6120 §4.9.1.1):\n%s", srv.name, clip([]byte(got)))
	}
	header := got[hdr[0]:hdr[1]]
	if len(served) == 0 {
		served = []string{srv.domain}
	}
	if m := regexp.MustCompile(`\sfrom=['"]([^'"]*)['"]`).FindStringSubmatch(header); m != nil && !slices.Contains(served, m[1]) {
		t.Errorf("%s: the server's header claims from=%q; want a served domain %q (never a JID the client chose): %s", srv.name, m[1], served, header)
	}
}

// dialStreamStart connects to the STARTTLS port and sends nothing, or to the direct-TLS port
// and completes the TLS handshake: either way the next bytes are the stream's first.
func dialStreamStart(t testing.TB, srv *target, directTLS bool) *rawClient {
	t.Helper()
	if !directTLS {
		return dialPlainText(t, srv)
	}
	conn, err := net.DialTimeout("tcp", srv.c2sTLS, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", srv.c2sTLS, err)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { c.conn.Close() })
	c.upgrade(&tls.Config{ServerName: srv.domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12, NextProtos: []string{"xmpp-client"}})
	return c
}

// TestStartTLSWhitespace: whitespace after <starttls/> (go-xmpp writes a newline) is harmless
// and must not fail the negotiation; anything else sent before the TLS handshake would be read
// as if it had come over TLS (a command injection, RFC 6120 §5.4.3.3) and is refused.
func TestStartTLSWhitespace(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *target) {
		t.Run("newline-accepted", func(t *testing.T) {
			c := dialPlainText(t, srv)
			c.send(streamHeader(srv.domain))
			c.expect(`<starttls[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]`)
			c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>\n")
			c.expect(`<proceed[^>]*/>|<proceed[^>]*>\s*</proceed>`)
			c.upgrade(&tls.Config{ServerName: srv.domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
			if jid := c.login(srv, srv.users[0]); jid == "" {
				t.Errorf("%s: no JID bound after STARTTLS followed by a newline", srv.name)
			}
		})
		t.Run("data-after-starttls-refused", func(t *testing.T) {
			c := dialPlainText(t, srv)
			c.send(streamHeader(srv.domain))
			c.expect(`<starttls[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]`)
			c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message to='" + srv.users[1] + "'><body>injected</body></message>")
			got, _ := c.readToEnd()
			if srv.name == "prosody" {
				// Prosody 0.12 proceeds and then parses the plaintext as the first data of
				// the TLS stream: the injection §5.4.3.3 guards against. Logged, not failed.
				t.Logf("prosody answered (a known weakness, not asserted): %s", clip([]byte(got)))
				return
			}
			if strings.Contains(got, "<proceed") {
				t.Fatalf("%s: <proceed/> although plaintext followed <starttls/> (RFC 6120 §5.4.3.3):\n%s", srv.name, clip([]byte(got)))
			}
			if !hasStreamError(got, "policy-violation") {
				t.Errorf("tern: want <policy-violation/> for data after <starttls/>; got:\n%s", clip([]byte(got)))
			}
		})
	})
}

// TestConnsPerIPRefusal: a connection over limits.conns_per_ip gets the server's header, a
// <policy-violation/> whose text names the limit, and the close, on both c2s ports; once a
// connection ends, a new one is served.
func TestConnsPerIPRefusal(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{ExtraTOML: "conns_per_ip = 2"})
	for _, direct := range []bool{false, true} {
		held := []*rawClient{holdStream(t, &srv.target, false), holdStream(t, &srv.target, true)}
		c := dialStreamStart(t, &srv.target, direct)
		got, _ := c.readToEnd()
		checkHeaderBeforeError(t, &srv.target, got, "RFC 6120 §4.9.3.14 policy-violation")
		if !hasStreamError(got, "policy-violation") || !strings.Contains(got, "limits.conns_per_ip = 2") {
			t.Errorf("direct=%v: the 3rd connection from one address with conns_per_ip = 2: want <policy-violation/> naming limits.conns_per_ip = 2; got:\n%s", direct, clip([]byte(got)))
		}
		for _, h := range held {
			h.conn.Close()
		}
		deadline := time.Now().Add(rawTimeout)
		for {
			c := dialStreamStart(t, &srv.target, direct)
			c.send(streamHeader(srv.domain))
			c.fill(time.Now().Add(rawTimeout))
			if !strings.Contains(string(c.buf), "policy-violation") {
				c.conn.Close()
				break
			}
			c.conn.Close()
			if time.Now().After(deadline) {
				t.Fatalf("direct=%v: still refused after the other connections closed", direct)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	waitLog(t, srv, "connection refused: too many connections from this address", "limits.conns_per_ip")
}

// holdStream opens a c2s stream up to its first features and keeps it open; it retries while
// the address is still at limits.conns_per_ip (the harness's own probes of the ports may be
// counted for a moment after they close).
func holdStream(t *testing.T, srv *target, directTLS bool) *rawClient {
	t.Helper()
	deadline := time.Now().Add(rawTimeout)
	for {
		c := dialStreamStart(t, srv, directTLS)
		c.send(streamHeader(srv.domain))
		for c.fill(deadline) && !strings.Contains(string(c.buf), "</stream:features>") {
		}
		if strings.Contains(string(c.buf), "</stream:features>") {
			return c
		}
		c.conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("no stream accepted on %s: %s", srv.name, clip(c.buf))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// utf16 encodes ASCII s as UTF-16.
func utf16(s string, bigEndian bool) string {
	b := make([]byte, 0, 2*len(s))
	for i := 0; i < len(s); i++ {
		if bigEndian {
			b = append(b, 0, s[i])
		} else {
			b = append(b, s[i], 0)
		}
	}
	return string(b)
}
