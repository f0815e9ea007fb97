// Package check implements `tern check`, after `prosodyctl check`: the
// configuration, each domain's certificate (readable, key matching, valid
// dates, names covering the domain as a DNS-ID per RFC 6125 §6.4, trust),
// the DNS records clients and servers use to find the domain (SRV
// _xmpp-client/_xmpp-server per RFC 6120 §3.2.1, _xmpps-client/
// _xmpps-server per XEP-0368 §2), listen addresses, and storage; for
// Direct domains (TIM+ §3-4), the Direct certificate profile, the trust
// circles and bundles (fetched now), domains that trust nobody and the
// lab-only switches.
//
// Every check returns results of one line each, saying what to do when
// something is wrong.
package check
