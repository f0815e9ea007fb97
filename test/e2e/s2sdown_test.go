package e2e

import (
	"net"
	"regexp"
	"sync"
	"testing"
	"time"
)

// bounceWait bounds the wait for a bounce: connect_timeout (3s in these configs) plus slack
// for a -race binary on a busy machine. A liveness limit, not a timing assertion.
const bounceWait = 30 * time.Second

// silentPeer accepts s2s connections on addr and never sends a byte (it drains what it gets),
// like a peer whose server process hangs. Closed on cleanup.
func silentPeer(t *testing.T, addr string) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen %s for the silent peer: %v", addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				var b [4096]byte
				for {
					if _, err := c.Read(b[:]); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
}

// expectWithin is rawClient.expect with its own bound, for waits longer than rawTimeout.
func expectWithin(c *rawClient, pattern string, d time.Duration) []string {
	c.t.Helper()
	re := regexp.MustCompile(pattern)
	deadline := time.Now().Add(d)
	for {
		if m := re.FindSubmatch(c.buf); m != nil {
			loc := re.FindIndex(c.buf)
			subs := make([]string, len(m))
			for i := range m {
				subs[i] = string(m[i])
			}
			c.buf = c.buf[loc[1]:]
			return subs
		}
		if !c.fill(deadline) {
			c.t.Fatalf("waiting %s for %s: %v; received:\n%s", d, pattern, c.eof, clip(c.buf))
		}
	}
}

// TestS2SUnreachablePeer: messages to a domain whose server refuses connections (a closed port)
// or accepts and never speaks bounce to the c2s sender with the RFC 6120 §8.3.3.16
// <remote-server-not-found/> and §8.3.3.17 <remote-server-timeout/> stanza errors, once each,
// and tern keeps serving its other traffic.
func TestS2SUnreachablePeer(t *testing.T) {
	forEachS2SServer(t, func(t *testing.T, kind string) {
		pn := nextPeerNet()
		silentPeer(t, s2sAddr(pn.fake))
		_, alice, aliceFull := s2sTestServer(t, kind, pn, nil, map[string]string{"down.test": pn.down, "silent.test": pn.fake})
		rows := []struct{ domain, want, rule, prosody string }{
			{"down.test", "remote-server-not-found", "RFC 6120 §8.3.3.16: connection refused", ""},
			// Prosody 0.12 reports every failed s2s connection as remote-server-not-found.
			{"silent.test", "remote-server-timeout", "RFC 6120 §8.3.3.17: the peer accepts and never answers", "remote-server-not-found"},
		}
		for _, row := range rows {
			t.Run(row.domain, func(t *testing.T) {
				want := row.want
				if kind == "prosody" && row.prosody != "" {
					want = row.prosody
					t.Logf("prosody differs from %s: expecting %q", row.rule, want)
				}
				id := "m-" + nonce(t)
				alice.send("<message to='bob@" + row.domain + "' type='chat' id='" + id + "'><body>hello?</body></message>")
				m := expectWithin(alice, `(?s)<message[^>]*\bid=['"]`+id+`['"][^>]*>.*?</message>`, bounceWait)[0]
				if !regexp.MustCompile(`type=['"]error['"]`).MatchString(m) ||
					!regexp.MustCompile(`<`+want+`\s[^>]*xmlns=['"]urn:ietf:params:xml:ns:xmpp-stanzas['"]`).MatchString(m) {
					t.Errorf("%s: want a type='error' bounce with <%s xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/> (%s); got:\n%s", kind, want, row.rule, m)
				}
				if !regexp.MustCompile(`from=['"](?:bob@)?` + regexp.QuoteMeta(row.domain) + `['"/]`).MatchString(m) {
					t.Errorf("%s: want the bounce from bob@%s, the address that could not be reached (RFC 6120 §8.3.1); got:\n%s", kind, row.domain, m)
				}
			})
		}
		// Still serving, and no second bounce for either message (RFC 6120 §8.3.1: one error per stanza).
		marker := "after " + nonce(t)
		alice.send("<message to='" + aliceFull + "' type='chat'><body>" + marker + "</body></message>")
		before := alice.expect(`(?s)^(.*?)<body>` + regexp.QuoteMeta(marker) + `</body>`)[1]
		if regexp.MustCompile(`type=['"]error['"]`).MatchString(before) {
			t.Errorf("%s: more than one bounce per message:\n%s", kind, clip([]byte(before)))
		}
	})
}
