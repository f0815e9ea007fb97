// Package moduletest runs feature modules against a real router and a real
// store (SQLite in a temporary directory) without starting the server: a
// test logs fake sessions in, sends them stanzas as a client would, and
// reads what they got; FromRemote and Federate stand in for federation.
// Routing is synchronous unless a hook holds a stanza, so what a stanza
// causes is there to Take when Send returns. Feature packages use it for
// table tests of their rules (Rules); the end-to-end tests in test/e2e
// drive the real binary.
package moduletest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/cache"
	"github.com/tern-xmpp/tern/internal/storage/sqlite"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Domain is the served domain of a harness.
const Domain = "example.org"

// T is what a harness needs of a test: testing.TB, or Standalone() in an
// Example.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	TempDir() string
	Cleanup(func())
}

// Standalone is a T for Example functions: a failure panics; call the
// harness's Close at the end.
func Standalone() T { return &standalone{} }

type standalone struct{ cleanups []func() }

func (*standalone) Helper()                           {}
func (*standalone) Fatalf(format string, args ...any) { panic(fmt.Sprintf(format, args...)) }
func (s *standalone) Cleanup(f func())                { s.cleanups = append(s.cleanups, f) }
func (s *standalone) TempDir() string {
	d, err := os.MkdirTemp("", "moduletest-")
	if err != nil {
		panic(err)
	}
	s.Cleanup(func() { os.RemoveAll(d) })
	return d
}

// Close runs the clean-ups of a Standalone harness (testing.TB runs them itself).
func (h *Harness) Close() {
	if s, ok := h.t.(*standalone); ok {
		for i := len(s.cleanups) - 1; i >= 0; i-- {
			s.cleanups[i]()
		}
		s.cleanups = nil
	}
}

// Harness is a router with modules loaded over a fresh store.
type Harness struct {
	t      T
	Router *router.Router
	Store  storage.Store
	Host   *module.Host
	lanes  router.Lanes // of the fake federation stream (FromRemote)
}

// New loads mods (in order) over a fresh SQLite store, cached as the
// server caches it, and creates the accounts users (localparts). Set
// TERN_TEST_LOG=1 to see the log.
func New(t T, users []string, mods ...module.Module) *Harness {
	t.Helper()
	dir := t.TempDir()
	if strings.ContainsAny(dir, "?#") {
		// A fuzz seed's directory ("FuzzX/seed#3"): the SQLite store
		// refuses paths that would read as a URI's query or fragment.
		d, err := os.MkdirTemp("", "moduletest-")
		if err != nil {
			t.Fatalf("temporary directory: %v", err)
		}
		t.Cleanup(func() { os.RemoveAll(d) })
		dir = d
	}
	raw, err := sqlite.Open(context.Background(), filepath.Join(dir, "tern.db"))
	if err != nil {
		t.Fatalf("open the test store: %v", err)
	}
	store := cache.Wrap(raw, cache.Options{})
	t.Cleanup(func() { store.Close() })
	var w io.Writer = io.Discard
	if os.Getenv("TERN_TEST_LOG") == "1" {
		w = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	r := router.New(log, []string{Domain}, store.Users())
	h := module.NewHost(r, store, log, nil, time.Now)
	if err := h.Load(mods, nil); err != nil {
		t.Fatalf("load modules: %v", err)
	}
	for _, u := range users {
		if err := store.Users().CreateUser(context.Background(), storage.User{Domain: Domain, Username: u}); err != nil {
			t.Fatalf("create %s: %v", u, err)
		}
	}
	return &Harness{t: t, Router: r, Store: store, Host: h}
}

// FromRemote routes a stanza as if it came over federation (s2s hands
// inbound stanzas to Router.FromRemote): it is parsed in jabber:server and
// its 'from', a JID at another domain, is kept.
func (h *Harness) FromRemote(stanza string) {
	h.t.Helper()
	st, serr := router.NewStanza(parseIn(h.t, xml.NSServer, stanza))
	if serr != nil || st.From.IsZero() || h.Router.IsLocal(st.From.Domain()) {
		h.t.Fatalf("bad remote stanza %s: needs a 'from' at another domain (%v)", stanza, serr)
	}
	h.Router.FromRemote(context.Background(), &h.lanes, st)
}

// Federate installs a fake federation (router.Remote) and returns it:
// stanzas for other domains are recorded there instead of bouncing with
// remote-server-not-found.
func (h *Harness) Federate() *Remote {
	r := &Remote{}
	h.Router.SetRemote(r)
	return r
}

// Remote records what the router hands to federation.
type Remote struct {
	mu  sync.Mutex
	got []*xml.Element
}

// Send implements router.Remote.
func (r *Remote) Send(_ context.Context, st *router.Stanza) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, st.El)
}

// Take returns and forgets what was sent to other domains so far.
func (r *Remote) Take() []*xml.Element {
	r.mu.Lock()
	defer r.mu.Unlock()
	got := r.got
	r.got = nil
	return got
}

// Session is a fake client session: what the server sends it is recorded.
type Session struct {
	h   *Harness
	Res *router.Resource
	JID jid.JID

	mu     sync.Mutex
	got    []*xml.Element
	closed *stream.Error
}

// Login binds localpart/resource, as c2s does after authentication.
func (h *Harness) Login(localpart, resource string) *Session {
	h.t.Helper()
	j := jid.MustParse(localpart + "@" + Domain + "/" + resource)
	s := &Session{h: h, JID: j}
	s.Res = &router.Resource{JID: j, Session: conn{s}}
	h.Router.Bind(context.Background(), s.Res)
	return s
}

// Online logs in and sends initial presence (RFC 6121 §4.2).
func (h *Harness) Online(localpart, resource string) *Session {
	s := h.Login(localpart, resource)
	s.Send(`<presence/>`)
	return s
}

// Send parses a stanza (jabber:client is the default namespace), stamps
// its 'from' with the session's full JID (as c2s does) and hands it to the
// router.
func (s *Session) Send(stanza string) {
	s.h.t.Helper()
	el := parse(s.h.t, stanza)
	el.SetAttr("from", s.JID.String())
	st, serr := router.NewStanza(el)
	if serr != nil {
		s.h.t.Fatalf("bad test stanza %s: %v", stanza, serr)
	}
	s.h.Router.FromClient(context.Background(), s.Res, st)
}

func parse(t T, stanza string) *xml.Element { return parseIn(t, xml.NSClient, stanza) }

// parseIn parses one element with ns as the default namespace.
func parseIn(t T, ns, stanza string) *xml.Element {
	t.Helper()
	w, err := xml.Parse([]byte("<w xmlns='" + ns + "'>" + stanza + "</w>"))
	if err != nil || w.FirstElement() == nil {
		t.Fatalf("bad test stanza %s: %v", stanza, err)
	}
	return w.FirstElement()
}

// Logout ends the session as c2s does when its stream ends: the resource
// is unbound (unavailable goes out if it was available, RFC 6121 §4.6.3),
// then the session is closed.
func (s *Session) Logout() {
	s.h.Router.Unbind(context.Background(), s.Res)
	conn{s}.Close(nil)
}

// Nonza hands a top-level element that is no stanza (CSI) to the handler
// of its namespace, as c2s does; false when no module handles it (c2s
// then ends the stream with unsupported-stanza-type).
func (s *Session) Nonza(el string) bool {
	s.h.t.Helper()
	e := parse(s.h.t, el)
	fn := s.h.Router.Nonza(e.Space)
	if fn == nil {
		return false
	}
	fn(context.Background(), s.Res, e)
	return true
}

// Take returns and forgets what the session got so far.
func (s *Session) Take() []*xml.Element {
	s.mu.Lock()
	defer s.mu.Unlock()
	got := s.got
	s.got = nil
	return got
}

// Reply sends an iq and returns its reply (result or error with its id),
// failing the test without one; everything else stays for Take.
func (s *Session) Reply(iq string) *xml.Element {
	s.h.t.Helper()
	s.Send(iq)
	id := parse(s.h.t, iq).Attr("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, g := range s.got {
		if g.Name == "iq" && g.Attr("id") == id && (g.Attr("type") == "result" || g.Attr("type") == "error") {
			s.got = append(s.got[:i:i], s.got[i+1:]...)
			return g
		}
	}
	s.h.t.Fatalf("no reply to %s", iq)
	return nil
}

// Closed is the stream error the session was closed with, if any.
func (s *Session) Closed() *stream.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// conn is the router.Session side of a Session.
type conn struct{ s *Session }

func (c conn) Send(el *xml.Element) bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if c.s.closed != nil {
		return false
	}
	if hasRaw(el) {
		// Serialized XML inside (an archived message): what a client
		// reads is the parsed whole.
		b := xml.Append(nil, el, "")
		p, err := xml.Parse(b)
		if err != nil {
			panic(fmt.Sprintf("moduletest: the server sent malformed XML: %v: %s", err, b))
		}
		el = p
	}
	c.s.got = append(c.s.got, el)
	return true
}

func (c conn) Backlog() int { return 0 }

func (c conn) NotifyDrained(fn func(ok bool)) { fn(c.s.Closed() == nil) }

func (c conn) Close(err *stream.Error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if err == nil {
		err = stream.NewError("", "")
	}
	c.s.closed = err
}

func (c conn) RemoteAddr() string { return "test" }

// ErrorCondition is the stanza error condition of el, or "".
func ErrorCondition(el *xml.Element) string {
	if el == nil || el.Attr("type") != "error" {
		return ""
	}
	if e := el.Child("", "error"); e != nil {
		if c := e.FirstElement(); c != nil {
			return c.Name
		}
	}
	return "?"
}

// Filter returns the elements named name (message, presence, iq) whose
// attributes have the given values, as pairs ("type", "unavailable",
// "from", "bob@example.org/pc"); an empty value means the attribute is
// absent.
func Filter(els []*xml.Element, name string, attrs ...string) []*xml.Element {
	var out []*xml.Element
next:
	for _, el := range els {
		if el.Name != name {
			continue
		}
		for i := 0; i+1 < len(attrs); i += 2 {
			if el.Attr(attrs[i]) != attrs[i+1] {
				continue next
			}
		}
		out = append(out, el)
	}
	return out
}

// Rule is one table row: a rule of a specification, cited, and its check
// on a fresh harness.
type Rule struct {
	Name string
	Rule string // "RFC 6121 §4.2.2: initial presence goes to ..."
	Run  func(t *testing.T, h *Harness)
}

// Rules runs each row as a parallel subtest on a harness of its own, with
// the accounts users and the modules mods() returns (fresh values per row).
func Rules(t *testing.T, users []string, mods func() []module.Module, rows []Rule) {
	t.Helper()
	for _, r := range rows {
		t.Run(r.Name, func(t *testing.T) {
			t.Parallel()
			t.Logf("checks %s", r.Rule)
			r.Run(t, New(t, users, mods()...))
		})
	}
}

// CPUTime is the process's user and system CPU time so far (benchmarks
// report CPU per operation with it).
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func hasRaw(el *xml.Element) bool {
	for _, n := range el.Children {
		switch c := n.(type) {
		case xml.Raw:
			return true
		case *xml.Element:
			if hasRaw(c) {
				return true
			}
		}
	}
	return false
}
