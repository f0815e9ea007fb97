// Package sasl is the server side of SASL authentication for XMPP client
// streams (RFC 6120 §6, RFC 4422).
//
// Mechanisms:
//   - SCRAM-SHA-1, SCRAM-SHA-256, SCRAM-SHA-512 and their -PLUS variants
//     (RFC 5802, RFC 7677), on github.com/xdg-go/scram's server. This
//     package adds what that server leaves to its caller: the GS2 policy of
//     RFC 5802 §6 per selected mechanism (p= only with -PLUS, the 'y'
//     downgrade check, a choice between several channel-binding types),
//     PRECIS preparation of the username (RFC 7622 §3.3), the authzid rule
//     of RFC 6120 §6.4.6, a fake salt for unknown users, and the mapping of
//     every outcome to an RFC 6120 §6.5 condition (see Failure).
//   - channel bindings tls-exporter (RFC 9266; TLS 1.3, or TLS 1.2 with
//     the extended master secret, RFC 7627) and tls-server-end-point
//     (RFC 5929 §4.1); tls-unique is never offered (it is undefined on TLS
//     1.3 and weak on 1.2). ChannelBindingTypes feeds XEP-0440's
//     <sasl-channel-binding/> stream feature.
//   - PLAIN (RFC 4616), only over TLS, verified against the stored
//     SCRAM-SHA-256 credential, so no password-equivalent is ever stored.
//
// Credentials (NewUser) are SCRAM StoredKey/ServerKey with a 16-byte random
// salt per hash and 4096 iterations (RFC 7677 §4 minimum); passwords are
// prepared with SASLprep (RFC 4013), as RFC 5802 §5.1 requires and as SCRAM
// clients do.
//
// An unknown user fails exactly like a wrong password: SCRAM answers with a
// salt derived from Config.Secret and the username (stable across attempts)
// and the default iteration count, then fails with not-authorized. A storage
// error is temporary-auth-failure: a backend outage is not a failed login.
package sasl
