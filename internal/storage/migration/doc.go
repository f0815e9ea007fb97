// Package migration reads the versioned schema migrations that the storage
// backends (sqlite, postgres) embed as migrations/NNNN_description.sql. It
// only parses file names and loads the files in version order; applying
// them is left to each backend, whose SQL and locking differ.
package migration
