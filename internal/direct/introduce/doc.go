// Package introduce is Direct peer introduction over XMPP, the binding the
// Direct Project proposed "for the purpose of addressing (finding the right
// peer and assigning certificates through peer introduction)": a server asks
// a Direct address's own server, over their authenticated s2s stream, for
// the address's certificates; a client asks its own server, which runs
// discovery (DNS CERT, LDAP and peer introduction, internal/direct/discovery)
// and answers with the certificates and the trust verdict on each.
//
// The protocol is specified in docs/direct-introduction.md (namespace
// urn:tern:direct:introduce:0; certificates and chains are XEP-0417's
// <x509-cert-chain/> and <x509-cert/> of urn:xmpp:x509:0). The answering
// side gives only public certificates, bounds each peer's rate and does not
// tell whether an address exists; the asking side bounds every answer
// (MaxCerts, MaxChain, MaxCertBytes) and trusts nothing it was told: each
// certificate is validated for the sender's circles like any other found.
package introduce
