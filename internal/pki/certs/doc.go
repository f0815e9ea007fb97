// Package certs provides tern's TLS certificates: self-signed generation
// for a fresh domain, a Manager choosing the certificate by SNI and
// reloading files on SIGHUP, and the server tls.Config.
//
// Generated certificates carry the domain as a DNS-ID and as an XmppAddr
// (id-on-xmppAddr otherName, RFC 6120 §13.7.1.4), plus the wildcard for
// its subdomains. Certificate selection by SNI covers direct TLS (XEP-0368)
// and STARTTLS alike (RFC 6120 §5.4.3.1 lets the client send SNI). The TLS
// policy is Mozilla's "intermediate" profile (TLS 1.2 minimum, AEAD
// suites with forward secrecy only), with the ALPN protocols of XEP-0368.
package certs
