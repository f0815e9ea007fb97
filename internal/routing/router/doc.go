// Package router delivers stanzas: it keeps the registry of online
// resources, applies the delivery rules of RFC 6120 §10 and RFC 6121 §8
// (bare and full JIDs, priorities, unknown users), hands remote stanzas to
// federation, and runs the hooks features register (Prosody-style events
// named by routing: "message/bare", "presence/out"...), and the IQ table
// keyed by target and payload namespace that also feeds service discovery.
package router
