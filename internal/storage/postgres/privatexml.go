package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
)

type privateXML struct{ s *Store }

// privateLockClass is the first key of the advisory lock SetPrivate takes
// per owner, so two nodes cannot both pass the quota check.
const privateLockClass = 0x70726976 // "priv"

func (p privateXML) GetPrivate(ctx context.Context, owner, ns string) ([]byte, error) {
	var b []byte
	err := p.s.pool.QueryRow(ctx, `SELECT data FROM private_xml WHERE owner = $1 AND ns = $2`, owner, ns).Scan(&b)
	if notFound(err) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err, "get private XML %s of %s", ns, owner)
	}
	return b, nil
}

// SetPrivate checks the quota against the owner's other namespaces (the
// one replaced does not count).
func (p privateXML) SetPrivate(ctx context.Context, owner, ns string, data []byte, maxNamespaces, maxBytes int) error {
	return p.s.inTx(ctx, "store private XML "+ns+" of "+owner, func(tx pgx.Tx) error {
		if maxNamespaces > 0 || maxBytes > 0 {
			if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, hashtext($2))`, int32(privateLockClass), owner); err != nil {
				return err
			}
			var n, total int
			if err := tx.QueryRow(ctx, `SELECT count(*), coalesce(sum(octet_length(data)), 0)
				FROM private_xml WHERE owner = $1 AND ns <> $2`, owner, ns).Scan(&n, &total); err != nil {
				return err
			}
			if (maxNamespaces > 0 && n+1 > maxNamespaces) || (maxBytes > 0 && total+len(data) > maxBytes) {
				return storage.ErrQuotaExceeded
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO private_xml (owner, ns, data) VALUES ($1, $2, $3)
			ON CONFLICT (owner, ns) DO UPDATE SET data = excluded.data`, owner, ns, nonNil(data))
		return err
	})
}

func (p privateXML) RemovePrivate(ctx context.Context, owner, ns string) error {
	_, err := p.s.pool.Exec(ctx, `DELETE FROM private_xml WHERE owner = $1 AND ns = $2`, owner, ns)
	return wrap(err, "remove private XML %s of %s", ns, owner)
}
