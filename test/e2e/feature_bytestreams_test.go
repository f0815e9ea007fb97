package e2e

import (
	"bytes"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"testing"
	"time"
)

const (
	nsBytestreams = "http://jabber.org/protocol/bytestreams"
	nsCredRequest = "http://standards.directtrust.org/DS2019-02/filetransfer/proxy/auth#onetimeup"
)

// proxyCred is a TIM+ one-time credential and the anchor it came with.
type proxyCred struct {
	user, pass string
	roots      *x509.CertPool
}

func askProxyCred(t *testing.T, c *xclient, proxy string) proxyCred {
	t.Helper()
	r := c.iq("get", proxy, "<credRequest xmlns='"+nsCredRequest+"'/>")
	cr := r.path(nsCredRequest+" credRequest", nsCredRequest+" credentials")
	ca := r.path(nsCredRequest+" credRequest", nsCredRequest+" ca")
	if r.attr("type") != "result" || cr == nil || ca == nil {
		t.Fatalf("credRequest (TIM+): %s", r)
	}
	der, err := base64.StdEncoding.DecodeString(ca.Text)
	if err != nil {
		t.Fatalf("credRequest ca: %v", err)
	}
	crt, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatalf("credRequest ca: %v", err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(crt)
	return proxyCred{user: cr.attr("subject"), pass: cr.attr("secret"), roots: roots}
}

// dialProxy connects over TLS (SNI = the proxy's JID, verified against the
// anchor from credRequest) and runs RFC 1928/1929 up to the CONNECT reply.
func dialProxy(addr, proxy string, c proxyCred, hash string) (net.Conn, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: rawTimeout}, "tcp", addr,
		&tls.Config{ServerName: proxy, RootCAs: c.roots, MinVersion: tls.VersionTLS12})
	if err != nil {
		return nil, fmt.Errorf("tls: %w", err)
	}
	conn.SetDeadline(time.Now().Add(rawTimeout))
	defer conn.SetDeadline(time.Time{})
	msg := []byte{5, 1, 2, 1, byte(len(c.user))}
	msg = append(append(msg, c.user...), byte(len(c.pass)))
	msg = append(msg, c.pass...)
	msg = append(append(append(msg, 5, 1, 0, 3, byte(len(hash))), hash...), 0, 0)
	if _, err := conn.Write(msg); err != nil { // pipelined: the proxy reads step by step
		conn.Close()
		return nil, err
	}
	got := make([]byte, 4)
	if _, err := io.ReadFull(conn, got); err != nil || !bytes.Equal(got, []byte{5, 2, 1, 0}) {
		conn.Close()
		return nil, fmt.Errorf("method/auth replies %x (%v), want 05 02 01 00", got, err)
	}
	rep := make([]byte, 7+len(hash))
	if _, err := io.ReadFull(conn, rep); err != nil || rep[1] != 0 {
		conn.Close()
		return nil, fmt.Errorf("connect reply %x (%v)", rep, err)
	}
	return conn, nil
}

func s5bHash(sid, requester, target string) string {
	s := sha1.Sum([]byte(sid + requester + target))
	return hex.EncodeToString(s[:])
}

// TestFileTransferProxy: issue 13. Two clients of the real binary find
// the proxy (disco#items), get its address and one-time credentials,
// connect over TLS, the requester activates, a file goes through with its
// SHA-256 intact; Jingle IBB passes through; a spent credential is refused.
func TestFileTransferProxy(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{ExtraTOML: "[bytestreams]\nlisten = \"127.0.0.1:0\"\n"})
	proxy := "ftproxystream." + srv.domain
	a := connect(t, &srv.target, srv.users[0], loginOpts{resource: "sender"})
	b := connect(t, &srv.target, srv.users[1], loginOpts{resource: "receiver"})

	items := a.iq("get", srv.domain, "<query xmlns='"+nsDiscoItems+"'/>")
	var jids []string
	for _, it := range items.path(nsDiscoItems+" query").children(nsDiscoItems, "item") {
		jids = append(jids, it.attr("jid"))
	}
	if !slices.Contains(jids, proxy) {
		t.Fatalf("disco#items of %s: %v, want %s (XEP-0065 §4, TIM+)", srv.domain, jids, proxy)
	}
	info := a.iq("get", proxy, "<query xmlns='"+nsDiscoInfo+"'/>")
	if q := info.path(nsDiscoInfo + " query"); !hasIdentity(q, "proxy", "bytestreams") || !slices.Contains(discoFeatures(q), nsBytestreams) {
		t.Errorf("disco#info of the proxy: %s", info)
	}
	sh := a.iq("get", proxy, "<query xmlns='"+nsBytestreams+"'/>").path(nsBytestreams+" query", nsBytestreams+" streamhost")
	if sh == nil || sh.attr("jid") != proxy {
		t.Fatalf("streamhost: %v", sh)
	}
	addr := net.JoinHostPort(sh.attr("host"), sh.attr("port"))

	// XEP-0065 §6.3.2-6.3.5 (TIM+: the receiver connects first).
	sid := "e2e-" + b.jid
	hash := s5bHash(sid, a.jid, b.jid)
	bc := askProxyCred(t, b, proxy)
	tgt, err := dialProxy(addr, proxy, bc, hash)
	if err != nil {
		t.Fatalf("target connects: %v", err)
	}
	defer tgt.Close()
	ac := askProxyCred(t, a, proxy)
	req, err := dialProxy(addr, proxy, ac, hash)
	if err != nil {
		t.Fatalf("requester connects: %v", err)
	}
	defer req.Close()
	act := a.iq("set", proxy, "<query xmlns='"+nsBytestreams+"' sid='"+sid+"'><activate>"+b.jid+"</activate></query>")
	if act.attr("type") != "result" {
		t.Fatalf("activate: %s", act)
	}

	file := make([]byte, 8<<20)
	rand.Read(file)
	got := make(chan [32]byte, 1)
	go func() {
		h := sha256.New()
		tgt.SetReadDeadline(time.Now().Add(30 * time.Second))
		io.Copy(h, tgt)
		var s [32]byte
		copy(s[:], h.Sum(nil))
		got <- s
	}()
	if _, err := req.Write(file); err != nil {
		t.Fatalf("send: %v", err)
	}
	req.(*tls.Conn).CloseWrite()
	if sum := <-got; sum != sha256.Sum256(file) {
		t.Errorf("the received file's SHA-256 differs")
	}
	if v := metricValue(t, srv, "tern_bytestreams_bytes_total"); v < float64(len(file)) {
		t.Errorf("tern_bytestreams_bytes_total = %v, want at least %d", v, len(file))
	}

	// Jingle IBB (XEP-0261, XEP-0047 §2): the fallback goes through as
	// iq stanzas between the two clients, untouched.
	a.send("<iq type='set' id='ibb1' to='" + b.jid + "'><open xmlns='http://jabber.org/protocol/ibb' block-size='4096' sid='" + sid + "' stanza='iq'/></iq>")
	open := b.wait("the IBB open from the sender", func(e *elem) bool { return e.Local == "iq" && e.attr("id") == "ibb1" })
	if open.attr("from") != a.jid || open.path("http://jabber.org/protocol/ibb open") == nil {
		t.Errorf("IBB open arrived as %s", open)
	}
	b.send("<iq type='result' id='ibb1' to='" + a.jid + "'/>")
	if r := a.wait("the IBB open's result", func(e *elem) bool { return e.Local == "iq" && e.attr("id") == "ibb1" }); r.attr("type") != "result" {
		t.Errorf("IBB open's reply: %s", r)
	}

	// One-time: the requester's credential is spent.
	if c, err := dialProxy(addr, proxy, ac, hash); err == nil {
		c.Close()
		t.Errorf("a reused credential was accepted")
	}

	// Bad input (issue 13): "no authentication" gets RFC 1928's 0xFF and a
	// log line naming the problem; a malformed credRequest a stanza error
	// saying what is wrong.
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: rawTimeout}, "tcp", addr, &tls.Config{ServerName: proxy, RootCAs: ac.roots})
	if err != nil {
		t.Fatal(err)
	}
	nc.SetDeadline(time.Now().Add(rawTimeout))
	nc.Write([]byte{5, 1, 0})
	if reply, _ := io.ReadAll(nc); !bytes.Equal(reply, []byte{5, 0xFF}) {
		t.Errorf("no-auth greeting: got %x, want 05 ff (RFC 1928 §3: no acceptable methods)", reply)
	}
	nc.Close()
	bad := a.iq("set", proxy, "<credRequest xmlns='"+nsCredRequest+"'/>")
	if bad.errorCondition() != "bad-request" || bad.path("error", nsStanzaErr+" text") == nil {
		t.Errorf("credRequest set: %s, want bad-request with a text", bad)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, _ := os.ReadFile(srv.logFile)
		if bytes.Contains(log, []byte("requires username/password")) {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the tern log names no problem for the no-auth greeting:\n%s", tail(srv.logFile))
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
}
