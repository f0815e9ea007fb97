package e2e

import (
	"regexp"
	"strings"
	"testing"
)

// badInputRow is one kind of bad client input and the stream error RFC 6120 requires for it.
type badInputRow struct {
	name string
	rule string // the spec text the row checks
	auth bool   // log in (and bind) first; payload then follows on the authenticated stream
	// payload returns what is sent after TLS: when !auth, it includes the stream header.
	payload func(srv *target) string
	async   bool   // the server may stop reading mid-payload (oversized input)
	want    string // stream error condition, urn:ietf:params:xml:ns:xmpp-streams
	// prosody is Prosody 0.12's condition where it differs from the RFC's ("" = same, "-" = no
	// stream error at all); the oracle accepts it and logs the difference.
	prosody string
}

func badInputRows() []badInputRow {
	hdr := func(srv *target) string { return streamHeader(srv.domain) }
	after := func(s string) func(*target) string {
		return func(srv *target) string { return hdr(srv) + s }
	}
	return []badInputRow{
		{name: "mismatched-end-tag", rule: "RFC 6120 §4.9.3.13 not-well-formed",
			payload: after("<message><body>x</message>"), want: "not-well-formed"},
		{name: "garbage", rule: "RFC 6120 §4.9.3.13 not-well-formed",
			payload: after("<<>>"), want: "not-well-formed"},
		{name: "doctype", rule: "RFC 6120 §11.1, §4.9.3.18: no DTDs (restricted-xml)", prosody: "not-well-formed",
			payload: func(srv *target) string {
				return "<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'xx'>]>" +
					strings.TrimPrefix(hdr(srv), "<?xml version='1.0'?>")
			}, want: "restricted-xml"},
		{name: "comment", rule: "RFC 6120 §11.1, §4.9.3.18: no comments (restricted-xml)", prosody: "not-well-formed",
			payload: after("<!-- hello -->"), want: "restricted-xml"},
		{name: "processing-instruction", rule: "RFC 6120 §11.1, §4.9.3.18: no processing instructions (restricted-xml)", prosody: "not-well-formed",
			payload: after("<?evil x?>"), want: "restricted-xml"},
		{name: "wrong-stream-namespace", rule: "RFC 6120 §4.8.1, §4.9.3.10 invalid-namespace",
			payload: func(srv *target) string {
				return "<stream:stream xmlns='jabber:client' xmlns:stream='urn:example:not-streams' to='" +
					srv.domain + "' version='1.0'>"
			}, want: "invalid-namespace"},
		{name: "wrong-content-namespace", rule: "RFC 6120 §4.8.2, §4.9.3.10 invalid-namespace", prosody: "-", // Prosody accepts the stream
			payload: func(srv *target) string {
				return "<stream:stream xmlns='jabber:wrong' xmlns:stream='http://etherx.jabber.org/streams' to='" +
					srv.domain + "' version='1.0'>"
			}, want: "invalid-namespace"},
		{name: "unknown-host", rule: "RFC 6120 §4.9.3.6 host-unknown",
			payload: func(srv *target) string { return streamHeader("nowhere.invalid") }, want: "host-unknown"},
		{name: "stanza-before-auth", rule: "RFC 6120 §4.9.3.12 not-authorized", prosody: "-", // Prosody bounces a service-unavailable stanza error
			payload: func(srv *target) string {
				return hdr(srv) + "<message to='" + srv.users[1] + "'><body>early</body></message>"
			}, want: "not-authorized"},
		{name: "spoofed-from", rule: "RFC 6120 §8.1.2.1, §4.9.3.9 invalid-from", auth: true, prosody: "-", // Prosody re-stamps silently
			payload: func(srv *target) string {
				return "<message from='" + srv.users[1] + "/spoof' to='" + srv.users[0] + "' type='chat'><body>spoof</body></message>"
			}, want: "invalid-from"},
		{name: "deeply-nested-stanza", rule: "RFC 6120 §4.9.3.14 policy-violation (nesting depth limit)", auth: true, prosody: "-",
			payload: func(srv *target) string {
				return "<message to='" + srv.users[1] + "'>" + strings.Repeat("<x xmlns='urn:example:deep'>", 100) +
					strings.Repeat("</x>", 100) + "</message>"
			}, want: "policy-violation"},
		{name: "unknown-stanza-type", rule: "RFC 6120 §4.9.3.21 unsupported-stanza-type", auth: true,
			payload: func(srv *target) string { return "<query to='" + srv.domain + "'/>" }, want: "unsupported-stanza-type"},
		{name: "unknown-namespace-element", rule: "RFC 6120 §4.9.3.21 unsupported-stanza-type", auth: true,
			payload: func(srv *target) string { return "<hello xmlns='urn:example:unknown'/>" }, want: "unsupported-stanza-type"},
		{name: "unbound-prefix", rule: "RFC 6120 §4.9.3.2 bad-namespace-prefix", auth: true, prosody: "not-well-formed",
			payload: func(srv *target) string { return "<foo:message to='" + srv.users[1] + "'/>" }, want: "bad-namespace-prefix"},
		{name: "invalid-utf8", rule: "RFC 6120 §11.6 UTF-8 only, §4.9.3.13 not-well-formed", auth: true,
			payload: func(srv *target) string {
				return "<message to='" + srv.users[1] + "'><body>\xff\xfe</body></message>"
			}, want: "not-well-formed"},
		{name: "nul-character-reference", rule: "XML 1.0 Char production, RFC 6120 §4.9.3.13 not-well-formed", auth: true,
			payload: func(srv *target) string {
				return "<message to='" + srv.users[1] + "'><body>&#0;</body></message>"
			}, want: "not-well-formed"},
		{name: "oversized-stanza", rule: "RFC 6120 §4.9.3.14 policy-violation (stanza size limit, XEP-0478)",
			auth: true, async: true,
			payload: func(srv *target) string {
				return "<message to='" + srv.users[1] + "' type='chat'><body>" + strings.Repeat("a", 512<<10) + "</body></message>"
			}, want: "policy-violation"},
	}
}

// TestBadInputStreamErrors sends each bad input on a fresh connection and checks the stream
// error condition, that the server closes the stream and the connection (RFC 6120 §4.9.1.1:
// stream errors are unrecoverable), and that it still serves a new login afterwards.
func TestBadInputStreamErrors(t *testing.T) {
	forEachServer(t, func(t *testing.T, srv *target) {
		for _, row := range badInputRows() {
			t.Run(row.name, func(t *testing.T) {
				want := row.want
				if srv.name == "prosody" && row.prosody != "" {
					want = row.prosody
					t.Logf("prosody differs from %s: expecting %q", row.rule, want)
				}
				c := dialRaw(t, srv, true)
				if row.auth {
					c.login(srv, srv.users[0])
				}
				payload := row.payload(srv)
				if row.async {
					c.sendAsync(payload)
				} else {
					c.send(payload)
				}
				if want == "-" {
					t.Logf("prosody sends no stream error here; only checking that it keeps serving")
				} else {
					checkStreamError(t, srv, c, want, row.rule)
				}
				// The server must still serve others: a new connection (STARTTLS this time) logs in.
				if jid := dialRaw(t, srv, false).login(srv, srv.users[0]); jid == "" {
					t.Errorf("%s: no JID bound on a new connection after %s", srv.name, row.name)
				}
			})
		}
	})
}

// checkStreamError reads to the end of the stream and checks its error condition, that the
// stream was closed, and that the TCP connection closes after our own stream close.
func checkStreamError(t *testing.T, srv *target, c *rawClient, want, rule string) {
	t.Helper()
	got, closed := c.readToEnd()
	if !hasStreamError(got, want) {
		t.Errorf("%s: want <stream:error><%s xmlns='urn:ietf:params:xml:ns:xmpp-streams'/> (%s); got:\n%s",
			srv.name, want, rule, clip([]byte(got)))
	}
	if !strings.Contains(got, "</stream:stream>") && !closed {
		t.Errorf("%s: after the stream error the stream stayed open (RFC 6120 §4.9.1.1)", srv.name)
	}
	if !c.closedAfterOurClose() {
		t.Errorf("%s: the TCP connection stayed open after both stream closes (RFC 6120 §4.4)", srv.name)
	}
}

// hasStreamError reports whether got holds a stream error whose condition is cond, in the
// streams namespace, under a prefixed or default-namespaced <error/>.
func hasStreamError(got, cond string) bool {
	m := regexp.MustCompile(`(?s)<(stream:error|error xmlns=['"]http://etherx\.jabber\.org/streams['"])[^>]*>(.*?)</(stream:)?error>`).FindStringSubmatch(got)
	if m == nil {
		return false
	}
	return regexp.MustCompile(`<` + regexp.QuoteMeta(cond) + `\s[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-streams['"]`).MatchString(m[2])
}
