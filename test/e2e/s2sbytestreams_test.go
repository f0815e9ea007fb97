package e2e

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"io"
	"net"
	"testing"
	"time"
)

// TestFileTransferProxyFederated: issue 13 across two tern instances, as
// TIM+ does it: the receiver (alice@tern.test) asks the sender's proxy
// (ftproxystream.tern2.test) for credentials over s2s, both connect to it,
// the sender (bob@tern2.test) activates and sends the file. Not parallel:
// federation peers listen on port 5269 of their loopback addresses.
func TestFileTransferProxyFederated(t *testing.T) {
	for _, mode := range fedModes {
		t.Run(mode.name, func(t *testing.T) {
			var ca *testCA
			if mode.ca {
				ca = newTestCA(t)
			}
			federatedTransfer(t, ca)
		})
	}
}

func federatedTransfer(t *testing.T, ca *testCA) {
	pn := nextPeerNet()
	proxy := "ftproxystream.tern2.test"
	a := startTernPeer(t, peerOpts{domain: "tern.test", ip: pn.tern, users: []string{"alice"}, ca: ca,
		hosts: map[string]string{"tern2.test": pn.tern2, proxy: pn.tern2}}, "")
	b := startTernPeer(t, peerOpts{domain: "tern2.test", ip: pn.tern2, users: []string{"bob"}, ca: ca,
		hosts:  map[string]string{"tern.test": pn.tern, "ftproxystream.tern.test": pn.tern},
		limits: "\n[bytestreams]\nlisten = \"" + net.JoinHostPort(pn.tern2, "0") + "\"\n"}, "")
	alice := connect(t, &a.target, "alice@tern.test", loginOpts{resource: "receiver"})
	bob := connect(t, &b.target, "bob@tern2.test", loginOpts{resource: "sender"})

	sh := bob.iq("get", proxy, "<query xmlns='"+nsBytestreams+"'/>").path(nsBytestreams+" query", nsBytestreams+" streamhost")
	if sh == nil {
		t.Fatal("no streamhost from the sender's proxy")
	}
	addr := net.JoinHostPort(sh.attr("host"), sh.attr("port"))
	sid := "fed-1"
	hash := s5bHash(sid, bob.jid, alice.jid)

	// The receiver's credential comes over s2s (TIM+).
	ac := askProxyCred(t, alice, proxy)
	tgt, err := dialProxy(addr, proxy, ac, hash)
	if err != nil {
		t.Fatalf("the remote target connects: %v", err)
	}
	defer tgt.Close()
	req, err := dialProxy(addr, proxy, askProxyCred(t, bob, proxy), hash)
	if err != nil {
		t.Fatalf("the requester connects: %v", err)
	}
	defer req.Close()
	if r := bob.iq("set", proxy, "<query xmlns='"+nsBytestreams+"' sid='"+sid+"'><activate>"+alice.jid+"</activate></query>"); r.attr("type") != "result" {
		t.Fatalf("activate: %s", r)
	}
	file := make([]byte, 4<<20)
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
		t.Fatal(err)
	}
	req.(*tls.Conn).CloseWrite()
	if sum := <-got; sum != sha256.Sum256(file) {
		t.Errorf("the file's SHA-256 differs after the proxy")
	}
	if c, err := dialProxy(addr, proxy, ac, hash); err == nil {
		c.Close()
		t.Errorf("the remote user's spent credential was accepted again")
	}
}
