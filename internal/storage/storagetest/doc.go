// Package storagetest is the conformance suite every storage backend
// passes: Run(t, open) checks the contracts documented in package storage
// (sentinel errors, roster versioning per XEP-0237, pending inbound
// subscriptions kept apart from the roster per RFC 6121 §3.1.3, offline
// order and quota per XEP-0160, account deletion wiping every aggregate,
// vcard-temp per XEP-0054, blocking per XEP-0191, last activity per
// XEP-0012), isolation between owners and domains, concurrent writers and
// context cancellation.
//
// Every subtest invents its own domains and owners, so a backend may hand
// the same database to every subtest.
package storagetest
