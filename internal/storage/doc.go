// Package storage defines tern's persistence as one interface per aggregate
// (users, roster, offline messages, vCards, block lists, last activity,
// private XML). Backends live in subpackages (sqlite, postgres) and all pass
// the same suite in storagetest. Owners and contacts are bare JID strings,
// already PRECIS-prepared by the caller.
package storage
