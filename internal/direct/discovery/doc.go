// Package discovery finds the certificates of a Direct address (Direct
// Applicability Statement §5.3, "Direct Certificate Discovery and Provider
// Directory Implementation Guidance" 2012): in DNS CERT records (RFC 4398,
// type PKIX) at the address's name and then its domain's, then in the
// domain's LDAP directory (found by _ldap._tcp SRV, RFC 2782; anonymous
// bind, RootDSE namingContexts, mail= search, RFC 2798 attributes), and
// from the address's own server by peer introduction over XMPP (a Peer;
// internal/direct/introduce, docs/direct-introduction.md); the order is
// configurable, DefaultOrder unless set. Every certificate found
// is checked by trust.Validator.ValidateFor for the sender's domain
// (binding, validity, key usage, revocation, path to one of its anchors);
// invalid ones are reported, not fatal, and address-bound certificates
// come before domain-bound ones.
package discovery
