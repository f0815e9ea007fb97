package e2e

import (
	"testing"
)

func TestPassThrough(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, passThroughRows())
}

func passThroughRows() []featureRow {
	custom := "<x xmlns='urn:example:custom' a='1' xml:lang='fr'><y b='2'>text &amp; &lt;more&gt;</y><z xmlns='urn:example:other' c=''/></x>"
	return []featureRow{
		{name: "receipts-and-unknown-payload", rule: "XEP-0184 §5 and RFC 6120 §8.4: receipt requests, receipts and unknown extensions reach the recipient untouched",
			users: []string{"ta1", "tb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				a.send("<message type='chat' id='rcpt1' to='" + b.jid + "'><body>receipt please</body><request xmlns='urn:xmpp:receipts'/>" + custom + "</message>")
				m := b.wait("the message", isMessageWithBody("receipt please"))
				if m.child("urn:xmpp:receipts", "request") == nil {
					t.Errorf("delivered %s: the receipt request was removed", m)
				}
				if x := m.child("urn:example:custom", "x"); x == nil || !sameTree(x, parseElem(t, custom)) {
					t.Errorf("delivered %s: the unknown payload differs from %s", m, custom)
				}
				b.send("<message to='" + a.jid + "' id='rcpt2'><received xmlns='urn:xmpp:receipts' id='rcpt1'/></message>")
				r := a.wait("the receipt", func(e *elem) bool { return e.Local == "message" && e.child("urn:xmpp:receipts", "received") != nil })
				if r.child("urn:xmpp:receipts", "received").attr("id") != "rcpt1" || r.attr("from") != b.jid {
					t.Errorf("receipt %s: want id rcpt1 from %s", r, b.jid)
				}
			}},
		{name: "unknown-iq-to-full-jid", rule: "RFC 6120 §8.4, §10.5.4: an iq with an unknown payload to a full JID is delivered as is, and so is the answer",
			users: []string{"ta2", "tb2"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				b := online(t, &srv.target, u[1], "b", "")
				a.send("<iq type='get' id='custom1' to='" + b.jid + "'>" + custom + "</iq>")
				q := b.wait("the iq", func(e *elem) bool { return e.Local == "iq" && e.attr("id") == "custom1" })
				if x := q.child("urn:example:custom", "x"); x == nil || q.attr("from") != a.jid || !sameTree(x, parseElem(t, custom)) {
					t.Errorf("delivered %s: want the payload %s from %s untouched", q, custom, a.jid)
				}
				b.send("<iq type='result' id='custom1' to='" + a.jid + "'>" + custom + "</iq>")
				r := a.wait("the answer", func(e *elem) bool { return e.Local == "iq" && e.attr("id") == "custom1" })
				if x := r.child("urn:example:custom", "x"); x == nil || r.attr("type") != "result" || !sameTree(x, parseElem(t, custom)) {
					t.Errorf("answer %s: want the result with the payload untouched", r)
				}
			}},
	}
}
