// Package messages carries Direct messages over XMPP (docs/direct-messages.md):
// the sending server seals a Direct message (internal/direct/smime) for each
// recipient certificate discovery found usable and sends the exact S/MIME
// bytes in a <direct xmlns='urn:tern:direct:message:0'/> message extension
// over s2s; the receiving server runs the receive path (decrypt, verify,
// trust for its circles) before any person sees it, then delivers an
// ordinary chat message saying who signed what, or bounces the message
// with the rule that refused it. Every step is recorded in the audit trail
// (internal/direct/audit). Inline only for now: by reference (HTTP upload)
// and delivery notifications (MDN) follow.
package messages
