// Package module is the contract between the server and its features.
//
// A feature is one package with a Module: a name, an optional configuration
// section of its own (Configurable), and a Register that declares on a Host
// everything the feature does: iq handlers (HandleIQ, answered and listed in
// disco#info, XEP-0030 §3), hooks on routing events (Hook; a hook of a
// holdable event may hold a stanza while it does I/O, see router.Event.Hold),
// top-level elements (HandleNonza, XEP-0352), disco identities and forms
// (XEP-0128), services on domains of their own (AddService, listed in
// disco#items, XEP-0030 §4), and what it offers other modules (Provide,
// Depend). Per-session and per-stanza state lives in typed slots
// (router.NewKey); cross-feature needs go through small interfaces (Depend)
// or events (router.EvAccountDeleting).
//
// The server's list of modules is one slice in internal/ops/server (modules.go):
// adding a feature is one new package and one line there. See
// docs/modules.md for a walk-through, and Example in this package.
package module
