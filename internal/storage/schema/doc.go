// Package schema holds what the SQL backends share, written once: the
// list of per-owner tables account deletion wipes (with a check a backend
// runs against its catalog, so a new table cannot be forgotten), and the
// statements of the archive aggregate, in a subset of SQL that SQLite and
// PostgreSQL both accept. Statements use ? placeholders; Dialect.Bind
// rewrites them for PostgreSQL. Table definitions stay in each backend's
// migrations, where column types differ.
package schema
