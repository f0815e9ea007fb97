package privatexml

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// memStore is storage.PrivateXML in a map, with the same quota rule.
type memStore struct {
	mu sync.Mutex
	m  map[[2]string][]byte
}

func (s *memStore) GetPrivate(_ context.Context, owner, ns string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.m[[2]string{owner, ns}]
	if !ok {
		return nil, storage.ErrNotFound
	}
	return b, nil
}

func (s *memStore) SetPrivate(_ context.Context, owner, ns string, data []byte, maxNS, maxBytes int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	n, total := 1, len(data)
	for k, v := range s.m {
		if k[0] == owner && k[1] != ns {
			n, total = n+1, total+len(v)
		}
	}
	if (maxNS > 0 && n > maxNS) || (maxBytes > 0 && total > maxBytes) {
		return storage.ErrQuotaExceeded
	}
	s.m[[2]string{owner, ns}] = data
	return nil
}

func (s *memStore) RemovePrivate(_ context.Context, owner, ns string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, [2]string{owner, ns})
	return nil
}

// store is a storage.Store with only private XML.
type store struct{ p *memStore }

func (s store) PrivateXML() storage.PrivateXML { return s.p }

func (store) Users() storage.Users               { return users{} }
func (store) Roster() storage.Roster             { return nil }
func (store) Offline() storage.Offline           { return nil }
func (store) VCards() storage.VCards             { return nil }
func (store) Blocking() storage.Blocking         { return nil }
func (store) LastActivity() storage.LastActivity { return nil }
func (store) Archive() storage.Archive           { return nil }
func (store) History() storage.History           { return nil }
func (store) Tracking() storage.Tracking         { return nil }
func (store) DirectCerts() storage.DirectCerts   { return nil }
func (store) Ping(context.Context) error         { return nil }
func (store) Close() error                       { return nil }

type users struct{ storage.Users }

func (users) GetUser(_ context.Context, domain, username string) (storage.User, error) {
	return storage.User{Domain: domain, Username: username}, nil // everyone exists
}

type session struct{ got []*xml.Element }

func (s *session) Send(el *xml.Element) bool { s.got = append(s.got, el); return true }
func (*session) Backlog() int                { return 0 }
func (*session) NotifyDrained(fn func(bool)) { fn(true) }
func (*session) Close(*stream.Error)         {}
func (*session) RemoteAddr() string          { return "test" }

// client sends iqs from alice@example.org/r through a router with the feature registered.
type client struct {
	t   *testing.T
	r   *router.Router
	res *router.Resource
	s   *session
}

func newClient(t *testing.T, lim Limits) *client {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	r := router.New(log, []string{"example.org"}, users{})
	h := module.NewHost(r, store{&memStore{m: map[[2]string][]byte{}}}, log, nil, nil)
	if err := h.Load([]module.Module{&Module{Limits: lim}}, nil); err != nil {
		t.Fatal(err)
	}
	s := &session{}
	res := &router.Resource{JID: jid.MustParse("alice@example.org/r"), Session: s}
	r.Bind(context.Background(), res)
	return &client{t: t, r: r, res: res, s: s}
}

// iq sends one iq and returns the reply.
func (c *client) iq(typ, to, payload string) *xml.Element {
	c.t.Helper()
	s := "<iq xmlns='jabber:client' type='" + typ + "' id='1' from='alice@example.org/r'"
	if to != "" {
		s += " to='" + to + "'"
	}
	el, err := xml.Parse([]byte(s + ">" + payload + "</iq>"))
	if err != nil {
		c.t.Fatalf("parse %s: %v", payload, err)
	}
	return c.send(el)
}

func (c *client) send(el *xml.Element) *xml.Element {
	c.t.Helper()
	st, serr := router.NewStanza(el)
	if serr != nil {
		c.t.Fatal(serr)
	}
	c.s.got = nil
	c.r.FromClient(context.Background(), c.res, st)
	if len(c.s.got) != 1 {
		c.t.Fatalf("%s: got %d replies, want 1", el, len(c.s.got))
	}
	return c.s.got[0]
}

func condition(el *xml.Element) string {
	if el.Attr("type") != "error" {
		return ""
	}
	return el.Child("", "error").FirstElement().Name
}

// query returns the reply's <query/> children serialized, for comparison.
func query(el *xml.Element) string {
	q := el.Child(NS, "query")
	if q == nil {
		return "<no query>"
	}
	var b []byte
	for _, k := range q.Elements() {
		b = xml.Append(b, k, NS)
	}
	return string(b)
}

const (
	bm1 = `<storage xmlns="storage:bookmarks"><conference jid="tea@muc.example" autojoin="true"><nick>alice</nick></conference></storage>`
	bm2 = `<storage xmlns="storage:bookmarks"><url name="x" url="https://x.example/"/></storage>`
	rn  = `<storage xmlns="storage:rosternotes"><note jid="bob@example.org">likes tea</note></storage>`
)

func TestPrivateStoreAndRetrieve(t *testing.T) {
	c := newClient(t, DefaultLimits)
	q := func(s string) string { return "<query xmlns='jabber:iq:private'>" + s + "</query>" }
	steps := []struct {
		rule, typ, to, payload, cond, want string
	}{
		{"nothing stored yet (the XEP is silent; as Prosody): the asked-for element, empty", "get", "", q("<storage xmlns='storage:bookmarks'/>"), "", `<storage xmlns="storage:bookmarks"/>`},
		{"§2.3 example 1: a set stores", "set", "", q(bm1), "", ""},
		{"§2.3 example 2: a get returns it", "get", "", q("<storage xmlns='storage:bookmarks'/>"), "", bm1},
		{"addressed to one's own bare JID works the same", "get", "alice@example.org", q("<storage xmlns='storage:bookmarks'/>"), "", bm1},
		{"another namespace is independent", "set", "", q(rn), "", ""},
		{"§2.1: a set replaces", "set", "", q(bm2), "", ""},
		{"the replacement", "get", "", q("<storage xmlns='storage:bookmarks'/>"), "", bm2},
		{"the other namespace kept", "get", "", q("<storage xmlns='storage:rosternotes'/>"), "", rn},
		{"matched by namespace, not name (XEP-0098 §1 on XEP-0049)", "get", "", q("<other xmlns='storage:rosternotes'/>"), "", rn},
		{"§2.3: a set MAY hold several elements of one namespace", "set", "", q("<a xmlns='x:y'>1</a><b xmlns='x:y'/>"), "", ""},
		{"they come back together", "get", "", q("<a xmlns='x:y'/>"), "", `<a xmlns="x:y">1</a><b xmlns="x:y"/>`},
		{"an empty element clears the namespace", "set", "", q("<storage xmlns='storage:bookmarks'/>"), "", ""},
		{"cleared", "get", "", q("<storage xmlns='storage:bookmarks'/>"), "", `<storage xmlns="storage:bookmarks"/>`},
		{"§2.3, §3: another account's storage is forbidden (get)", "get", "bob@example.org", q("<storage xmlns='storage:rosternotes'/>"), "forbidden", ""},
		{"§2.3, §3: another account's storage is forbidden (set)", "set", "bob@example.org", q(bm1), "forbidden", ""},
		{"§2.3: an empty get is not-acceptable", "get", "", q(""), "not-acceptable", ""},
		{"§2.3: an empty set is not-acceptable", "set", "", q("  "), "not-acceptable", ""},
		{"§2.3: a child in jabber:iq:private (no namespace of its own)", "set", "", q("<prefs/>"), "not-acceptable", ""},
		{"§2.3: a child in jabber:client", "set", "", q("<prefs xmlns='jabber:client'/>"), "not-acceptable", ""},
		{"§2.3: a child in no namespace", "get", "", q("<prefs xmlns=''/>"), "not-acceptable", ""},
		{"§2.3: a get MUST NOT ask for more than one namespace", "get", "", q("<a xmlns='a:a'/><b xmlns='b:b'/>"), "bad-request", ""},
		{"§2.3: a set's elements share a namespace", "set", "", q("<a xmlns='a:a'>1</a><b xmlns='b:b'>2</b>"), "bad-request", ""},
		{"the refused set stored nothing", "get", "", q("<a xmlns='a:a'/>"), "", `<a xmlns="a:a"/>`},
		{"the payload must be <query/>", "get", "", "<storage xmlns='jabber:iq:private'/>", "bad-request", ""},
	}
	for _, s := range steps {
		r := c.iq(s.typ, s.to, s.payload)
		if got := condition(r); got != s.cond {
			t.Errorf("%s: %s %s: got %s; want condition %q", s.rule, s.typ, s.payload, r, s.cond)
			continue
		}
		if s.typ == "get" && s.cond == "" {
			if got := query(r); got != s.want {
				t.Errorf("%s: get %s returned %s; want %s", s.rule, s.payload, got, s.want)
			}
		}
	}
}

func TestPrivateLimits(t *testing.T) {
	c := newClient(t, Limits{ElementBytes: 100, Namespaces: 2, TotalBytes: 170})
	set := func(el string) *xml.Element {
		return c.iq("set", "", "<query xmlns='jabber:iq:private'>"+el+"</query>")
	}
	for _, s := range []struct {
		rule, el, cond, text string
	}{
		{"within every limit", `<a xmlns="n:a">` + strings.Repeat("x", 60) + `</a>`, "", ""},
		{"one namespace over ElementBytes", `<b xmlns="n:b">` + strings.Repeat("x", 100) + `</b>`, "not-acceptable", "100 bytes per namespace"},
		{"a second namespace", `<b xmlns="n:b">` + strings.Repeat("x", 60) + `</b>`, "", ""},
		{"a third is over Namespaces", `<c xmlns="n:c"/>` + `<c xmlns="n:c"/>`, "policy-violation", "2 namespaces and 170 bytes"},
		{"growing one over TotalBytes", `<b xmlns="n:b">` + strings.Repeat("x", 80) + `</b>`, "policy-violation", "per account"},
		{"replacing within TotalBytes", `<b xmlns="n:b">` + strings.Repeat("y", 20) + `</b>`, "", ""},
		{"clearing frees a namespace", `<a xmlns="n:a"/>`, "", ""},
		{"so a new one fits", `<c xmlns="n:c">z</c>`, "", ""},
	} {
		r := set(s.el)
		if got := condition(r); got != s.cond {
			t.Errorf("%s: got %s; want condition %q", s.rule, r, s.cond)
		} else if s.cond != "" && !strings.Contains(r.Child("", "error").ChildText("", "text"), s.text) {
			t.Errorf("%s: error %s; want a text naming the limit (%q)", s.rule, r, s.text)
		}
	}
}

func TestPrivateTooDeepToServeIsRefused(t *testing.T) {
	// A stream whose max_depth is raised above the standalone parser's lets this in.
	c := newClient(t, DefaultLimits)
	top := xml.New("deep:x", "x")
	for el, i := top, 0; i < xml.DefaultLimits.MaxDepth; i++ {
		d := xml.New("deep:x", "d")
		el.Append(d)
		el = d
	}
	iq := xml.New(xml.NSClient, "iq", "type", "set", "id", "1", "from", "alice@example.org/r")
	iq.Append(xml.New(NS, "query").Append(top))
	if r := c.send(iq); condition(r) != "not-acceptable" {
		t.Errorf("set of an element too deep to parse back: got %s; want not-acceptable", r)
	}
}

func TestPrivateDiscoFeature(t *testing.T) {
	c := newClient(t, DefaultLimits)
	for _, target := range []router.Target{router.Host, router.Account} {
		found := false
		for _, f := range c.r.Features(target) {
			found = found || f == NS
		}
		if !found {
			t.Errorf("disco features of target %d lack %s", target, NS)
		}
	}
}
