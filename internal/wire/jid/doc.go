// Package jid parses, prepares and compares XMPP addresses (JIDs) as
// RFC 7622 defines them.
//
// Implemented:
//   - §3.1 splitting: the resourcepart starts at the first '/', the
//     localpart ends at the first '@' before it; separators with an empty
//     part ("@d", "u@", "d/") are errors.
//   - §3.2 domainpart: one trailing dot is stripped; an IP literal ("[v6]"
//     or dotted-quad IPv4) is kept in its RFC 5952 / canonical text form;
//     anything else goes through IDNA2008 with the UTS #46 lookup mapping
//     (golang.org/x/net/idna Lookup profile) and is stored as U-labels
//     (lowercase Unicode, A-labels decoded), the form §3.2.1 prescribes, so
//     "EXAMPLE.com", "example.com." and "xn--mnchen-3ya.de"/"München.de"
//     each compare equal to their canonical form. x/net/idna implements
//     UTS #46 (non-transitional, STD3 rules, CheckHyphens, CheckJoiners,
//     Bidi rule), not every IDNA2008 rule: NV8 code points such as emoji
//     and CONTEXTO rules (e.g. U+00B7) are accepted.
//   - §3.3 localpart: PRECIS UsernameCaseMapped (RFC 8265 §3.3) plus the
//     extra forbidden characters " & ' / : < > @ of §3.3.1.
//   - §3.4 resourcepart: PRECIS OpaqueString (RFC 8265 §4.2).
//   - every part is 1..1023 octets after preparation.
//
// Only precis.Profile.String and idna.Profile.ToUnicode are used, never
// precis NewTransformer (golang/go#81550: it skips the Disallow checks).
//
// Parse runs for every stanza's to/from, so input that is pure ASCII and
// already canonical (see fast.go) is accepted without PRECIS or IDNA work
// and without allocation; FuzzParse checks that this fast path and the full
// preparation agree.
package jid
