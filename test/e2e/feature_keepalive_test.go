package e2e

import (
	"testing"
)

// TestKeepalive: the server pings idle clients (XEP-0199 §4.1) and closes those that do not
// answer, broadcasting them as unavailable (RFC 6121 §4.5.2; pitfalls: dead clients).
func TestKeepalive(t *testing.T) {
	t.Parallel()
	srv := startTern(t, ternOpts{ExtraTOML: "ping_interval = \"1s\"\nping_timeout = \"1s\""})
	isServerPing := func(e *elem) bool {
		return e.Local == "iq" && e.attr("type") == "get" && e.child("urn:xmpp:ping", "ping") != nil && e.attr("from") == srv.domain
	}
	mute := online(t, &srv.target, srv.users[0], "mute", "")
	watcher := online(t, &srv.target, srv.users[1], "watcher", "")
	befriend(t, mute, watcher)
	mute.answerPings.Store(false)
	watcher.wait("unavailable from the client that stopped answering pings", isPresenceFrom(mute.jid, "unavailable"))
	mute.waitStreamEnd()
	// The watcher answered every ping meanwhile (its reader does): it is still connected.
	watcher.wait("a server ping (XEP-0199 §4.1)", isServerPing)
	watcher.wait("another server ping, after answering the first", isServerPing)
	watcher.sync()
}
