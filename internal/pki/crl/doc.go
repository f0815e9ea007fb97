// Package crl checks certificates against the certificate revocation
// lists (RFC 5280 §5) named by their CRL distribution points extension
// (RFC 5280 §4.2.1.13), as TIM+ requires of every peer certificate.
//
// Lists are fetched over http(s) with a time-out and a size limit, their
// signature is verified with the issuer's key (§6.3.3), and they are cached
// in memory (and optionally on disk) until nextUpdate (§5.1.2.5) or a
// maximum age, whichever comes first; a list past its nextUpdate that
// cannot be replaced is an error, never a pass. Concurrent checks needing
// one URL share one fetch, and each fetch runs on its own, so a slow or
// hostile CRL server delays only the handshakes whose certificates point
// to it. A failed URL is not fetched again for RetryAfter, so a dead
// server costs one time-out, not one per handshake.
//
// The issuing distribution point's user/CA scope (§5.2.5) is honoured.
// Refused, as CRLs that cannot prove a certificate good: delta CRLs
// (§5.2.4), indirect CRLs, CRLs partitioned by reason, unknown critical
// extensions (§5.2). Not handled: matching the IDP's name against the
// certificate's distribution point, LDAP distribution points, OCSP. The
// lab CA (package ca) issues plain complete CRLs.
package crl
