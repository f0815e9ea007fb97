package e2e

import (
	"strings"
	"testing"
)

// TestS2SPeerCannotWriteLocalState: issue 4 item 3, "a peer's stanzas cannot reach local-only
// functions (e.g. roster writes for our users)". An authenticated peer (SASL EXTERNAL as
// evil.test) sends a roster set and a vCard set addressed to alice's account; RFC 6121 §2.1.5
// and §2.3.1 let only the user's own resources manage its roster (the server answers others
// with an error, never applying it), XEP-0054 §3.2 only the owner publish its vCard, XEP-0049
// §4 only the user's resources write its private XML. Alice's roster, vCard and private XML
// must be unchanged.
func TestS2SPeerCannotWriteLocalState(t *testing.T) {
	forEachS2SServer(t, func(t *testing.T, kind string) {
		pn := nextPeerNet()
		ca := newTestCA(t)
		srv, alice, _ := s2sTestServer(t, kind, pn, ca, map[string]string{"evil.test": pn.down})
		cert := loadIssued(t, ca, "evil.test")
		n := nonce(t)

		evil := dialS2S(t, s2sAddr(pn.tern), "evil.test", srv.domain, cert, ca.pool)
		evil.authExternal("evil.test", srv.domain)
		evil.send("<iq type='set' id='r" + n + "' from='mallory@evil.test/x' to='" + srv.users[0] + "'>" +
			"<query xmlns='jabber:iq:roster'><item jid='mallory@evil.test' subscription='both' name='" + n + "'/></query></iq>")
		evil.send("<iq type='set' id='v" + n + "' from='mallory@evil.test/x' to='" + srv.users[0] + "'>" +
			"<vCard xmlns='vcard-temp'><FN>" + n + "</FN></vCard></iq>")
		evil.send("<iq type='set' id='p" + n + "' from='mallory@evil.test/x' to='" + srv.users[0] + "'>" +
			"<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'><url url='https://evil.test/" + n + "'/></storage></query></iq>")
		// Same stream, in order (RFC 6120 §10.1): once alice has this message, the sets were handled.
		evil.send("<message from='mallory@evil.test/x' to='" + srv.users[0] + "' type='chat'><body>after " + n + "</body></message>")
		alice.expect(`<body>after ` + n + `</body>`)

		alice.send("<iq type='get' id='rg" + n + "'><query xmlns='jabber:iq:roster'/></iq>")
		roster := alice.expect(`(?s)<iq[^>]*id=['"]rg` + n + `['"].*?(</iq>|/>)`)[0]
		if strings.Contains(roster, "mallory@evil.test") {
			t.Errorf("%s: a peer's roster set reached alice's roster (RFC 6121 §2.1.5):\n%s", kind, clip([]byte(roster)))
		}
		alice.send("<iq type='get' id='vg" + n + "'><vCard xmlns='vcard-temp'/></iq>")
		vcard := alice.expect(`(?s)<iq[^>]*id=['"]vg` + n + `['"].*?(</iq>|/>)`)[0]
		if strings.Contains(vcard, "<FN>"+n) {
			t.Errorf("%s: a peer's vCard set changed alice's vCard (XEP-0054 §3.2):\n%s", kind, clip([]byte(vcard)))
		}
		alice.send("<iq type='get' id='pg" + n + "'><query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query></iq>")
		priv := alice.expect(`(?s)<iq[^>]*id=['"]pg` + n + `['"].*?(</iq>|/>)`)[0]
		if strings.Contains(priv, "evil.test/"+n) {
			t.Errorf("%s: a peer's private XML set reached alice's storage (XEP-0049 §4):\n%s", kind, clip([]byte(priv)))
		}
	})
}
