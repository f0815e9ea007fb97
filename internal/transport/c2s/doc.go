// Package c2s serves client-to-server streams (RFC 6120): TCP with
// STARTTLS (§5) or direct TLS (XEP-0368), SASL (§6), resource binding
// (§7), legacy session establishment (RFC 3921 §3), then stanzas, which it
// checks (§8.1.2.1 'from' stamping, §4.9.3 stream errors) and hands to the
// router. Stream Management (XEP-0198) counts and acknowledges stanzas; a
// session whose connection dies may hibernate and be resumed on a new one;
// what a client never acknowledged goes back to the router when the session
// ends. Each connection has one reading goroutine; writes are queued and
// flushed by a short-lived goroutine, so an idle session costs no writer.
package c2s
