package e2e

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

// serverQueryRows: software version (XEP-0092), entity time (XEP-0202), ping (XEP-0199).
func serverQueryRows() []featureRow {
	return []featureRow{
		{name: "version", rule: "XEP-0092 §2: the server's name and version",
			users: []string{"qa1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				r := c.iq("get", srv.domain, "<query xmlns='jabber:iq:version'/>")
				q := r.child("jabber:iq:version", "query")
				if q == nil || strings.TrimSpace(q.path("name").Text) == "" || strings.TrimSpace(q.path("version").Text) == "" {
					t.Errorf("software version: got %s; want <name/> and <version/> with text", r)
				}
			}},
		{name: "time", rule: "XEP-0202 §3, XEP-0082 §3: <tzo/> is ±hh:mm or Z, <utc/> a UTC DateTime",
			users: []string{"qa2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				r := c.iq("get", srv.domain, "<time xmlns='urn:xmpp:time'/>")
				q := r.child("urn:xmpp:time", "time")
				if q == nil {
					t.Fatalf("entity time: got %s", r)
				}
				if tzo := q.path("tzo").Text; !regexp.MustCompile(`^(Z|[+-]\d{2}:\d{2})$`).MatchString(tzo) {
					t.Errorf("tzo %q: want ±hh:mm or Z", tzo)
				}
				utc := q.path("utc").Text
				if _, err := time.Parse(time.RFC3339Nano, utc); err != nil || !strings.HasSuffix(utc, "Z") {
					t.Errorf("utc %q: want an XEP-0082 DateTime in UTC ending in Z (%v)", utc, err)
				}
			}},
		{name: "ping", rule: "XEP-0199 §4.2: a ping to the server, or to one's own bare JID (handled by the server), gets an empty result",
			users: []string{"qa3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				for _, to := range []string{srv.domain, u[0]} {
					r := c.iq("get", to, "<ping xmlns='urn:xmpp:ping'/>")
					if r.attr("type") != "result" || len(r.Kids) != 0 {
						t.Errorf("ping %s: got %s; want an empty result", to, r)
					}
				}
			}},
	}
}

// lastActivityRows: XEP-0012.
func lastActivityRows() []featureRow {
	seconds := func(t *testing.T, r *elem) int {
		t.Helper()
		q := r.child("jabber:iq:last", "query")
		if q == nil {
			t.Fatalf("last activity: got %s; want a result with <query seconds=''/>", r)
		}
		n, err := strconv.Atoi(q.attr("seconds"))
		if err != nil || n < 0 {
			t.Fatalf("last activity %s: 'seconds' is not a non-negative integer", r)
		}
		return n
	}
	return []featureRow{
		{name: "last-uptime", rule: "XEP-0012 Server and Component Query: seconds is the server's uptime, no text",
			users: []string{"la1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				c := connect(t, &srv.target, u[0], loginOpts{})
				r := c.iq("get", srv.domain, "<query xmlns='jabber:iq:last'/>")
				seconds(t, r)
				if txt := strings.TrimSpace(r.child("jabber:iq:last", "query").Text); txt != "" {
					t.Errorf("server last activity %s: SHOULD NOT contain text", r)
				}
			}},
		{name: "last-logout", rule: "XEP-0012 Offline User Query: a subscriber learns the time since logout and the last status; others get forbidden",
			users: []string{"la2", "lb2", "lc2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				befriend(t, a, b)
				stranger := connect(t, &srv.target, u[2], loginOpts{})
				r := b.iq("get", u[0], "<query xmlns='jabber:iq:last'/>")
				if n := seconds(t, r); n != 0 {
					t.Errorf("last activity of an online user: seconds=%d; want 0", n)
				}
				a.send("<presence type='unavailable'><status>Heading Home</status></presence>")
				a.close()
				b.wait("unavailable from "+a.jid, isPresenceFrom(a.jid, "unavailable"))
				r = b.iq("get", u[0], "<query xmlns='jabber:iq:last'/>")
				seconds(t, r)
				if txt := r.child("jabber:iq:last", "query").Text; txt != "Heading Home" {
					t.Errorf("last activity %s: want the last status 'Heading Home'", r)
				}
				wantCondition(t, "last activity asked by a non-subscriber", stranger.iq("get", u[0], "<query xmlns='jabber:iq:last'/>"), "forbidden")
			}},
	}
}
