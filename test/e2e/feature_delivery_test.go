package e2e

import (
	"strings"
	"testing"
	"time"
)

// Delivery tracking (issue 13, TIM+ "Chat and delivery status" and
// "Message monitor", XEP-0079): two tern instances federating. Not
// parallel: federation peers listen on port 5269 of their loopback
// addresses.

const nsAMP = "http://jabber.org/protocol/amp"

// deliverySection is a [delivery] section (after the harness's [limits] lines).
func deliverySection(lines string) string { return "\n[delivery]\n" + lines + "\n" }

// isNotice matches a deliver notice (TIM+) for message id with value.
func isNotice(id, value string) func(*elem) bool {
	return func(e *elem) bool {
		a := e.child(nsAMP, "amp")
		if e.Local != "message" || e.attr("id") != id || a == nil || a.attr("status") != "notify" {
			return false
		}
		r := a.child(nsAMP, "rule")
		return r != nil && r.attr("condition") == "deliver" && r.attr("value") == value
	}
}

func isErrorWithID(id string) func(*elem) bool {
	return func(e *elem) bool { return e.Local == "message" && e.attr("type") == "error" && e.attr("id") == id }
}

// deliveryPeers starts alice@tern.test and bob@tern2.test, each with its
// own [delivery] lines.
func deliveryPeers(t *testing.T, linesA, linesB string) (a, b *ternProc) {
	pn := nextPeerNet()
	a = startTernPeer(t, peerOpts{domain: "tern.test", ip: pn.tern, users: []string{"alice"},
		hosts: map[string]string{"tern2.test": pn.tern2}, limits: deliverySection(linesA)}, "")
	b = startTernPeer(t, peerOpts{domain: "tern2.test", ip: pn.tern2, users: []string{"bob"},
		hosts: map[string]string{"tern.test": pn.tern}, limits: deliverySection(linesB)}, "")
	return a, b
}

// TestDeliveryNoticesFederated: TIM+ checklist 14 and 15 both ways: an
// online recipient's server answers deliver/direct, an offline one's
// deliver/stored, and the recipient gets the stored message with a delay
// at login; disco advertises AMP (XEP-0079 §2.1.1).
func TestDeliveryNoticesFederated(t *testing.T) {
	a, b := deliveryPeers(t, `notify = "all"`+"\n"+`track = "all"`, `domains = ["tern2.test"]`)
	alice := online(t, &a.target, "alice@tern.test", "phone", "")
	bob := online(t, &b.target, "bob@tern2.test", "pc", "")

	info := alice.iq("get", "tern.test", "<query xmlns='http://jabber.org/protocol/disco#info'/>")
	if !strings.Contains(info.String(), nsAMP+"?condition=deliver") || !strings.Contains(info.String(), `"`+nsAMP+`"`) {
		t.Errorf("disco#info of tern.test lacks AMP (XEP-0079 §2.1.1): %s", info)
	}

	alice.send("<message type='chat' id='a1' to='bob@tern2.test'><body>hello bob</body></message>")
	bob.wait("alice's message", isMessageWithBody("hello bob"))
	n := alice.wait("deliver/direct notice from tern2.test (TIM+ checklist 14)", isNotice("a1", "direct"))
	if n.attr("from") != "bob@tern2.test" || n.child(nsAMP, "amp").attr("to") != "bob@tern2.test" || n.child(nsAMP, "amp").attr("from") != alice.jid {
		t.Errorf("notice %s; want from and amp@to bob@tern2.test, amp@from %s", n, alice.jid)
	}

	bob.send("<message type='chat' id='b1' to='alice@tern.test'><body>hello alice</body></message>")
	alice.wait("bob's message", isMessageWithBody("hello alice"))
	bob.wait("deliver/direct notice from tern.test", isNotice("b1", "direct"))

	bob.close()
	alice.send("<message type='chat' id='a2' to='bob@tern2.test'><body>while you were out</body></message>")
	alice.wait("deliver/stored notice (TIM+ checklist 15)", isNotice("a2", "stored"))
	bob = online(t, &b.target, "bob@tern2.test", "pc", "")
	m := bob.wait("the stored message at login", isMessageWithBody("while you were out"))
	if m.child("urn:xmpp:delay", "delay") == nil {
		t.Errorf("stored message without <delay/> (XEP-0203): %s", m)
	}
	alice.send("<message type='chat' id='a3' to='bob@tern2.test'><composing xmlns='http://jabber.org/protocol/chatstates'/></message>")
	alice.send("<message type='chat' id='a4' to='bob@tern2.test'><body>after the chat state</body></message>")
	alice.wait("the next message's notice (it follows any for a3 on the same stream)", isNotice("a4", "direct"))
	alice.none("a notice for a chat-state-only message (TIM+ checklist 16)", isNotice("a3", "direct"))

	if v := metricValue(t, b, `tern_delivery_notices_total{value="stored"}`); v != 1 {
		t.Errorf("tern2.test counted %v stored notices; want 1", v)
	}
	if v := metricValue(t, a, `tern_delivery_completed_total{by="notice"}`); v != 3 {
		t.Errorf("tern.test completed %v tracked messages by notice; want 3 (a1, a2, a4)", v)
	}
}

// TestDeliveryTimeoutFederated: TIM+ checklist 17 against a peer that
// sends no notices (delivery notify off there): the sender gets
// remote-server-timeout from the recipient after the time-out; and the
// monitor survives kill -9: a message tracked before the crash times out
// after the restart, the error waiting for the sender at login (checklist
// 19).
func TestDeliveryTimeoutFederated(t *testing.T) {
	a, b := deliveryPeers(t, `domains = ["tern.test"]`+"\n"+`timeout = "2s"`+"\n"+`scan_interval = "200ms"`, `notify = "off"`)
	alice := online(t, &a.target, "alice@tern.test", "phone", "")
	bob := online(t, &b.target, "bob@tern2.test", "pc", "")

	alice.send("<message type='chat' id='t1' to='bob@tern2.test'><body>are you there</body></message>")
	bob.wait("alice's message", isMessageWithBody("are you there"))
	e := alice.wait("remote-server-timeout after 2s (TIM+ checklist 17)", isErrorWithID("t1"))
	if e.errorCondition() != "remote-server-timeout" || e.attr("from") != "bob@tern2.test" {
		t.Errorf("got %s; want remote-server-timeout from bob@tern2.test", e)
	}
	if v := metricValue(t, a, "tern_delivery_timeouts_total"); v != 1 {
		t.Errorf("tern_delivery_timeouts_total = %v; want 1", v)
	}

	alice.send("<message type='chat' id='k1' to='bob@tern2.test'><body>before the crash</body></message>")
	bob.wait("the message sent before the crash", isMessageWithBody("before the crash"))
	a.crash(t)
	a.restart(t)
	alice = online(t, &a.target, "alice@tern.test", "tablet", "")
	e = alice.wait("the time-out of a message tracked before kill -9", isErrorWithID("k1"))
	if e.errorCondition() != "remote-server-timeout" {
		t.Errorf("got %s; want remote-server-timeout", e)
	}
	alice.none("a second error for t1", isErrorWithID("t1"))
}

// TestDeliveryErrorCompletes: TIM+ checklist 18: an error reply (no such
// user at the peer) completes the recipient: the sender gets it, and no
// time-out error follows.
func TestDeliveryErrorCompletes(t *testing.T) {
	a, _ := deliveryPeers(t, `domains = ["tern.test"]`+"\n"+`timeout = "2s"`+"\n"+`scan_interval = "200ms"`, `notify = "off"`)
	alice := online(t, &a.target, "alice@tern.test", "phone", "")
	alice.send("<message type='chat' id='e1' to='nobody@tern2.test'><body>anyone</body></message>")
	if e := alice.wait("the peer's error", isErrorWithID("e1")); e.errorCondition() != "service-unavailable" {
		t.Errorf("got %s; want service-unavailable from the peer", e)
	}
	time.Sleep(3 * time.Second) // past the time-out and a scan
	alice.none("a time-out error after the error reply", isErrorWithID("e1"))
	if v := metricValue(t, a, `tern_delivery_completed_total{by="error"}`); v != 1 {
		t.Errorf("completed by error = %v; want 1", v)
	}
}
