// Package e2e holds tern's end-to-end interoperability tests: each test starts a real
// `tern serve` on its own loopback address (127.0.0.x, free ports) and drives it with a
// client tern did not write, so both sides' bugs cannot cancel out.
//
// Clients and the rules they check:
//   - slixmpp (../interop/scenario.py): SASL SCRAM-SHA-1/-256 (RFC 6120 §6, RFC 5802,
//     RFC 7677), XEP-0368 direct TLS, subscriptions and roster pushes (RFC 6121 §2, §3),
//     presence broadcast (RFC 6121 §4), chat (RFC 6121 §5), offline storage and
//     XEP-0203 delayed delivery (RFC 6121 §8.5.2.2.1).
//   - mellium.im/xmpp: STARTTLS (RFC 6120 §5), SCRAM and PLAIN (RFC 4616), resource binding
//     (RFC 6120 §7), XEP-0030 service discovery, XEP-0199 ping, XEP-0092 software version.
//   - a raw socket client: stream errors (RFC 6120 §4.9.3) for restricted XML (§11.1),
//     bad namespaces (§4.8), stanzas before authentication (§4.9.3.12), spoofed 'from'
//     (§8.1.2.1) and oversized stanzas (XEP-0478), and that the server keeps serving.
//   - a raw XMPP client (xmppclient_test.go): one table of rows per feature (RFC 6121
//     presence, roster, offline; XEP-0030, 0054, 0191, 0280, 0352, 0077, 0199, 0012, 0202,
//     0092, 0157, 0184), graceful shutdown, session replacement, SASL rules, kill -9.
//   - federation (federation_test.go, s2s*_test.go): slixmpp on two servers (tern, Prosody,
//     ejabberd) with dialback and with SASL EXTERNAL; a raw s2s client for spoofing and
//     bad input; unreachable and mute peers.
//
// Prosody, the reference server, runs the same scripts and rows as an oracle, so a
// failing expectation can be checked against an independent implementation.
//
// Peers missing on a developer machine skip their tests; with CI=true they fail instead
// (.ci/run installs them). TERN_E2E_SERVERS=tern or =prosody restricts the targets.
package e2e
