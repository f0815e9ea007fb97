// Package storage defines tern's persistence as one interface per aggregate
// (users, roster, archive, vCards, block lists, last activity, private
// XML). Backends live in subpackages (sqlite, postgres), share their SQL
// through schema, and all pass the same suite in storagetest. Owners and
// contacts are bare JID strings, already PRECIS-prepared by the caller.
//
// The Archive is the one store of time-ordered per-owner logs: offline
// messages (XEP-0160) are its "offline" archive, through OfflineArchive;
// MAM (XEP-0313), MUC history and the Direct audit trail are meant to be
// further archives of it, paged with RSM (XEP-0059) by opaque ids.
package storage
