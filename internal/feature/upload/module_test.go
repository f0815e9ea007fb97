package upload

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/feature/disco"
	mt "github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const service = "upload." + mt.Domain

func harness(t *testing.T, edit func(*Config)) (*mt.Harness, *Module) {
	t.Helper()
	m := New()
	m.Cfg.Listen, m.Cfg.Dir, m.Cfg.MaxFileSize = "127.0.0.1:5443", t.TempDir(), 1000
	if edit != nil {
		edit(&m.Cfg)
	}
	return mt.New(t, []string{"alice", "bob"}, disco.Module{}, m), m
}

func request(id, name, size, ctype string) string {
	return "<iq type='get' id='" + id + "' to='" + service + "'><request xmlns='" + NS + "' filename='" + name + "' size='" + size + "' content-type='" + ctype + "'/></iq>"
}

var slotRE = regexp.MustCompile(`^https://upload\.example\.org:5443/upload/[0-9a-f]{48}/`)

// slot asks for a slot and returns its PUT URL, GET URL and Authorization.
func slot(t *testing.T, s *mt.Session, name, size, ctype string) (string, string, string) {
	t.Helper()
	r := s.Reply(request("s", name, size, ctype))
	sl := r.Child(NS, "slot")
	if sl == nil || r.Attr("type") != "result" {
		t.Fatalf("no slot: %s", r)
	}
	put, get := sl.Child(NS, "put"), sl.Child(NS, "get")
	h := put.Child(NS, "header")
	if put.Attr("url") != get.Attr("url") || !slotRE.MatchString(get.Attr("url")) || h == nil || h.Attr("name") != "Authorization" || !strings.HasPrefix(h.Text(), "Bearer ") {
		t.Fatalf("slot %s: want the same https URL with a 192-bit id, an Authorization header", sl)
	}
	return put.Attr("url"), get.Attr("url"), h.Text()
}

func errorOf(t *testing.T, r *xml.Element, cond, typ string) *xml.Element {
	t.Helper()
	e := r.Child(xml.NSClient, "error")
	if got := mt.ErrorCondition(r); got != cond || e == nil || e.Attr("type") != typ {
		t.Fatalf("%s; want a %s error of type %s", r, cond, typ)
	}
	return e
}

// TestSlots: XEP-0363 §3-§5 as the service answers them.
func TestSlots(t *testing.T) {
	t.Run("disco", func(t *testing.T) {
		h, _ := harness(t, nil)
		s := h.Login("alice", "pc")
		items := s.Reply("<iq type='get' id='i' to='" + mt.Domain + "'><query xmlns='" + disco.NSItems + "'/></iq>")
		if !strings.Contains(items.String(), "jid=\""+service+"\"") && !strings.Contains(items.String(), "jid='"+service+"'") {
			t.Errorf("§3: disco#items of the domain lack %s: %s", service, items)
		}
		info := s.Reply("<iq type='get' id='j' to='" + service + "'><query xmlns='" + disco.NSInfo + "'/></iq>").String()
		for _, want := range []string{`category="store"`, `type="file"`, `var="` + NS + `"`, `var="max-file-size"`, `<value>1000</value>`, `<value>` + NS + `</value>`} {
			if !strings.Contains(info, want) {
				t.Errorf("§3 Example 2: disco#info lacks %s: %s", want, info)
			}
		}
	})
	t.Run("slot", func(t *testing.T) {
		h, _ := harness(t, nil)
		s := h.Login("alice", "pc")
		_, g1, a1 := slot(t, s, "très cool.jpg", "23", "image/jpeg")
		_, g2, a2 := slot(t, s, "très cool.jpg", "23", "image/jpeg")
		if g1 == g2 || a1 == a2 || !strings.HasSuffix(g1, "/tr%C3%A8s%20cool.jpg") {
			t.Errorf("§4: two slots %s %s (%s %s); want distinct, the name escaped", g1, g2, a1, a2)
		}
	})
	t.Run("too-large", func(t *testing.T) {
		h, _ := harness(t, nil)
		e := errorOf(t, h.Login("alice", "pc").Reply(request("s", "a.bin", "1001", "")), "not-acceptable", "modify")
		if m := e.Child(NS, "file-too-large"); m == nil || m.Child(NS, "max-file-size") == nil || m.Child(NS, "max-file-size").Text() != "1000" {
			t.Errorf("§5 Example 5: want <file-too-large><max-file-size>1000: %s", e)
		}
	})
	t.Run("bad-request", func(t *testing.T) {
		h, _ := harness(t, nil)
		s := h.Login("alice", "pc")
		for _, q := range []string{request("s", "", "5", ""), request("s", "../etc/passwd", "5", ""), request("s", "a\\b", "5", ""),
			request("s", "..", "5", ""), request("s", "a&#9;b", "5", ""), request("s", "a", "0", ""), request("s", "a", "-1", ""),
			request("s", "a", "five", ""), request("s", "a", "5", "not a type"), request("s", strings.Repeat("a", 256), "5", "")} {
			errorOf(t, s.Reply(q), "bad-request", "modify")
		}
	})
	t.Run("quota", func(t *testing.T) {
		h, _ := harness(t, func(c *Config) { c.QuotaBytes = 1000 })
		s := h.Login("alice", "pc")
		slot(t, s, "a", "600", "")
		e := errorOf(t, s.Reply(request("s", "b", "500", "")), "resource-constraint", "wait")
		if r := e.Child(NS, "retry"); r == nil || r.Attr("stamp") == "" {
			t.Errorf("§5 Example 6: want <retry stamp/> (the open slot expires): %s", e)
		}
		slot(t, h.Login("bob", "pc"), "b", "500", "") // a quota per user
	})
	t.Run("rate", func(t *testing.T) {
		h, _ := harness(t, func(c *Config) { c.PerMinute = 2 })
		s := h.Login("alice", "pc")
		slot(t, s, "a", "1", "")
		slot(t, s, "a", "1", "")
		if e := errorOf(t, s.Reply(request("s", "a", "1", "")), "resource-constraint", "wait"); e.Child(NS, "retry") == nil {
			t.Errorf("want <retry/>: %s", e)
		}
	})
	t.Run("remote", func(t *testing.T) {
		h, _ := harness(t, nil)
		fed := h.Federate()
		h.FromRemote("<iq type='get' id='r' from='eve@other.example/x' to='" + service + "'><request xmlns='" + NS + "' filename='a' size='1'/></iq>")
		got := fed.Take()
		if len(got) != 1 || mt.ErrorCondition(got[0]) != "not-allowed" {
			t.Errorf("a user of another server: %v; want not-allowed", got)
		}
	})
}

func do(m *Module, method, url, auth, ctype string, body []byte, edit func(*http.Request)) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, url, bytes.NewReader(body))
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if edit != nil {
		edit(req)
	}
	w := httptest.NewRecorder()
	m.ServeHTTP(w, req)
	return w
}

// TestHTTP: the PUT and GET of a slot (XEP-0363 §6, RFC 9110).
func TestHTTP(t *testing.T) {
	h, m := harness(t, func(c *Config) { c.SlotTimeout = "1h" })
	s := h.Login("alice", "pc")
	put, get, auth := slot(t, s, "notes.txt", "11", "text/plain")
	body := []byte("hello, tern")
	for _, c := range []struct {
		name, auth, ctype string
		body              []byte
		edit              func(*http.Request)
		want              int
	}{
		{"no authorization", "", "text/plain", body, nil, 403},
		{"another slot's authorization", "Bearer 00", "text/plain", body, nil, 403},
		{"no length", auth, "text/plain", body, func(r *http.Request) { r.ContentLength = -1 }, 411},
		{"longer", auth, "text/plain", append(body, '!'), nil, 413},
		{"shorter", auth, "text/plain", body[:5], nil, 400},
		{"a body shorter than its length", auth, "text/plain", body[:5], func(r *http.Request) { r.ContentLength = 11 }, 400},
		{"another type", auth, "image/png", body, nil, 400},
		{"the upload", auth, "text/plain; charset=utf-8", body, nil, 201},
		{"twice", auth, "text/plain", body, nil, 409},
	} {
		if w := do(m, "PUT", put, c.auth, c.ctype, c.body, c.edit); w.Code != c.want {
			t.Errorf("PUT %s: %d %s; want %d", c.name, w.Code, w.Body, c.want)
		}
	}
	if w := do(m, "PUT", strings.TrimSuffix(put, "notes.txt")+"other.txt", auth, "text/plain", body, nil); w.Code != 404 {
		t.Errorf("PUT to the id with another name: %d; want 404", w.Code)
	}
	w := do(m, "GET", get, "", "", nil, nil)
	hd := w.Header()
	if w.Code != 200 || w.Body.String() != "hello, tern" || hd.Get("Content-Type") != "text/plain" || hd.Get("X-Content-Type-Options") != "nosniff" ||
		!strings.Contains(hd.Get("Content-Security-Policy"), "default-src 'none'") || !strings.HasPrefix(hd.Get("Content-Disposition"), "attachment") {
		t.Errorf("GET: %d %q %v", w.Code, w.Body, hd)
	}
	if w := do(m, "GET", get, "", "", nil, func(r *http.Request) { r.Header.Set("Range", "bytes=7-") }); w.Code != 206 || w.Body.String() != "tern" {
		t.Errorf("GET a range: %d %q", w.Code, w.Body)
	}
	if w := do(m, "HEAD", get, "", "", nil, nil); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != "11" {
		t.Errorf("HEAD: %d %v", w.Code, w.Header())
	}
	if w := do(m, "OPTIONS", put, "", "", nil, nil); w.Code != 204 || !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "PUT") ||
		!strings.Contains(w.Header().Get("Access-Control-Allow-Headers"), "Authorization") {
		t.Errorf("OPTIONS (CORS preflight): %d %v", w.Code, w.Header())
	}
	for _, u := range []string{"https://upload.example.org:5443/upload/", "https://upload.example.org:5443/upload/zz/notes.txt", "https://upload.example.org:5443/other"} {
		if w := do(m, "GET", u, "", "", nil, nil); w.Code != 404 {
			t.Errorf("GET %s: %d; want 404", u, w.Code)
		}
	}
	if w := do(m, "DELETE", get, auth, "", nil, nil); w.Code != 405 {
		t.Errorf("DELETE: %d; want 405", w.Code)
	}

	// Restart: the index is read back; a partial upload left by a crash is removed.
	part := filepath.Join(m.st.dir, strings.Repeat("ab", 24)+".part")
	os.WriteFile(part, []byte("half"), 0o600)
	st2, err := openStore(m.st.dir, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	m.st = st2
	if w := do(m, "GET", get, "", "", nil, nil); w.Code != 200 || w.Body.String() != "hello, tern" {
		t.Errorf("GET after reopening the store: %d %q", w.Code, w.Body)
	}
	if _, err := os.Stat(part); !os.IsNotExist(err) {
		t.Errorf("a .part file survived the restart: %v", err)
	}

	// Expiry and account deletion.
	m.st.now = func() time.Time { return time.Now().Add(8 * 24 * time.Hour) }
	if n := m.st.expire(); n != 1 {
		t.Errorf("expire: %d removed; want the one file", n)
	}
	m.st.now = time.Now
	if w := do(m, "GET", get, "", "", nil, nil); w.Code != 404 {
		t.Errorf("GET of an expired file: %d", w.Code)
	}
	_, get2, auth2 := slot(t, s, "b.txt", "2", "")
	if w := do(m, "PUT", get2, auth2, "", []byte("hi"), nil); w.Code != 201 {
		t.Fatalf("PUT: %d", w.Code)
	}
	if n := m.st.deleteOwner("alice@example.org"); n != 1 {
		t.Errorf("deleteOwner: %d", n)
	}
	if left, _ := os.ReadDir(m.st.dir); len(left) != 0 {
		t.Errorf("files left after the owner's deletion: %v", left)
	}
}

// TestValidate: each bad setting is named (tern check prints it).
func TestValidate(t *testing.T) {
	for _, c := range []struct {
		edit func(*Config)
		want string
	}{
		{func(c *Config) {}, ""},
		{func(c *Config) { c.Listen = ""; c.URL = "http://x" }, ""}, // off: nothing checked
		{func(c *Config) { c.Listen = "5443" }, "listen"},
		{func(c *Config) { c.URL = "http://upload.example.org" }, "https"},
		{func(c *Config) { c.URL = "https://{domain}:5443/files" }, ""},
		{func(c *Config) { c.MaxFileSize = 0 }, "max_file_size"},
		{func(c *Config) { c.Expire = "7" }, "expire"},
		{func(c *Config) { c.SlotTimeout = "-1m" }, "slot_timeout"},
		{func(c *Config) { c.Name = "" }, "name"},
	} {
		cfg := DefaultConfig
		cfg.Listen = "127.0.0.1:5443"
		c.edit(&cfg)
		err := cfg.Validate()
		if (c.want == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: %v; want %q", cfg, err, c.want)
		}
	}
}

// TestServerKept: files the server keeps for a user (Keep, KeepFile) are
// outside the user's quota, within server_quota_bytes for all of them
// (freed as they go); Find names a file of the service behind any host
// spelling, and nothing else; PUTs beyond the per-user bound wait.
func TestServerKept(t *testing.T) {
	h, m := harness(t, func(c *Config) { c.QuotaBytes = 100; c.ServerQuotaBytes = 800; c.SlotTimeout = "1h" })
	s := h.Login("alice", "pc")
	u, err := m.Keep("alice@example.org", "example.org", "big.pdf", "application/pdf", bytes.Repeat([]byte("x"), 500))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Keep("bob@example.org", "example.org", "more.pdf", "application/pdf", bytes.Repeat([]byte("x"), 400)); err == nil || !strings.Contains(err.Error(), "server_quota_bytes") {
		t.Errorf("a kept file beyond server_quota_bytes (500 + 400 > 800): %v", err)
	}
	u2, err := m.Keep("bob@example.org", "example.org", "less.pdf", "application/pdf", bytes.Repeat([]byte("x"), 300))
	if err != nil {
		t.Fatalf("a kept file within server_quota_bytes: %v", err)
	}
	if err := m.Delete(u2); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Keep("bob@example.org", "example.org", "again.pdf", "application/pdf", bytes.Repeat([]byte("x"), 300)); err != nil {
		t.Errorf("once a kept file is deleted, its bytes are free again: %v", err)
	}
	slot(t, s, "small.txt", "90", "") // the 500 kept bytes do not count
	other := strings.Replace(u, "https://upload.example.org:5443", "https://127.0.0.1", 1)
	if url, owner, name, _, path, size := m.Find("see " + other + " please"); url != u || owner != "alice@example.org" || name != "big.pdf" || size != 500 || path == "" {
		t.Errorf("Find(%q) = %q %q %q %d %q; want %q", other, url, owner, name, size, path, u)
	}
	if url, _, _, _, _, _ := m.Find("https://upload.example.org:5443/upload/" + strings.Repeat("0", 48) + "/x"); url != "" {
		t.Errorf("Find of an unknown id: %q", url)
	}
	var claims []*File
	for i := 0; i < maxPutsPerUser+1; i++ {
		f, token, err := m.st.reserve("bob@example.org", "f", "", 1, 0, time.Hour, false)
		if err != nil {
			t.Fatal(err)
		}
		c, err := m.st.begin(f.ID, token)
		if i < maxPutsPerUser {
			if err != nil {
				t.Fatalf("PUT %d: %v", i, err)
			}
			claims = append(claims, c)
		} else if err != errTooMany {
			t.Errorf("PUT %d beyond the bound: %v; want errTooMany", i, err)
		}
	}
	m.st.release(claims[0])
	if f, token, _ := m.st.reserve("bob@example.org", "f", "", 1, 0, time.Hour, false); f != nil {
		if _, err := m.st.begin(f.ID, token); err != nil {
			t.Errorf("after one ended: %v", err)
		}
	}
}
