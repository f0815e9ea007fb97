// Package cache is a storage.Store decorator that keeps hot per-owner
// reads in memory, so features read through the store and hold no caches
// of their own. It caches block lists (XEP-0191), which the blocking
// feature consults for every stanza, and rosters with their versions (RFC
// 6121 §2, XEP-0237), which presence reads at every presence change and
// subscription handling item by item. An entry is dropped by every write
// through the decorator that touches its owner and by account deletion
// (XEP-0077 §3.2: a re-created account inherits nothing); the cache is
// bounded by Options.MaxOwners.
//
// The cache sees only writes made through it. Writers elsewhere (another
// node on the same PostgreSQL database, a tern command run against the
// database) are seen once the entry is dropped; Options.TTL bounds how
// long that can take.
package cache
