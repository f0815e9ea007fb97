package messages

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/smime"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// TestFetch: a message by reference is taken only as the stanza describes
// it (exact size, SHA-256), over verified HTTPS, from public addresses
// unless a lab allows otherwise, without redirects.
func TestFetch(t *testing.T) {
	body := []byte(strings.Repeat("sealed bytes ", 1000))
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			w.Write(body)
		case "/longer":
			w.Write(append(body, '!'))
		case "/chunked-longer": // no Content-Length: the bound is what stops it
			w.(http.Flusher).Flush()
			w.Write(append(body, '!'))
		case "/redirect":
			http.Redirect(w, r, "/ok", http.StatusFound)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600)
	sum := sha256.Sum256(body)
	m := New()
	m.InlineMax, m.fetchTimeout = DefaultInlineMax, 10*time.Second
	m.cfg.FetchCA, m.cfg.FetchPrivate = []string{ca}, true
	m.heavy, m.Dir = make(chan struct{}, maxHeavy), t.TempDir()
	m.tmp = filepath.Join(m.Dir, "tmp", "test")
	sender := jid.MustParse("drjones@a.example")
	var err error
	if m.fetcher, err = newFetcher(m.cfg, m.fetchTimeout); err != nil {
		t.Fatal(err)
	}
	ref := func(path, size, digest string) *xml.Element {
		return xml.New(NS, "direct", "message-id", "<1@a.example>", "url", srv.URL+path, "size", size, "sha256", digest)
	}
	good, n := hex.EncodeToString(sum[:]), strconv.Itoa(len(body))
	pl, err := m.payload(ref("/ok", n, good), sender)
	if err != nil {
		t.Fatalf("a good reference: %v", err)
	}
	if raw, err := os.ReadFile(pl.path); err != nil || string(raw) != string(body) || hex.EncodeToString(pl.sum) != good {
		t.Fatalf("a good reference fetched into %s: %v", pl.path, err)
	}
	pl.done()
	if _, err := os.Stat(pl.path); !os.IsNotExist(err) {
		t.Fatalf("done left %s: %v", pl.path, err)
	}
	for _, c := range []struct {
		name  string
		el    *xml.Element
		fetch bool // a fetch-failed (else malformed)
	}{
		{"another digest", ref("/ok", n, strings.Repeat("00", 32)), true},
		{"a size too small", ref("/ok", strconv.Itoa(len(body)-1), good), true},
		{"a longer body", ref("/longer", n, good), true},
		{"a longer body without Content-Length", ref("/chunked-longer", n, good), true},
		{"a redirect", ref("/redirect", n, good), true},
		{"not found", ref("/gone", n, good), true},
		{"over max_message_bytes", ref("/ok", strconv.FormatInt(m.cfg.MaxMessageBytes+1, 10), good), true},
		{"no size", ref("/ok", "", good), false},
		{"a bad digest", ref("/ok", n, "xyz"), false},
		{"plain http", xml.New(NS, "direct", "url", strings.Replace(srv.URL, "https", "http", 1)+"/ok", "size", n, "sha256", good), false},
	} {
		_, err := m.payload(c.el, sender)
		var fe *fetchError
		if err == nil || errors.As(err, &fe) != c.fetch {
			t.Errorf("%s: %v; want an error (fetch-failed %v)", c.name, err, c.fetch)
		}
	}
	if left, _ := os.ReadDir(m.tmpDir()); len(left) > 0 {
		t.Errorf("failed fetches left %d file(s) behind", len(left))
	}
	// This server's disk failing is no verdict on the message: ErrLocal.
	blocker := filepath.Join(m.Dir, "blocker")
	os.WriteFile(blocker, nil, 0o600)
	saved := m.tmp
	m.tmp = filepath.Join(blocker, "tmp")
	if _, err := m.payload(ref("/ok", n, good), sender); !errors.Is(err, smime.ErrLocal) {
		t.Errorf("a fetch with no room to write it: %v; want smime.ErrLocal", err)
	}
	m.tmp = saved
	// Outside a lab: a host not under the sender's domain is refused, and loopback before anything is sent.
	m.cfg.FetchPrivate = false
	var fe *fetchError
	if _, err := m.payload(ref("/ok", n, good), sender); !errors.As(err, &fe) || !strings.Contains(err.Error(), "not a.example") {
		t.Errorf("a url at another host than the sender's domain: %v", err)
	}
	m.cfg.FetchPrivate = false
	m.fetcher, _ = newFetcher(m.cfg, m.fetchTimeout)
	if _, err := m.fetcher.get(context.Background(), srv.URL+"/ok", int64(len(body)), sum[:], m.tmpDir()); err == nil || !strings.Contains(err.Error(), "not public") {
		t.Errorf("loopback without fetch_private: %v", err)
	}
}
