package postgres

import (
	"testing"

	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

// Run with: go test -run='^$' -bench=. -benchtime=1s ./internal/storage/postgres/
// (skipped when no PostgreSQL is reachable; see testDSN).

func benchStore(b *testing.B) *Store {
	s := open(b, testDSN(b))
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkOfflineStore(b *testing.B)       { storagetest.BenchOfflineStore(b, benchStore(b)) }
func BenchmarkOfflineStoreSerial(b *testing.B) { storagetest.BenchOfflineStoreSerial(b, benchStore(b)) }
func BenchmarkRosterPutItem(b *testing.B)      { storagetest.BenchRosterPutItem(b, benchStore(b)) }
func BenchmarkGetUser(b *testing.B)            { storagetest.BenchGetUser(b, benchStore(b)) }
func BenchmarkArchiveWriter(b *testing.B)      { storagetest.BenchArchiveWriter(b, benchStore(b)) }
func BenchmarkHistoryLarge(b *testing.B)       { storagetest.BenchHistoryLarge(b, benchStore(b)) }
