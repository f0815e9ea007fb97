package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPrivateStorage(t *testing.T) {
	t.Parallel()
	t.Run("rows", func(t *testing.T) {
		t.Parallel()
		runFeatureRows(t, ternOpts{}, privateRows())
	})
	t.Run("survives-sigkill", func(t *testing.T) {
		t.Parallel()
		// A result means stored: a crash right after must not lose the bookmarks.
		srv := startTern(t, ternOpts{})
		a := connect(t, &srv.target, srv.users[0], loginOpts{})
		wantCondition(t, "bookmarks set", a.iq("set", "", privQuery(bookmarksA)), "")
		srv.crash(t)
		srv.restart(t)
		a = connect(t, &srv.target, srv.users[0], loginOpts{})
		wantPrivate(t, a, "<storage xmlns='storage:bookmarks'/>", bookmarksA)
	})
}

const nsPrivate = "jabber:iq:private"

const (
	bookmarksA = "<storage xmlns='storage:bookmarks'><conference jid='tea@conference.localhost' autojoin='true' name='Tea'>" +
		"<nick>alice</nick><password>s&amp;cret</password></conference><url name='Home' url='https://example.org/?a=1&amp;b=2'/></storage>"
	bookmarksB = "<storage xmlns='storage:bookmarks'><conference jid='coffee@conference.localhost' name='☕'/></storage>"
	notes      = "<storage xmlns='storage:rosternotes'><note jid='bob@localhost' cdate='2026-01-01T00:00:00Z'>met at the café</note></storage>"
	askMarks   = "<storage xmlns='storage:bookmarks'/>"
	askNotes   = "<storage xmlns='storage:rosternotes'/>"
)

func privQuery(kids string) string { return "<query xmlns='" + nsPrivate + "'>" + kids + "</query>" }

// wantPrivate gets ask and checks the result's <query/> holds exactly want (same trees).
func wantPrivate(t testing.TB, c *xclient, ask, want string) {
	t.Helper()
	r := c.iq("get", "", privQuery(ask))
	q := r.child(nsPrivate, "query")
	w := parseElem(t, privQuery(want))
	if r.attr("type") != "result" || q == nil || !sameTree(q, w) {
		t.Errorf("private get %s: got %s; want a result with %s", ask, r, w)
	}
}

func privateRows() []featureRow {
	return []featureRow{
		{name: "store-retrieve-bookmarks", rule: "XEP-0049 §2.3 examples 1, 2 (XEP-0048 bookmarks): a set stores, a get with the empty element returns it",
			users: []string{"pa1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				wantCondition(t, "bookmarks set", a.iq("set", "", privQuery(bookmarksA)), "")
				wantPrivate(t, a, askMarks, bookmarksA)
				// The same from another resource and addressed to the own bare JID.
				a2 := connect(t, &srv.target, u[0], loginOpts{resource: "two"})
				r := a2.iq("get", u[0], privQuery(askMarks))
				if q := r.child(nsPrivate, "query"); q == nil || !sameTree(q, parseElem(t, privQuery(bookmarksA))) {
					t.Errorf("get to own bare JID from another resource: got %s", r)
				}
			}},
		{name: "replace", rule: "XEP-0049 §2.1: a set replaces what the namespace held",
			users: []string{"pa2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				wantCondition(t, "first set", a.iq("set", "", privQuery(bookmarksA)), "")
				wantCondition(t, "second set", a.iq("set", "", privQuery(bookmarksB)), "")
				wantPrivate(t, a, askMarks, bookmarksB)
			}},
		{name: "namespaces-independent", rule: "XEP-0049 §2.1 (XEP-0048, XEP-0145): bookmarks and roster notes are kept apart; another user sees neither",
			users: []string{"pa3", "pb3"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				wantCondition(t, "bookmarks set", a.iq("set", "", privQuery(bookmarksA)), "")
				wantCondition(t, "notes set", a.iq("set", "", privQuery(notes)), "")
				wantCondition(t, "bookmarks replaced", a.iq("set", "", privQuery(bookmarksB)), "")
				wantPrivate(t, a, askNotes, notes)
				wantPrivate(t, a, askMarks, bookmarksB)
				b := connect(t, &srv.target, u[1], loginOpts{})
				wantPrivate(t, b, askMarks, askMarks)
			}},
		{name: "get-nothing-stored", rule: "XEP-0049 §2.3 (silent on it; as Prosody): a get with nothing stored returns the asked-for element, empty",
			users: []string{"pa4"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				wantPrivate(t, a, askMarks, askMarks)
				wantPrivate(t, a, "<prefs xmlns='exodus:prefs'/>", "<prefs xmlns='exodus:prefs'/>")
			}},
		{name: "other-user-forbidden", rule: "XEP-0049 §2.3 example 3, §3: get or set of another user's data is forbidden (service-unavailable tolerated)",
			users: []string{"pa5", "pb5"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				b := connect(t, &srv.target, u[1], loginOpts{})
				wantCondition(t, "bookmarks set", b.iq("set", "", privQuery(bookmarksB)), "")
				for _, typ := range []string{"get", "set"} {
					payload := privQuery(askMarks)
					if typ == "set" {
						payload = privQuery(bookmarksA)
					}
					r := a.iq(typ, u[1], payload)
					wantCondition(t, "private "+typ+" to "+u[1], r, "forbidden")
					if strings.Contains(r.String(), "coffee") {
						t.Errorf("the error for %s to %s reveals the other user's data: %s", typ, u[1], r)
					}
					if c := a.iq(typ, "nobody@"+srv.domain, payload).errorCondition(); c != "forbidden" && c != "service-unavailable" {
						t.Errorf("private %s to a missing account: got %s; want forbidden or service-unavailable", typ, c)
					}
				}
				wantPrivate(t, b, askMarks, bookmarksB)
			}},
		{name: "bad-payloads", rule: "XEP-0049 §2.3, §3: no child or no namespace of its own is not-acceptable; a get of two namespaces or a mixed set is bad-request",
			users: []string{"pa6"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				for _, c := range []struct{ typ, kids, cond string }{
					{"get", "", "not-acceptable"},
					{"set", "", "not-acceptable"},
					{"set", "<prefs>in jabber:iq:private</prefs>", "not-acceptable"},
					{"set", "<prefs xmlns='jabber:client'/>", "not-acceptable"},
					{"get", "<prefs xmlns=''/>", "not-acceptable"},
					{"get", askMarks + askNotes, "bad-request"},
					{"set", bookmarksA + notes, "bad-request"},
				} {
					wantCondition(t, c.typ+" "+privQuery(c.kids), a.iq(c.typ, "", privQuery(c.kids)), c.cond)
				}
				wantPrivate(t, a, askMarks, askMarks) // nothing stored by the refused sets
			}},
		{name: "several-elements-one-namespace", rule: "XEP-0049 §2.3: a set MAY contain several elements of the same namespace; they come back together",
			users: []string{"pa7"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				two := "<opt xmlns='x-tern:test' n='1'>one</opt><opt xmlns='x-tern:test' n='2'/>"
				wantCondition(t, "set of two elements", a.iq("set", "", privQuery(two)), "")
				wantPrivate(t, a, "<opt xmlns='x-tern:test'/>", two)
			}},
		{name: "size-limits", rule: "tern: 64 KiB per namespace (not-acceptable), 100 namespaces per account (policy-violation, RFC 6120 §8.3.3.12), the text naming the limit",
			users: []string{"pa8"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				big := "<storage xmlns='storage:bookmarks'><url name='big' url='" + strings.Repeat("x", 65<<10) + "'/></storage>"
				r := a.iq("set", "", privQuery(big))
				wantCondition(t, "65 KiB of bookmarks", r, "not-acceptable")
				if txt := r.path("error", nsStanzaErr+" text"); txt == nil || !strings.Contains(txt.Text, "65536 bytes") {
					t.Errorf("size error %s: want a text naming the limit (65536 bytes)", r.child("", "error"))
				}
				wantPrivate(t, a, askMarks, askMarks)
				for i := range 100 {
					el := fmt.Sprintf("<x xmlns='x-tern:ns%d'>v</x>", i)
					if r := a.iq("set", "", privQuery(el)); r.attr("type") != "result" {
						t.Fatalf("namespace %d of 100: %s", i+1, r)
					}
				}
				r = a.iq("set", "", privQuery("<x xmlns='x-tern:ns100'>v</x>"))
				wantCondition(t, "the 101st namespace", r, "policy-violation")
				if txt := r.path("error", nsStanzaErr+" text"); txt == nil || !strings.Contains(txt.Text, "100 namespaces") {
					t.Errorf("quota error %s: want a text naming the limit (100 namespaces)", r.child("", "error"))
				}
				wantCondition(t, "replacing one of the 100", a.iq("set", "", privQuery("<x xmlns='x-tern:ns7'>w</x>")), "")
				wantCondition(t, "clearing one of the 100", a.iq("set", "", privQuery("<x xmlns='x-tern:ns8'/>")), "")
				wantCondition(t, "then a new one fits", a.iq("set", "", privQuery("<x xmlns='x-tern:ns100'>v</x>")), "")
			}},
		{name: "deleted-with-account", rule: "tern user del: the account's private data goes with it; the same name re-created starts empty",
			users: []string{"pa9"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				wantCondition(t, "bookmarks set", a.iq("set", "", privQuery(bookmarksA)), "")
				ternCLI(t, srv, "user", "del", "--yes", "--config", srv.config, u[0])
				a.waitStreamEnd()
				ternCLI(t, srv, "user", "add", "--config", srv.config, "--password-file", filepath.Join(filepath.Dir(srv.config), "password"), u[0])
				wantPrivate(t, connect(t, &srv.target, u[0], loginOpts{}), askMarks, askMarks)
			}},
		{name: "disco", rule: "XEP-0049 §6 defines no feature; tern, like Prosody, lists jabber:iq:private on the server and the account",
			users: []string{"pa10"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := connect(t, &srv.target, u[0], loginOpts{})
				for _, to := range []string{srv.domain, u[0]} {
					q := a.iq("get", to, "<query xmlns='"+nsDiscoInfo+"'/>").child(nsDiscoInfo, "query")
					if got := discoFeatures(q); !slices.Contains(got, nsPrivate) {
						t.Errorf("disco#info of %s lacks %s: %v", to, nsPrivate, got)
					}
				}
			}},
	}
}

// TestPrivateStorageSlixmpp runs ../interop/private.py: slixmpp's xep_0048 and xep_0049 plugins
// store, read and replace bookmarks and roster notes, across a new login, and are refused
// another user's storage. Prosody (mod_private) is the reference.
func TestPrivateStorageSlixmpp(t *testing.T) {
	t.Parallel()
	needPeer(t, python+" with slixmpp (apt-get install python3-slixmpp python3-slixmpp-lib)", haveSlixmpp())
	forEachServer(t, func(t *testing.T, srv *target) {
		dir := t.TempDir()
		pw := filepath.Join(dir, "password")
		writeFile(t, pw, srv.password+"\n")
		other := "forbidden"
		if srv.name == "prosody" {
			other = "service-unavailable" // its mod_private answers only the account itself (XEP-0049 §2.3 allows it)
		}
		args := []string{filepath.Join("..", "interop", "private.py"), "--trace", "--addr", srv.c2s,
			"--alice", srv.users[0], "--bob", srv.users[1], "--password-file", pw, "--other-user-condition", other}
		last, runErr, trace := runStepScript(t, dir, args, 2*time.Minute)
		if runErr != nil || last.Step != "done" || !last.OK {
			t.Errorf("%s: private.py ended with %v after step %q: expected %s; %s\n--- client trace (tail) ---\n%s",
				srv.name, runErr, last.Step, last.Expected, last.Error, tail(trace))
		}
	})
}
