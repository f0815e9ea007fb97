// Package s2s is federation: XML streams between servers (RFC 6120).
//
// What it implements, by section:
//   - RFC 6120 §3.2: finding a peer by SRV (_xmpps-server and _xmpp-server,
//     priority then RFC 2782 weights), falling back to the domain on 5269;
//     XEP-0368 direct TLS (ALPN "xmpp-server") for _xmpps-server targets and
//     on the listen_tls ports. A static route table bypasses DNS.
//   - RFC 6120 §4 streams (headers, stream errors §4.9), §5 STARTTLS
//     (mandatory on every stream), §6 SASL EXTERNAL with the peer's
//     certificate (XEP-0178), checked with RFC 6125 / RFC 6120 §13.7.1.2
//     identities (DNS-ID, SRV-ID, XmppAddr) against the system roots or the
//     configured CAs. The connecting server's certificate may be
//     serverAuth-only (Let's Encrypt): chains are verified here, for
//     serverAuth, never by crypto/tls, and always against the source
//     domain, never an SRV target.
//   - XEP-0220 Server Dialback, keys per XEP-0185 (HMAC-SHA256 keyed with
//     SHA256(secret), over "receiving originating streamID"), dialback
//     errors (type='error'), only where policy allows it; an unsolicited
//     <db:result type='valid'/> is a stream error (CVE-2012-3525).
//   - XEP-0344 §2.4: a dialback request whose source domain the peer's
//     verified certificate covers is answered at once; several domain
//     pairs share one stream (piggybacking, XEP-0220 §2.5).
//   - XEP-0288 bidirectional streams: offered and used.
//   - RFC 6120 §8.1.1.2 / §4.9.3: each stanza's 'from' domain must be
//     authenticated for its 'to' domain on that stream (invalid-from),
//     'to' must be served here (host-unknown), nothing before
//     authentication (not-authorized), only stanzas (unsupported-stanza-type).
//   - RFC 6120 §8.3.3.15/16 bounces: remote-server-not-found and
//     remote-server-timeout, never for an error stanza.
//   - Direct trust domains (TIM+, DirectTrust ANSI/DS 2019-02-100-2021 §4,
//     §6.1; direct.go): mutual TLS 1.2+, the peer's chain validated by the
//     trust layer's hook for the local domain's circles before SASL
//     EXTERNAL, never dialback or bidi, live pairs re-validated and closed
//     with <policy-violation/> (RFC 6120 §4.9.3.12) when they fail.
package s2s
