// Package privatexml implements Private XML Storage (XEP-0049 1.2,
// jabber:iq:private), where clients such as mcabber, Pidgin and Psi keep
// bookmarks (XEP-0048, storage:bookmarks) and roster notes (XEP-0145,
// storage:rosternotes).
//
//   - §2.1, §2.3: a set stores the query's child elements under their
//     namespace, replacing what was there; a get returns what is stored for
//     the namespace of its one child. A set may carry several elements of
//     one namespace (§2.3): they are stored and returned together. For a
//     get with nothing stored the XEP gives no answer; like Prosody, tern
//     returns the asked-for element, empty.
//   - §2.3, §3: an empty query is not-acceptable (§2.3's MUST; its "Bad
//     Format" is no RFC 6120 stanza condition). So is a child with no
//     namespace of its own (none, jabber:client, jabber:server,
//     jabber:iq:private), like §2.3's reserved namespaces. A get for more
//     than one element, or a set mixing namespaces, is bad-request.
//   - §2.3, §3, §4: only the account itself reads or writes its storage; a
//     get or set to another account is forbidden (the preferred condition).
//
// XEP-0049 defines no disco feature (§6); like Prosody, tern lists
// jabber:iq:private in the server's and the account's disco#info.
//
// Limits (DefaultLimits, named in the error text): 64 KiB per namespace
// (not-acceptable, as for vCards), and per account 100 namespaces and 1 MiB
// in all (policy-violation, RFC 6120 §8.3.3.12). A set of one empty element
// without attributes frees its namespace, as in Prosody: a later get
// answers the same empty element.
package privatexml
