package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xdg-go/scram"
)

// rawClient speaks bytes, not XML: it sends exactly what a test gives it and searches what
// comes back, so tests can send input no real client library would produce.
type rawClient struct {
	t    testing.TB
	conn net.Conn
	buf  []byte // received and not yet consumed by expect
	eof  error  // set once the server closed the connection (or the read failed)
}

// rawTimeout bounds every wait for the server: a liveness limit, not a timing assertion.
const rawTimeout = 10 * time.Second

// streamHeader is a client stream header for domain (RFC 6120 §4.7).
func streamHeader(domain string) string {
	return "<?xml version='1.0'?><stream:stream xmlns='jabber:client' " +
		"xmlns:stream='http://etherx.jabber.org/streams' to='" + domain + "' version='1.0'>"
}

// dialRaw connects to srv over direct TLS (XEP-0368) when directTLS is set, else over TCP
// followed by STARTTLS (RFC 6120 §5). Either way the returned client is inside TLS, before any
// stream header: the caller sends its own. The certificate is not verified (self-signed).
func dialRaw(t testing.TB, srv *target, directTLS bool) *rawClient {
	t.Helper()
	cfg := &tls.Config{ServerName: srv.domain, InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}
	addr := srv.c2s
	if directTLS {
		addr = srv.c2sTLS
	}
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatalf("dial %s: %v", addr, err)
	}
	c := &rawClient{t: t, conn: conn}
	t.Cleanup(func() { c.conn.Close() })
	if directTLS {
		cfg.NextProtos = []string{"xmpp-client"} // XEP-0368 §4: ALPN
		c.upgrade(cfg)
		return c
	}
	c.send(streamHeader(srv.domain))
	c.expect(`<starttls[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-tls['"]`)
	c.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
	c.expect(`<proceed[^>]*/>|<proceed[^>]*>\s*</proceed>`)
	c.upgrade(cfg)
	return c
}

func (c *rawClient) upgrade(cfg *tls.Config) {
	c.t.Helper()
	tc := tls.Client(c.conn, cfg)
	tc.SetDeadline(time.Now().Add(rawTimeout))
	if err := tc.Handshake(); err != nil {
		c.t.Fatalf("TLS handshake with %s: %v", c.conn.RemoteAddr(), err)
	}
	tc.SetDeadline(time.Time{})
	c.conn, c.buf = tc, nil
}

// send writes s; a write error only ends the test when the server has not closed on us,
// because a server that sends a stream error and closes may do so mid-write.
func (c *rawClient) send(s string) {
	c.t.Helper()
	c.conn.SetWriteDeadline(time.Now().Add(rawTimeout))
	if _, err := io.WriteString(c.conn, s); err != nil && c.eof == nil {
		c.t.Logf("write (%d bytes): %v", len(s), err)
	}
}

// sendAsync writes s from another goroutine, for payloads the server may refuse to read
// (oversized stanzas): it returns at once and the test reads the server's answer meanwhile.
func (c *rawClient) sendAsync(s string) {
	conn := c.conn
	go func() {
		conn.SetWriteDeadline(time.Now().Add(rawTimeout))
		io.WriteString(conn, s)
	}()
}

// fill reads once more into buf; false when the connection is done.
func (c *rawClient) fill(deadline time.Time) bool {
	if c.eof != nil {
		return false
	}
	c.conn.SetReadDeadline(deadline)
	var b [32 << 10]byte
	n, err := c.conn.Read(b[:])
	c.buf = append(c.buf, b[:n]...)
	if err != nil {
		c.eof = err
	}
	return n > 0 || err == nil
}

// expect reads until the unconsumed input matches the regexp pattern, consumes through the
// match and returns its submatches; it fails the test with what it got otherwise.
func (c *rawClient) expect(pattern string) []string {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(rawTimeout)
	for {
		if loc := re.FindSubmatchIndex(c.buf); loc != nil {
			var subs []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] >= 0 {
					subs = append(subs, string(c.buf[loc[i]:loc[i+1]]))
				} else {
					subs = append(subs, "")
				}
			}
			c.buf = c.buf[loc[1]:]
			return subs
		}
		if !c.fill(deadline) {
			c.t.Fatalf("waiting for %s: %v; received:\n%s", pattern, c.eof, clip(c.buf))
		}
	}
}

// readToEnd reads until the server ends the stream (</stream:stream>) or closes the
// connection, and returns everything unconsumed. closed reports a TCP close.
func (c *rawClient) readToEnd() (got string, closed bool) {
	deadline := time.Now().Add(rawTimeout)
	for !bytes.Contains(c.buf, []byte("</stream:stream>")) && c.fill(deadline) {
	}
	return string(c.buf), c.eof != nil && !isTimeout(c.eof)
}

// closedAfterOurClose sends our stream close and reports whether the server then closes
// the TCP connection (RFC 6120 §4.4), reading whatever it still sends.
func (c *rawClient) closedAfterOurClose() bool {
	c.send("</stream:stream>")
	deadline := time.Now().Add(rawTimeout)
	for c.fill(deadline) {
	}
	return !isTimeout(c.eof)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// login opens a stream on a TLS-protected client, authenticates user with the strongest of
// SCRAM-SHA-256, SCRAM-SHA-1 and PLAIN the server offers, restarts the stream and binds a
// resource (RFC 6120 §6, §7). It returns the bound full JID.
func (c *rawClient) login(srv *target, user string) string {
	c.t.Helper()
	c.send(streamHeader(srv.domain))
	feats := c.expect(`(?s)<(?:stream:)?features.*?</(?:stream:)?features>`)[0]
	var mechs []string
	for _, m := range regexp.MustCompile(`<mechanism>([^<]+)</mechanism>`).FindAllStringSubmatch(feats, -1) {
		mechs = append(mechs, m[1])
	}
	hashes := map[string]scram.HashGeneratorFcn{"SCRAM-SHA-256": scram.SHA256, "SCRAM-SHA-1": scram.SHA1}
	switch mech := pickMech(mechs); mech {
	case "SCRAM-SHA-256", "SCRAM-SHA-1":
		client, err := hashes[mech].NewClient(localpart(user), srv.password, "")
		if err != nil {
			c.t.Fatal(err)
		}
		conv := client.NewConversation()
		first, _ := conv.Step("")
		c.send(fmt.Sprintf("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='%s'>%s</auth>", mech, b64(first)))
		challenge := c.expect(`<challenge[^>]*>([^<]*)</challenge>`)[1]
		final, err := conv.Step(unb64(c.t, challenge))
		if err != nil {
			c.t.Fatalf("SCRAM server-first-message: %v", err)
		}
		c.send("<response xmlns='urn:ietf:params:xml:ns:xmpp-sasl'>" + b64(final) + "</response>")
		m := c.expect(`<success[^>]*/>|<success[^>]*>([^<]*)</success>|<failure[\s\S]*?</failure>`)
		if strings.HasPrefix(m[0], "<failure") {
			c.t.Fatalf("%s failed for %s: %s", mech, user, m[0])
		}
		if _, err := conv.Step(unb64(c.t, m[1])); err != nil {
			c.t.Fatalf("SCRAM server signature (RFC 5802 §3): %v", err)
		}
	case "PLAIN":
		c.send("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>" +
			b64("\x00"+localpart(user)+"\x00"+srv.password) + "</auth>")
		c.expect(`<success[^>]*/>|<success[^>]*>[^<]*</success>`)
	default:
		c.t.Fatalf("no SASL mechanism this client speaks among %v; features: %s", mechs, feats)
	}
	c.send(streamHeader(srv.domain))
	c.expect(`<bind[^>]*urn:ietf:params:xml:ns:xmpp-bind`)
	c.send("<iq type='set' id='bind1'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'><resource>raw</resource></bind></iq>")
	return c.expect(`<jid>([^<]+)</jid>`)[1]
}

func pickMech(offered []string) string {
	for _, want := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		for _, m := range offered {
			if m == want {
				return m
			}
		}
	}
	return ""
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func unb64(t testing.TB, s string) string {
	t.Helper()
	if s == "=" { // RFC 6120 §6.4.2: "=" is an empty payload
		return ""
	}
	b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		t.Fatalf("bad base64 %q from the server: %v", s, err)
	}
	return string(b)
}

// clip keeps failure messages readable when the server sent a lot.
func clip(b []byte) string {
	const max = 4 << 10
	if len(b) > max {
		return string(b[:max]) + fmt.Sprintf("...(%d more bytes)", len(b)-max)
	}
	return string(b)
}
