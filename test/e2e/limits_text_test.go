package e2e

import (
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
)

// TestLimitErrorTexts: a policy-violation for a limit says in its <text/> which configuration
// key to change and its value (issue 11 item 7), before and after authentication.
func TestLimitErrorTexts(t *testing.T) {
	t.Parallel()
	// 20000 > the 16384-byte limit before authentication, which then applies under its own name.
	srv := startTern(t, ternOpts{ExtraTOML: "max_stanza_bytes = 20000\nmax_attrs = 16"})
	attrs := ""
	for i := range 17 {
		attrs += fmt.Sprintf(" a%d='x'", i)
	}
	rows := []struct {
		name    string
		auth    bool
		payload func() string
		want    string
	}{
		{"oversized-stanza", true, func() string {
			return "<message to='" + srv.users[1] + "'><body>" + strings.Repeat("a", 30000) + "</body></message>"
		}, "stanza larger than limits.max_stanza_bytes (20000 bytes)"},
		{"too-many-attributes", true, func() string {
			return "<message to='" + srv.users[1] + "'" + attrs + "><body>x</body></message>"
		}, "more attributes on one element than limits.max_attrs (16)"},
		{"oversized-before-auth", false, func() string {
			return streamHeader(srv.domain) + "<iq type='get' id='x'><query xmlns='jabber:iq:register'>" + strings.Repeat("a", 17000) + "</query></iq>"
		}, "stanza larger than the limit before authentication (16384 bytes)"},
		{"too-many-attributes-before-auth", false, func() string {
			return streamHeader(srv.domain) + "<iq type='get' id='x'" + attrs + "/>"
		}, "more attributes on one element than limits.max_attrs (16)"},
		{"oversized-header", false, func() string {
			return strings.Replace(streamHeader(srv.domain), "version=", "x='"+strings.Repeat("a", 5000)+"' version=", 1)
		}, "stream header larger than 4096 bytes"},
	}
	for _, row := range rows {
		t.Run(row.name, func(t *testing.T) {
			c := dialRaw(t, &srv.target, true)
			if row.auth {
				c.login(&srv.target, srv.users[0])
			}
			c.sendAsync(row.payload()) // the server may stop reading mid-payload
			got, _ := c.readToEnd()
			if !hasStreamError(got, "policy-violation") {
				t.Fatalf("want a policy-violation stream error; got:\n%s", clip([]byte(got)))
			}
			m := regexp.MustCompile(`(?s)<text[^>]*>(.*?)</text>`).FindStringSubmatch(got)
			if m == nil {
				t.Fatalf("the stream error has no <text/>: %s", clip([]byte(got)))
			}
			if text := html.UnescapeString(m[1]); text != row.want {
				t.Errorf("<text/> = %q, want %q", text, row.want)
			}
		})
	}
}
