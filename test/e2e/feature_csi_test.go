package e2e

import (
	"strings"
	"testing"
)

// TestClientState checks Client State Indication (XEP-0352).
func TestClientState(t *testing.T) {
	t.Parallel()
	runFeatureRows(t, ternOpts{}, []featureRow{
		{name: "advertised-and-accepted", rule: "XEP-0352 §2, §3: <csi/> is a stream feature; <active/> and <inactive/> are accepted without error",
			users: []string{"sa1", "sb1"},
			run: func(t *testing.T, srv *ternProc, u []string) {
				a := online(t, &srv.target, u[0], "a", "")
				if !strings.Contains(a.features, "urn:xmpp:csi:0") {
					t.Errorf("stream features after authentication %s: no <csi xmlns='urn:xmpp:csi:0'/>", a.features)
				}
				b := online(t, &srv.target, u[1], "b", "")
				a.send("<inactive xmlns='urn:xmpp:csi:0'/>")
				b.send("<message type='chat' to='" + a.jid + "'><body>while inactive</body></message>")
				a.send("<active xmlns='urn:xmpp:csi:0'/>")
				a.wait("a message sent while inactive (CSI may delay, never drop)", isMessageWithBody("while inactive"))
				a.sync()
				if a.ended.Load() != nil {
					t.Errorf("the stream ended after CSI nonzas: %s", a.endReason())
				}
				for _, e := range a.pending {
					if e.streamErrorCondition() != "" {
						t.Errorf("stream error after CSI nonzas: %s", e)
					}
				}
			}},
	})
}
