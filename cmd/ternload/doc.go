// Command ternload is a load generator for XMPP client-to-server
// listeners, written to compare tern with Prosody and ejabberd on one
// machine (see bench.sh next to it). It has four subcommands, each bounded
// in time and count, loopback-only, printing progress on stderr every
// second and one JSON result line on stdout:
//
//	register  users PREFIX0..N-1 via in-band registration (XEP-0077 §3.1)
//	sessions  N idle sessions; server RSS (/proc/PID/status VmRSS) per session
//	logins    full logins: TCP, STARTTLS, TLS handshake, SASL, bind, close
//	messages  type=chat between pairs, open loop (-rate R) or closed loop (-rate 0)
//
// Its small XMPP client implements only what the measurements need:
// stream negotiation and STARTTLS (RFC 6120 §4, §5), SASL SCRAM-SHA-256,
// SCRAM-SHA-1 (RFC 5802, RFC 7677) and PLAIN (RFC 4616) without channel
// binding (§6), resource binding (§7), the roster get and initial presence
// a client sends after login (RFC 6121 §2.2, §4.2), ping replies
// (XEP-0199) and chat messages (RFC 6121 §5). It parses with tern's own
// internal/wire/xml decoder.
//
// Latency is one-way: each body is "SEQ TS [padding]" where TS is this
// process's monotonic clock at the intended send time, read again by the
// receiving goroutine. In open-loop mode messages are sent on a fixed
// schedule whatever the server does, so a server that falls behind shows
// growing latency instead of a lower send rate (no coordinated omission).
package main
