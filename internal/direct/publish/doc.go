// Package publish is tern's authoritative DNS responder for its Direct
// domains (issue 14): CERT records (RFC 4398, type PKIX) of the domains'
// certificates at the apex and of address-bound certificates at the
// address's name ('@' as '.', Direct Applicability Statement §5.3), the
// SRV records an XMPP/TIM+ domain needs (RFC 6120 §3.2.1,
// _xmpp-client._tcp and _xmpp-server._tcp), SOA and NS. It answers only
// for its zones (REFUSED otherwise: not an open resolver), NXDOMAIN and
// NODATA with the SOA (RFC 2308, RFC 8020 for empty non-terminals), a
// minimal answer to ANY (RFC 8482), over UDP with truncation to the
// client's EDNS0 size (RFC 6891) and over TCP (RFC 7766) with idle and
// per-connection bounds.
package publish
