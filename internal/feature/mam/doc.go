// Package mam is Message Archive Management for user archives (XEP-0313,
// urn:xmpp:mam:2 with urn:xmpp:mam:2#extended): every chat or normal
// message with a body (or an end-to-end encrypted payload) a local user
// sends or receives is kept in the archive store ("mam", owner = the
// user's bare JID, peer = the other party's bare JID), written behind the
// message by a storage.Writer (ids are unique microsecond times, known
// before delivery); the server's acknowledgements (stream management,
// pings, offline stores) wait for those writes (router.Sync), so what a
// client was told was kept is in the archive, even after a kill -9. A
// received message gets the archive id as its XEP-0359
// <stanza-id by='user@domain'/> before delivery (any stanza-id claiming
// to be ours is removed first), so an offline copy and its archived copy
// carry the same id and clients that sync with MAM drop the duplicate.
//
// Queries: the form fields with, start, end, before-id, after-id and ids;
// XEP-0059 paging (max, after, before, the last page, index, count) and
// <flip-page/>; <fin complete='true'/> on the last page; the archive's
// metadata. Preferences (XEP-0313 §6: always, never, roster, with JID
// lists) per user, the server's default from [mam]. XEP-0334 hints
// no-store and no-permanent-store keep a message out. Retention: [mam]
// retention_days and max_per_user, applied hourly; an account's archive
// goes with it.
package mam
