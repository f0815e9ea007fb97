package router

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

type fakeSession struct {
	mu     sync.Mutex
	got    []*xml.Element
	closed *stream.Error
}

func (f *fakeSession) Send(el *xml.Element) bool {
	f.mu.Lock()
	f.got = append(f.got, el)
	f.mu.Unlock()
	return true
}
func (f *fakeSession) Backlog() int                { return 0 }
func (f *fakeSession) NotifyDrained(fn func(bool)) { fn(true) }
func (f *fakeSession) Close(err *stream.Error)     { f.closed = err }
func (f *fakeSession) RemoteAddr() string          { return "test" }

type fakeUsers struct {
	storage.Users
	known map[string]bool
}

func (u fakeUsers) GetUser(_ context.Context, domain, username string) (storage.User, error) {
	if u.known[username+"@"+domain] {
		return storage.User{Domain: domain, Username: username}, nil
	}
	return storage.User{}, storage.ErrNotFound
}

func newTestRouter(users ...string) *Router {
	known := map[string]bool{}
	for _, u := range users {
		known[u] = true
	}
	return New(slog.New(slog.NewTextHandler(io.Discard, nil)), []string{"example.org"}, fakeUsers{known: known})
}

func online(t *testing.T, r *Router, full string, prio int, available bool) (*Resource, *fakeSession) {
	t.Helper()
	fs := &fakeSession{}
	res := &Resource{JID: jid.MustParse(full), Session: fs}
	r.Bind(context.Background(), res)
	if available {
		res.SetPresence(xml.New(xml.NSClient, "presence"), prio)
	}
	return res, fs
}

func msg(from, to, typ string) *Stanza {
	el := xml.New(xml.NSClient, "message", "from", from, "to", to, "id", "m1")
	el.SetAttr("type", typ)
	el.Append(xml.New(xml.NSClient, "body").SetText("hi"))
	st, err := NewStanza(el)
	if err != nil {
		panic(err)
	}
	return st
}

// errorCondition returns the stanza error condition in the element, or "".
func errorCondition(el *xml.Element) string {
	if el.Attr("type") != "error" {
		return ""
	}
	if e := el.Child("", "error"); e != nil {
		if c := e.FirstElement(); c != nil {
			return c.Name
		}
	}
	return "?"
}

func TestBareMessageGoesToHighestPriority(t *testing.T) {
	// RFC 6121 §8.5.2.1.1: chat to a bare JID goes to the highest-priority
	// available resource(s); negative priorities never get it.
	r := newTestRouter("juliet@example.org", "romeo@example.org")
	_, low := online(t, r, "juliet@example.org/low", 1, true)
	_, high1 := online(t, r, "juliet@example.org/high1", 5, true)
	_, high2 := online(t, r, "juliet@example.org/high2", 5, true)
	_, neg := online(t, r, "juliet@example.org/neg", -1, true)
	r.Route(context.Background(), msg("romeo@example.org/a", "juliet@example.org", "chat"))
	if len(high1.got) != 1 || len(high2.got) != 1 {
		t.Fatalf("highest-priority resources got %d and %d messages, want 1 each", len(high1.got), len(high2.got))
	}
	if len(low.got) != 0 || len(neg.got) != 0 {
		t.Fatalf("lower (%d) or negative (%d) priority resources got the message", len(low.got), len(neg.got))
	}
}

func TestHeadlineGoesToAllNonNegative(t *testing.T) {
	r := newTestRouter("juliet@example.org")
	_, a := online(t, r, "juliet@example.org/a", 0, true)
	_, b := online(t, r, "juliet@example.org/b", 3, true)
	_, n := online(t, r, "juliet@example.org/n", -5, true)
	r.Route(context.Background(), msg("news.example.net", "juliet@example.org", "headline"))
	if len(a.got) != 1 || len(b.got) != 1 || len(n.got) != 0 {
		t.Fatalf("headline delivery a=%d b=%d neg=%d, want 1 1 0", len(a.got), len(b.got), len(n.got))
	}
}

func TestOnlyNegativePriorityGoesOffline(t *testing.T) {
	// §8.5.2.1.1 + XEP-0160: no non-negative resource: store offline.
	r := newTestRouter("juliet@example.org")
	_, neg := online(t, r, "juliet@example.org/neg", -1, true)
	var stored int
	r.Hook(EvMessageOffline, 0, func(*Event) bool { stored++; return true })
	r.Route(context.Background(), msg("romeo@example.org/a", "juliet@example.org", "chat"))
	if stored != 1 || len(neg.got) != 0 {
		t.Fatalf("stored=%d delivered=%d, want stored 1, delivered 0", stored, len(neg.got))
	}
}

func TestFullJIDFallsBackToBare(t *testing.T) {
	// §8.5.3.2.1: chat to an absent resource is treated as to the bare JID.
	r := newTestRouter("juliet@example.org")
	_, a := online(t, r, "juliet@example.org/a", 0, true)
	r.Route(context.Background(), msg("romeo@example.org/x", "juliet@example.org/gone", "chat"))
	if len(a.got) != 1 {
		t.Fatalf("got %d, want the message delivered to the available resource", len(a.got))
	}
}

func TestUnknownUserAndGroupchatErrors(t *testing.T) {
	r := newTestRouter("romeo@example.org", "juliet@example.org")
	_, romeo := online(t, r, "romeo@example.org/r", 0, true)
	cases := []struct {
		name, to, typ, want string
	}{
		{"unknown user: service-unavailable (§8.5.1)", "nobody@example.org", "chat", "service-unavailable"},
		{"groupchat to a bare JID (§8.5.2.1.2)", "juliet@example.org", "groupchat", "service-unavailable"},
		{"message to the server", "example.org", "chat", "service-unavailable"},
		{"remote domain without federation", "x@elsewhere.example", "chat", "remote-server-not-found"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			romeo.got = nil
			r.Route(context.Background(), msg("romeo@example.org/r", c.to, c.typ))
			if len(romeo.got) != 1 || errorCondition(romeo.got[0]) != c.want {
				t.Fatalf("sender got %v, want one error %s", romeo.got, c.want)
			}
			if got := romeo.got[0].Attr("from"); got != c.to {
				t.Fatalf("error from %q, want %q", got, c.to)
			}
		})
	}
}

func TestErrorNeverAnsweredWithError(t *testing.T) {
	r := newTestRouter("romeo@example.org")
	_, romeo := online(t, r, "romeo@example.org/r", 0, true)
	r.Route(context.Background(), msg("romeo@example.org/r", "nobody@example.org", "error"))
	if len(romeo.got) != 0 {
		t.Fatalf("an error stanza was answered: %v", romeo.got)
	}
}

func TestSubscribeToUnknownUserAnswersUnsubscribed(t *testing.T) {
	r := newTestRouter("romeo@example.org")
	_, romeo := online(t, r, "romeo@example.org/r", 0, true)
	el := xml.New(xml.NSClient, "presence", "from", "romeo@example.org", "to", "nobody@example.org", "type", "subscribe")
	st, _ := NewStanza(el)
	var gotIn bool
	r.Hook(EvSubscriptionIn, 0, func(ev *Event) bool {
		gotIn = ev.Stanza.Type == "unsubscribed" && ev.Stanza.From.String() == "nobody@example.org"
		return true
	})
	r.Route(context.Background(), st)
	if !gotIn {
		t.Fatalf("romeo's server did not receive unsubscribed from the unknown contact (got %v)", romeo.got)
	}
}

func TestIQToAbsentResource(t *testing.T) {
	r := newTestRouter("romeo@example.org", "juliet@example.org")
	_, romeo := online(t, r, "romeo@example.org/r", 0, true)
	el := xml.New(xml.NSClient, "iq", "from", "romeo@example.org/r", "to", "juliet@example.org/gone", "type", "get", "id", "1").
		Append(xml.New("urn:example", "q"))
	st, _ := NewStanza(el)
	r.Route(context.Background(), st)
	if len(romeo.got) != 1 || errorCondition(romeo.got[0]) != "service-unavailable" {
		t.Fatalf("got %v, want service-unavailable (RFC 6120 §10.5.3.2)", romeo.got)
	}
}

func TestIQHandlerTargetsAndDisco(t *testing.T) {
	r := newTestRouter("romeo@example.org")
	_, romeo := online(t, r, "romeo@example.org/r", 0, true)
	r.HandleIQ(Host, "get", "urn:example:host", func(*IQ) (*xml.Element, error) { return xml.New("urn:example:host", "ok"), nil })
	el := xml.New(xml.NSClient, "iq", "from", "romeo@example.org/r", "to", "example.org", "type", "get", "id", "7").
		Append(xml.New("urn:example:host", "q"))
	st, _ := NewStanza(el)
	r.Route(context.Background(), st)
	if len(romeo.got) != 1 || romeo.got[0].Attr("type") != "result" || romeo.got[0].Attr("id") != "7" {
		t.Fatalf("got %v, want a result with id 7", romeo.got)
	}
	found := false
	for _, f := range r.Features(Host) {
		found = found || f == "urn:example:host"
	}
	if !found {
		t.Fatal("a registered IQ namespace is missing from disco features")
	}
	// The same namespace addressed to an account has no handler.
	romeo.got = nil
	el2 := xml.New(xml.NSClient, "iq", "from", "romeo@example.org/r", "to", "romeo@example.org", "type", "get", "id", "8").
		Append(xml.New("urn:example:host", "q"))
	st2, _ := NewStanza(el2)
	r.FromClient(context.Background(), r.Resource(jid.MustParse("romeo@example.org/r")), st2)
	if len(romeo.got) != 1 || errorCondition(romeo.got[0]) != "service-unavailable" {
		t.Fatalf("got %v, want service-unavailable", romeo.got)
	}
}

func TestBindConflictReplacesOldSession(t *testing.T) {
	// RFC 6120 §7.7.2.2: the new session wins, the old gets <conflict/>.
	r := newTestRouter("romeo@example.org")
	_, old := online(t, r, "romeo@example.org/r", 0, true)
	res2, _ := online(t, r, "romeo@example.org/r", 0, true)
	if old.closed == nil || old.closed.Condition != "conflict" {
		t.Fatalf("old session closed with %v, want conflict", old.closed)
	}
	if r.Resource(jid.MustParse("romeo@example.org/r")) != res2 || r.SessionCount() != 1 {
		t.Fatal("the new session is not the bound one")
	}
}
