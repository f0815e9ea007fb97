package bytestreams

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"
)

// rw is a handshake's two sides in memory.
type rw struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (r *rw) Read(p []byte) (int, error)  { return r.in.Read(p) }
func (r *rw) Write(p []byte) (int, error) { return r.out.Write(p) }

var goodHash = strings.Repeat("ab", 20)

func fixedAuth(user, pass string) (string, string) {
	if user == "user" && pass == "pass" {
		return "alice@example.org", ""
	}
	return "", string(credUnknown)
}

func login(user, pass string) []byte {
	b := append([]byte{5, 1, 2, 1, byte(len(user))}, user...)
	return append(append(b, byte(len(pass))), pass...)
}

func connect(addr string) []byte {
	return append(append([]byte{5, 1, 0, 3, byte(len(addr))}, addr...), 0, 0)
}

// Each malformed handshake is named in the error the log shows, with the
// RFC's reply written.
func TestHandshakeProblems(t *testing.T) {
	good := append(login("user", "pass"), connect(goodHash)...)
	for _, c := range []struct {
		name    string
		in      []byte
		reply   []byte // after the accepted steps
		problem string
	}{
		{"empty", nil, nil, "connection ended before the version"},
		{"socks4", []byte{4, 1}, nil, "version 0x4, want 5"},
		{"no methods", []byte{5, 0}, []byte{5, 0xFF}, "NMETHODS = 0"},
		{"no-auth only", []byte{5, 2, 0, 1}, []byte{5, 0xFF}, "requires username/password"},
		{"methods cut", []byte{5, 4, 2}, nil, "within the 4 methods"},
		{"auth version", []byte{5, 1, 2, 2, 1, 'u'}, []byte{5, 2, 1, 1}, "version 0x2, want 1"},
		{"empty user", []byte{5, 1, 2, 1, 0}, []byte{5, 2, 1, 1}, "ULEN = 0"},
		{"user cut", []byte{5, 1, 2, 1, 9, 'u'}, []byte{5, 2}, "within the 9-byte username"},
		{"empty password", []byte{5, 1, 2, 1, 1, 'u', 0}, []byte{5, 2, 1, 1}, "PLEN = 0"},
		{"bad login", login("user", "nope"), []byte{5, 2, 1, 1}, "unknown or already used"},
		{"request version", append(login("user", "pass"), 4, 1, 0, 3), []byte{5, 2, 1, 0, 5, 1, 0, 1, 0, 0, 0, 0, 0, 0}, "in the request, want 5"},
		{"udp", append(login("user", "pass"), 5, 3, 0, 3), []byte{5, 2, 1, 0, 5, 7, 0, 1, 0, 0, 0, 0, 0, 0}, "only CONNECT"},
		{"ipv6", append(login("user", "pass"), 5, 1, 0, 4), []byte{5, 2, 1, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}, "want a domain name"},
		{"not hex", append(login("user", "pass"), connect(strings.Repeat("zz", 20))...), []byte{5, 2, 1, 0, 5, 8, 0, 1, 0, 0, 0, 0, 0, 0}, "40 lowercase hex"},
		{"addr cut", append(login("user", "pass"), 5, 1, 0, 3, 40, 'a'), []byte{5, 2, 1, 0}, "within the 40-byte address"},
	} {
		r := &rw{in: bytes.NewReader(c.in)}
		_, err := serverHandshake(r, fixedAuth)
		var he *handshakeError
		if !errors.As(err, &he) || !strings.Contains(he.Problem, c.problem) {
			t.Errorf("%s: error %v, want one naming %q", c.name, err, c.problem)
		}
		if !bytes.Equal(r.out.Bytes(), c.reply) {
			t.Errorf("%s: wrote %x, want %x", c.name, r.out.Bytes(), c.reply)
		}
	}
	r := &rw{in: bytes.NewReader(good)}
	req, err := serverHandshake(r, fixedAuth)
	if err != nil || req.hash != goodHash || req.owner != "alice@example.org" {
		t.Errorf("good handshake: %+v %v", req, err)
	}
}

// FuzzHandshake: any input ends in a request or a *handshakeError, never a
// panic, never more written than the protocol's replies, and an accepted
// request always carries a 40-hex hash.
func FuzzHandshake(f *testing.F) {
	f.Add(append(login("user", "pass"), connect(goodHash)...), true)
	f.Add(append([]byte{5, 1, 0}, connect(goodHash)...), false)
	f.Add([]byte{5, 0}, true)
	f.Add(append(login("user", "pass"), 5, 1, 0, 1, 127, 0, 0, 1, 0, 80), true)
	f.Add(append(login("u", "p"), connect("x")...), true)
	f.Fuzz(func(t *testing.T, in []byte, withAuth bool) {
		var auth authFunc
		if withAuth {
			auth = fixedAuth
		}
		r := &rw{in: bytes.NewReader(in)}
		req, err := serverHandshake(r, auth)
		if err != nil {
			var he *handshakeError
			if !errors.As(err, &he) || he.Problem == "" {
				t.Fatalf("error %v is not a named handshake problem", err)
			}
		} else if len(req.hash) != hashLen || !isLowerHex([]byte(req.hash)) {
			t.Fatalf("accepted hash %q", req.hash)
		}
		if r.out.Len() > 2+2+10 {
			t.Fatalf("wrote %d bytes", r.out.Len())
		}
	})
}

// Expired credentials leave the table (it stays about a minute's worth)
// and give back the owner's quota.
func TestCredsPrune(t *testing.T) {
	now := time.Unix(1000, 0)
	c := newCreds(func() time.Time { return now }, 3)
	for range 3 {
		if _, _, err := c.issue("a@x", 3); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := c.issue("b@x", 0); err == nil {
		t.Errorf("a fourth credential beyond max")
	}
	if _, _, err := c.issue("a@x", 0); err == nil {
		t.Errorf("beyond max")
	}
	now = now.Add(CredentialTTL)
	if _, _, err := c.issue("a@x", 1); err != nil || c.outstanding() != 1 {
		t.Errorf("after expiry: %v, %d outstanding", err, c.outstanding())
	}
}
