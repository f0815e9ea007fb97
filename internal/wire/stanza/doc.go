// Package stanza holds what every layer needs to know about XMPP stanzas
// (RFC 6120 §8): kinds and types, and stanza errors (§8.3) with the reply
// that carries them.
package stanza
