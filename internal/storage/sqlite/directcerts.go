package sqlite

import (
	"context"
	"database/sql"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

var certStmts = dialect.DirectCerts()

type directCerts struct{ s *Store }

func (d directCerts) PutCert(ctx context.Context, c storage.DirectCert) error {
	added, err := nanos(c.Added)
	if err != nil {
		return wrap(err, "certificate of %s", c.Address)
	}
	_, err = d.s.w.ExecContext(ctx, certStmts.Put, c.Address, schema.CertDomain(c.Address), c.SHA256, c.DER, c.Key, added)
	return wrap(err, "put certificate of %s", c.Address)
}

func (d directCerts) Certs(ctx context.Context, address string) ([]storage.DirectCert, error) {
	rows, err := d.s.r.QueryContext(ctx, certStmts.ByOwner, address)
	return scanCerts(rows, err, "certificates of %s", address)
}

func (d directCerts) DomainCerts(ctx context.Context, domain string) ([]storage.DirectCert, error) {
	rows, err := d.s.r.QueryContext(ctx, certStmts.ByDomain, domain)
	return scanCerts(rows, err, "certificates of domain %s", domain)
}

func (d directCerts) RemoveCert(ctx context.Context, address, prefix string) (int, error) {
	like, ok := schema.LikePrefix(prefix)
	if !ok {
		return 0, nil
	}
	res, err := d.s.w.ExecContext(ctx, certStmts.Remove, address, like)
	if err != nil {
		return 0, wrap(err, "remove certificates of %s", address)
	}
	n, err := res.RowsAffected()
	return int(n), wrap(err, "remove certificates of %s", address)
}

func scanCerts(rows *sql.Rows, err error, format string, arg string) ([]storage.DirectCert, error) {
	if err != nil {
		return nil, wrap(err, format, arg)
	}
	defer rows.Close()
	var out []storage.DirectCert
	for rows.Next() {
		var c storage.DirectCert
		var added int64
		if err := rows.Scan(&c.Address, &c.SHA256, &c.DER, &c.Key, &added); err != nil {
			return nil, wrap(err, format, arg)
		}
		c.Added = fromNanos(added)
		if len(c.Key) == 0 {
			c.Key = nil // NULL and empty alike: no key
		}
		out = append(out, c)
	}
	return out, wrap(rows.Err(), format, arg)
}
