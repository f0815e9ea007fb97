package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/tern-xmpp/tern/internal/storage"
)

type privateXML struct{ s *Store }

func (p privateXML) GetPrivate(ctx context.Context, owner, ns string) ([]byte, error) {
	var b []byte
	err := p.s.r.QueryRowContext(ctx, `SELECT data FROM private_xml WHERE owner = ? AND ns = ?`, owner, ns).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	return b, wrap(err, "get private XML %s of %s", ns, owner)
}

// SetPrivate checks the quota against the owner's other namespaces (the
// one replaced does not count) in the write transaction, which the single
// writer connection serialises.
func (p privateXML) SetPrivate(ctx context.Context, owner, ns string, data []byte, maxNamespaces, maxBytes int) error {
	return p.s.writeTx(ctx, "store private XML "+ns+" of "+owner, func(tx *sql.Tx) error {
		if maxNamespaces > 0 || maxBytes > 0 {
			var n, total int
			if err := tx.QueryRowContext(ctx, `SELECT count(*), coalesce(sum(length(data)), 0)
				FROM private_xml WHERE owner = ? AND ns <> ?`, owner, ns).Scan(&n, &total); err != nil {
				return err
			}
			if (maxNamespaces > 0 && n+1 > maxNamespaces) || (maxBytes > 0 && total+len(data) > maxBytes) {
				return storage.ErrQuotaExceeded
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO private_xml (owner, ns, data) VALUES (?, ?, ?)
			ON CONFLICT (owner, ns) DO UPDATE SET data = excluded.data`, owner, ns, nonNil(data))
		return err
	})
}

func (p privateXML) RemovePrivate(ctx context.Context, owner, ns string) error {
	_, err := p.s.w.ExecContext(ctx, `DELETE FROM private_xml WHERE owner = ? AND ns = ?`, owner, ns)
	return wrap(err, "remove private XML %s of %s", ns, owner)
}
