package storage

import (
	"context"
	"math"
)

// OfflineArchive implements Offline on the "offline" archive of a, so no
// backend writes offline SQL of its own. Offline's int64 ids are the
// archive's row ids; they stay between this adapter and the backend.
func OfflineArchive(a Archive) Offline { return offlineArchive{a} }

type offlineArchive struct{ a Archive }

func (o offlineArchive) Store(ctx context.Context, owner string, stanza []byte, quota int) error {
	_, err := o.a.Append(ctx, Entry{Owner: owner, Archive: ArchiveOffline, Payload: stanza}, quota)
	return err
}

func (o offlineArchive) Fetch(ctx context.Context, owner string, limit int) ([]OfflineMessage, error) {
	p, err := o.a.Query(ctx, owner, ArchiveOffline, Query{Max: limit})
	if err != nil {
		return nil, err
	}
	out := make([]OfflineMessage, 0, len(p.Entries))
	for _, e := range p.Entries {
		id, err := DecodeID(e.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, OfflineMessage{ID: id, Stanza: e.Payload, Stored: e.Time})
	}
	return out, nil
}

func (o offlineArchive) Delete(ctx context.Context, owner string, upTo int64) error {
	if upTo < 0 {
		return nil // below every id
	}
	return o.a.DeleteUpTo(ctx, owner, ArchiveOffline, EncodeID(min(upTo, math.MaxInt64)))
}

func (o offlineArchive) Count(ctx context.Context, owner string) (int, error) {
	return o.a.Count(ctx, owner, ArchiveOffline)
}
