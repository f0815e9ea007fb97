package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tern-xmpp/tern/internal/storage/storagetest"
)

// Run with: go test -run='^$' -bench=. -benchtime=1s ./internal/storage/sqlite/

func benchStore(b *testing.B, o Options) *Store {
	s, err := OpenWith(context.Background(), filepath.Join(b.TempDir(), "bench.db"), o)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	return s
}

func BenchmarkOfflineStore(b *testing.B) {
	storagetest.BenchOfflineStore(b, benchStore(b, Options{}))
}

func BenchmarkOfflineStoreSerial(b *testing.B) {
	storagetest.BenchOfflineStoreSerial(b, benchStore(b, Options{}))
}

func BenchmarkOfflineStoreFull(b *testing.B) {
	storagetest.BenchOfflineStore(b, benchStore(b, Options{Synchronous: "FULL"}))
}

func BenchmarkRosterPutItem(b *testing.B) {
	storagetest.BenchRosterPutItem(b, benchStore(b, Options{}))
}

func BenchmarkGetUser(b *testing.B) {
	storagetest.BenchGetUser(b, benchStore(b, Options{}))
}

func BenchmarkTracking(b *testing.B) {
	for _, q := range []int{0, 10000} {
		b.Run(fmt.Sprintf("quota=%d", q), func(b *testing.B) {
			storagetest.BenchTracking(b, benchStore(b, Options{}), q)
		})
	}
}

func BenchmarkArchiveWriter(b *testing.B) {
	storagetest.BenchArchiveWriter(b, benchStore(b, Options{}))
}

func BenchmarkHistoryLarge(b *testing.B) {
	storagetest.BenchHistoryLarge(b, benchStore(b, Options{}))
}
