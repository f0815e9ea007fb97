package serverinfo_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/disco"
	"github.com/tern-xmpp/tern/internal/feature/serverinfo"
	"github.com/tern-xmpp/tern/internal/routing/module"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
)

func mods() []module.Module {
	return []module.Module{
		disco.Module{},
		serverinfo.Ping{},
		serverinfo.Version{Software: "tern", Version: "1.2.3"},
		serverinfo.Time{},
		serverinfo.Contacts{ByDomain: map[string]map[string][]string{mt.Domain: {
			"admin": {"xmpp:admin@example.org", "mailto:admin@example.org"},
			"abuse": {"mailto:abuse@example.org"},
		}}},
	}
}

func get(to, payload string) string {
	return "<iq type='get' id='q' to='" + to + "'>" + payload + "</iq>"
}

func TestServerInfo(t *testing.T) {
	mt.Rules(t, []string{"alice", "bob"}, mods, []mt.Rule{
		{Name: "ping", Rule: "XEP-0199 §4.2: a ping to the server, or to one's own bare JID (answered by the server), is an empty result",
			Run: func(t *testing.T, h *mt.Harness) {
				a := h.Login("alice", "phone")
				for _, to := range []string{mt.Domain, "alice@example.org"} {
					if r := a.Reply(get(to, "<ping xmlns='urn:xmpp:ping'/>")); r.Attr("type") != "result" || len(r.Children) != 0 {
						t.Errorf("ping %s: %s; want an empty result", to, r)
					}
				}
			}},
		{Name: "ping-remote", Rule: "XEP-0199 (server-to-server pings): a ping from another server is answered too",
			Run: func(t *testing.T, h *mt.Harness) {
				fed := h.Federate()
				h.FromRemote("<iq type='get' id='s2s' from='remote.example' to='example.org'><ping xmlns='urn:xmpp:ping'/></iq>")
				if got := fed.Take(); len(got) != 1 || got[0].Attr("type") != "result" || got[0].Attr("to") != "remote.example" {
					t.Errorf("federation got %v; want a result to remote.example", got)
				}
			}},
		{Name: "version", Rule: "XEP-0092 §2, §4: the server's name and version, and no <os/> unless configured",
			Run: func(t *testing.T, h *mt.Harness) {
				q := h.Login("alice", "phone").Reply(get(mt.Domain, "<query xmlns='jabber:iq:version'/>")).Child(serverinfo.NSVersion, "query")
				if q == nil || q.ChildText("", "name") != "tern" || q.ChildText("", "version") != "1.2.3" || q.Child("", "os") != nil {
					t.Errorf("got %v; want name tern, version 1.2.3, no os", q)
				}
			}},
		{Name: "time", Rule: "XEP-0202 §3, XEP-0082 §3: <tzo/> is ±hh:mm, <utc/> the server's clock as a UTC DateTime",
			Run: func(t *testing.T, h *mt.Harness) {
				q := h.Login("alice", "phone").Reply(get(mt.Domain, "<time xmlns='urn:xmpp:time'/>")).Child(serverinfo.NSTime, "time")
				if q == nil {
					t.Fatal("no <time/>")
				}
				if tzo := q.ChildText("", "tzo"); !regexp.MustCompile(`^[+-]\d{2}:\d{2}$`).MatchString(tzo) {
					t.Errorf("tzo %q", tzo)
				}
				utc := q.ChildText("", "utc")
				at, err := time.Parse(time.RFC3339Nano, utc)
				if err != nil || !strings.HasSuffix(utc, "Z") || time.Since(at).Abs() > time.Minute {
					t.Errorf("utc %q (%v); want now, in UTC with Z", utc, err)
				}
			}},
		{Name: "contact-addresses", Rule: "XEP-0157 §3, XEP-0128 §2: the server's disco#info carries a result form of FORM_TYPE serverinfo with the configured addresses",
			Run: func(t *testing.T, h *mt.Harness) {
				q := h.Login("alice", "phone").Reply(get(mt.Domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")).Child(disco.NSInfo, "query")
				x := q.Child("jabber:x:data", "x")
				if x == nil || x.Attr("type") != "result" {
					t.Fatalf("disco#info %s: no result form", q)
				}
				var fields []string
				for _, f := range x.Elements() {
					var vals []string
					for _, v := range f.Elements() {
						vals = append(vals, v.Text())
					}
					fields = append(fields, f.Attr("var")+"="+strings.Join(vals, "|"))
				}
				want := "FORM_TYPE=http://jabber.org/network/serverinfo abuse-addresses=mailto:abuse@example.org admin-addresses=xmpp:admin@example.org|mailto:admin@example.org"
				if got := strings.Join(fields, " "); got != want {
					t.Errorf("form fields %s; want %s", got, want)
				}
				if ft := x.Child("", "field"); ft.Attr("type") != "hidden" {
					t.Errorf("FORM_TYPE field %s; want type hidden (XEP-0068)", ft)
				}
			}},
		{Name: "discoverable", Rule: "XEP-0199 §8, XEP-0092 §3, XEP-0202 §4: each protocol is listed in the server's disco#info",
			Run: func(t *testing.T, h *mt.Harness) {
				q := h.Login("alice", "phone").Reply(get(mt.Domain, "<query xmlns='http://jabber.org/protocol/disco#info'/>")).Child(disco.NSInfo, "query")
				have := map[string]bool{}
				for _, f := range q.Elements() {
					have[f.Attr("var")] = true
				}
				for _, ns := range []string{serverinfo.NSPing, serverinfo.NSVersion, serverinfo.NSTime} {
					if !have[ns] {
						t.Errorf("disco#info lacks %s", ns)
					}
				}
			}},
	})
}
