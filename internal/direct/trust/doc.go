// Package trust decides which peer domains a local Direct domain trusts
// over s2s TLS, the TIM+ way (DirectTrust ANSI/DS 2019-02-100-2021 §4:
// trust anchors, trusted connection establishment, validity of long-lived
// connections, certificate validation; the spec text was not readable
// here, so the behaviour follows the reference server, see
// docs/direct-trust.md and /work/shared/notes/timplus.md).
//
// Trust is per local domain. A Registry holds named trust circles; a circle
// is a set of trust bundles and loose anchors (PEM or DER files). A bundle
// follows the Direct trust bundle convention: a PKCS#7 certs-only
// SignedData (".p7b", RFC 2315 §9 / RFC 5652 §5 with no signers), or a CMS
// SignedData (RFC 5652 §5) signed by a configured signing certificate
// whose content is that certs-only bundle, at a file path or an https URL,
// fetched with a time-out and a size limit, refreshed on an interval and
// skipped when its SHA-256 did not change. Every certificate of a bundle
// is an anchor (Direct anchors need not be roots). A failed refresh
// (NotFound, DownloadTimeout, InvalidBundleFormat, UnmatchedSignature,
// InvalidSigningCert, as the Direct RI names them) keeps the last good
// anchors and is reported in Status. Local domains name their circles; a
// domain with no circle trusts nobody, and groupchat.D and
// ftproxystream.D use D's circles. The state is an immutable snapshot
// swapped atomically, so a change applies to the next validation.
//
// A Validator checks a presented chain for a peer domain (Validate), in
// order, recording each step for Explain:
//   - the leaf's validity window (RFC 5280 §4.1.2.5);
//   - a SAN dNSName equal to the peer domain (RFC 5280 §4.2.1.6; RFC 6125
//     DNS-ID, exact, no CN, no wildcard);
//   - a CRL distribution point (RFC 5280 §4.2.1.13), mandatory in TIM+;
//   - path validation (RFC 5280 §6, by crypto/x509) to an anchor of the
//     local domain's circles, with intermediates from the handshake or,
//     if missing, fetched from the Authority Information Access
//     caIssuers URLs (RFC 5280 §4.2.2.1; DER or certs-only PKCS#7);
//   - revocation of the leaf and the intermediates through a Revocation
//     checker (CRLs, RFC 5280 §5), failing closed: no obtainable CRL
//     refuses unless the lab-only LabNoCRL switch is set.
//
// A Revalidator re-runs Validate over the live s2s sessions on an interval
// (TIM+ §4.2.1, hourly by default) with the whole presented chain, and
// closes those that expired, were revoked or lost their anchor.
//
// ValidateFor runs the same steps on a certificate found for a Direct
// address (certificate discovery: DNS CERT, LDAP, peer introduction),
// against the sender domain's circles: bound to the address (SAN
// rfc822Name) or else its domain (SAN dNSName) (Direct Applicability
// Statement §4.2), a key usage for the purpose (encrypt: keyEncipherment
// for RSA, keyAgreement for EC; verify: digitalSignature; an extended key
// usage, if any, must allow emailProtection), and the path built for
// emailProtection.
package trust
