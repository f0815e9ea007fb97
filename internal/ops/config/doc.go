// Package config loads tern's TOML configuration (data directory, virtual
// hosts, listeners, certificates, storage and limits) and validates it.
//
// Unknown keys are errors naming the key and its line, so a typo never
// silently falls back to a default. Domain names are prepared as JID
// domainparts (RFC 7622 §3.2: IDNA2008 U-labels, lowercased). Listener
// defaults follow RFC 6120 §14.7 (5222 for STARTTLS c2s) and XEP-0368
// (direct TLS on 5223). The contact addresses are XEP-0157 fields and the
// limits include the RFC 6120 §13.12 minimum stanza size (10000 bytes).
//
// Relative paths (data_dir, cert, key, storage.path) are relative to the
// working directory of the tern process.
package config
