// Package postgres is tern's PostgreSQL backend (jackc/pgx/v5, pgxpool),
// for clusters: several tern nodes share one database.
//
// It keeps the same tables as package sqlite (users with a domain column,
// everything else keyed by the owner's bare JID; roster groups and block
// lists as rows) so both backends share one design and one test suite.
// Text that is sorted or compared uses COLLATE "C", so order is byte
// order whatever the database locale.
//
// Durability follows the server: with synchronous_commit on (the default)
// a write returns once it is in the WAL on disk.
//
// Concurrency: writes for one owner that depend on earlier ones (roster
// version, quotas, archive ids) are serialised per owner by a row lock or
// a transaction-scoped advisory lock, so several nodes can write at once.
//
// Schema: versioned migrations embedded from migrations/NNNN_*.sql, each in
// a transaction recorded in schema_version, under an advisory lock so nodes
// starting together migrate once. Tables go into the first schema of
// search_path (add search_path=... to the DSN to pick one).
//
// Aggregates: accounts with SCRAM credentials (RFC 5802, RFC 6120 §6),
// rosters with versioning and pending inbound subscriptions (RFC 6121 §2,
// §3; XEP-0237 versions), the archive (offline messages, XEP-0160), vcard-temp
// (XEP-0054), blocking (XEP-0191), last activity (XEP-0012) and private
// XML (XEP-0049).
package postgres
