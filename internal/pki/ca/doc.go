// Package ca is a lab certificate authority kept in a directory, so that
// two organisations can run Direct/TIM+ trust on one machine without a
// public CA: it issues domain-bound (SAN dNSName) and address-bound (SAN
// rfc822Name) certificates, revokes them, publishes CRLs and a trust
// bundle, and serves those over HTTP from tern's listener.
//
// What a certificate points to, and why:
//   - CRL distribution point (RFC 5280 §4.2.1.13): TIM+ peers fail closed
//     without an obtainable CRL, so every certificate below the root
//     carries one, an http URL of crl.der (DER, as §4.2.1.13 requires for
//     HTTP).
//   - Authority information access, caIssuers (RFC 5280 §4.2.2.1): a DER
//     certificate of the issuer (ca.der), so a peer that only has the root
//     can fetch a missing intermediate.
//
// CRLs follow RFC 5280 §5: signed by the issuing CA, a monotonically
// increasing cRLNumber (§5.2.3), thisUpdate/nextUpdate (§5.1.2.4-5) and a
// reason code per entry (§5.3.1). The trust bundle (bundle.p7b) is a
// certs-only ("degenerate") PKCS#7 SignedData (RFC 2315 §9.1, RFC 5652
// §5) holding the root, the form Direct trust bundles take.
//
// Directory layout (the key files are mode 0600, the directory 0700):
//
//	index.json   name, URLs, serial and CRL counters, issued certificates and their revocation state
//	ca.pem ca.der ca.key          the issuing CA (the intermediate with Init's Intermediate)
//	root.pem root.der root.key    the root, only with an intermediate
//	chain.pem                     the issuing CA's chain up to, not including, the root
//	crl.der crl.pem               the issuing CA's CRL; root-crl.der the root's
//	bundle.p7b bundle.pem         the trust anchor for peers
//	issued/NAME.pem NAME.key      leaf + chain, and the leaf's key
//
// It is a lab tool: one writer at a time, keys unencrypted on disk.
package ca
