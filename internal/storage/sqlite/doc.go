// Package sqlite is tern's embedded storage backend (modernc.org/sqlite,
// pure Go), the default for a single node.
//
// Durability: WAL journal with synchronous=NORMAL. A write returns once it
// is committed to the WAL, which survives a crash of the process (kill -9),
// as the Offline contract (XEP-0160 messages must not be lost) requires.
// NORMAL may lose the last commits on power loss or an OS crash; use
// OpenWith(ctx, path, Options{Synchronous: "FULL"}) when that matters.
//
// Concurrency: one writer connection whose transactions start with BEGIN
// IMMEDIATE, plus a pool of query_only readers. SQLite allows one writer at
// a time anyway; serialising writes in the process means a read transaction
// is never upgraded to a write, the case that fails with SQLITE_BUSY
// regardless of busy_timeout.
//
// Archive appends (offline messages among them) go through one committer
// goroutine that writes every entry waiting at that moment in a single
// transaction (group commit), so concurrent sessions share commits; Append
// still returns only after its own entry is committed.
//
// Schema: one set of tables for every virtual host (users carry a domain
// column, the other tables the owner's bare JID), versioned migrations
// embedded from migrations/NNNN_*.sql, each applied in a transaction and
// recorded in schema_version. Opening a database written by a newer tern
// fails rather than guessing.
//
// Aggregates: accounts with SCRAM credentials (RFC 5802, RFC 6120 §6),
// rosters with versioning and pending inbound subscriptions (RFC 6121 §2,
// §3; XEP-0237 versions), the archive (offline messages, XEP-0160), vcard-temp
// (XEP-0054), blocking (XEP-0191), last activity (XEP-0012) and private
// XML (XEP-0049).
package sqlite
