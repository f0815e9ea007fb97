// Package bytestreams is the file transfer proxy: a SOCKS5 Bytestreams
// proxy (XEP-0065) at <name>.<domain> (TIM+: ftproxystream.<domain>, port
// 7777) for Jingle File Transfer (XEP-0234) over Jingle SOCKS5 (XEP-0260).
// Jingle In-Band Bytestreams (XEP-0261) need nothing here: they are iq
// stanzas between the clients and pass through the router untouched.
//
// XMPP side, on the service JID (router.Service, listed in the domain's
// disco#items, XEP-0030):
//
//   - XEP-0065 §4: disco#info gives identity proxy/bytestreams and the
//     features bytestreams and the TIM+ credRequest namespace; a query get
//     returns <streamhost jid host port/>; not-allowed when the proxy does
//     not listen.
//   - XEP-0065 §6.3.5: a query set with sid and <activate>target</activate>
//     relays the two connections whose DST.ADDR is
//     SHA1(SID + requester JID + target JID) (§5.3.2), the requester's JID
//     being the 'from' of the request, so only the requester can activate:
//     item-not-found when no connection has that hash, not-allowed when only
//     one party is connected (once activated, the hash names no waiting
//     bytestream: item-not-found again), bad-request or
//     jid-malformed for a malformed request.
//   - TIM+ (DirectTrust DS 2019-02, as its reference implementation does
//     it): <credRequest xmlns='http://standards.directtrust.org/DS2019-02/filetransfer/proxy/auth#onetimeup'/>
//     get -> <credRequest><credentials subject secret/><ca>base64 DER of the
//     anchor of the proxy certificate</ca></credRequest>. Subject and
//     secret are 26 characters from crypto/rand; only their SHA-256 is
//     kept; a credential is good for one login within 60 s, and any login
//     with its subject spends it. Requests are limited per user
//     (credentials_per_minute, credentials_per_user).
//
// Who may use it: accounts of the served domains and, with remote = true
// (the default, TIM+: the receiver asks the sender's proxy over s2s),
// accounts of other domains whose stanzas arrive over authenticated
// federation (s2s accepts streams to and sends stanzas from service
// domains, router.Serves). Servers and components (JIDs without a
// localpart) are refused with forbidden.
//
// SOCKS5 side, on [bytestreams] listen: TLS on the socket (the
// certificate chosen by SNI = the service's name), then RFC 1928: the
// greeting must offer username/password (0x02; "no authentication" gets
// 0xFF) when credentials are on, then RFC 1929 with a one-time credential
// (failure status 1 for an unknown, spent, expired or wrong one), then
// CONNECT (others: reply 7) to ATYP domain name (others: reply 8) holding
// the 40 lowercase hex digits of the hash (else reply 8). The reply 0
// echoes the hash; the connection waits for activation (activation_seconds)
// and is then relayed to the other one with pooled 32 KiB buffers, within
// max_bytes per transfer (cut: both closed) and rate bytes/s per user
// (token bucket). Every refused handshake is logged with the problem and
// counted in tern_bytestreams_refused_total{stage}; relayed bytes are
// tern_bytestreams_bytes_total. Lengths are bounded by the protocol's
// one-byte fields; connections by conns_per_ip, conns_per_user and
// max_pending; the whole TLS+SOCKS5 handshake by handshake_seconds, so a
// client that never sends holds its own goroutine only.
//
// The listener is off unless listen is set. The server opens it after the
// modules are loaded, through the Listener this module provides
// (module.Depend), giving its TLS configuration (certificates by SNI), and
// stops it, with every relay, at shutdown.
package bytestreams
