package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

var certStmts = dialect.DirectCerts()

type directCerts struct{ s *Store }

func (d directCerts) PutCert(ctx context.Context, c storage.DirectCert) error {
	_, err := d.s.pool.Exec(ctx, certStmts.Put, c.Address, schema.CertDomain(c.Address), c.SHA256, c.DER, c.Key, c.Added.UTC())
	return wrap(err, "put certificate of %s", c.Address)
}

func (d directCerts) Certs(ctx context.Context, address string) ([]storage.DirectCert, error) {
	rows, err := d.s.pool.Query(ctx, certStmts.ByOwner, address)
	return scanCerts(rows, err, "certificates of %s", address)
}

func (d directCerts) DomainCerts(ctx context.Context, domain string) ([]storage.DirectCert, error) {
	rows, err := d.s.pool.Query(ctx, certStmts.ByDomain, domain)
	return scanCerts(rows, err, "certificates of domain %s", domain)
}

func (d directCerts) RemoveCert(ctx context.Context, address, prefix string) (int, error) {
	like, ok := schema.LikePrefix(prefix)
	if !ok {
		return 0, nil
	}
	tag, err := d.s.pool.Exec(ctx, certStmts.Remove, address, like)
	if err != nil {
		return 0, wrap(err, "remove certificates of %s", address)
	}
	return int(tag.RowsAffected()), nil
}

func scanCerts(rows pgx.Rows, err error, format string, arg string) ([]storage.DirectCert, error) {
	if err != nil {
		return nil, wrap(err, format, arg)
	}
	defer rows.Close()
	var out []storage.DirectCert
	for rows.Next() {
		var c storage.DirectCert
		if err := rows.Scan(&c.Address, &c.SHA256, &c.DER, &c.Key, &c.Added); err != nil {
			return nil, wrap(err, format, arg)
		}
		c.Added = c.Added.UTC()
		if len(c.Key) == 0 {
			c.Key = nil // NULL and empty alike: no key
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), format, arg)
}
