package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
)

type vcards struct{ s *Store }

func (v vcards) GetVCard(ctx context.Context, owner string) ([]byte, error) {
	var b []byte
	err := v.s.pool.QueryRow(ctx, `SELECT vcard FROM vcards WHERE owner = $1`, owner).Scan(&b)
	if notFound(err) {
		return nil, storage.ErrNotFound
	}
	if err != nil {
		return nil, wrap(err, "get vCard of %s", owner)
	}
	return b, nil
}

func (v vcards) SetVCard(ctx context.Context, owner string, vcard []byte) error {
	_, err := v.s.pool.Exec(ctx, `INSERT INTO vcards (owner, vcard) VALUES ($1, $2)
		ON CONFLICT (owner) DO UPDATE SET vcard = excluded.vcard`, owner, nonNil(vcard))
	return wrap(err, "set vCard of %s", owner)
}

type blocking struct{ s *Store }

func (b blocking) BlockList(ctx context.Context, owner string) ([]string, error) {
	rows, _ := b.s.pool.Query(ctx, `SELECT jid FROM blocklist WHERE owner = $1 ORDER BY jid`, owner)
	jids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(err, "read block list of %s", owner)
	}
	return jids, nil
}

func (b blocking) Block(ctx context.Context, owner string, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	_, err := b.s.pool.Exec(ctx, `INSERT INTO blocklist (owner, jid) SELECT $1, unnest($2::text[])
		ON CONFLICT DO NOTHING`, owner, jids)
	return wrap(err, "block JIDs for %s", owner)
}

func (b blocking) Unblock(ctx context.Context, owner string, jids []string) error {
	var err error
	if len(jids) == 0 {
		_, err = b.s.pool.Exec(ctx, `DELETE FROM blocklist WHERE owner = $1`, owner)
	} else {
		_, err = b.s.pool.Exec(ctx, `DELETE FROM blocklist WHERE owner = $1 AND jid = ANY($2::text[])`, owner, jids)
	}
	return wrap(err, "unblock JIDs for %s", owner)
}

type lastActivity struct{ s *Store }

func (l lastActivity) SetLast(ctx context.Context, owner string, at time.Time, status string) error {
	_, err := l.s.pool.Exec(ctx, `INSERT INTO last_activity (owner, at, status) VALUES ($1, $2, $3)
		ON CONFLICT (owner) DO UPDATE SET at = excluded.at, status = excluded.status`, owner, at.UTC(), status)
	return wrap(err, "set last activity of %s", owner)
}

func (l lastActivity) GetLast(ctx context.Context, owner string) (time.Time, string, error) {
	var at time.Time
	var status string
	err := l.s.pool.QueryRow(ctx, `SELECT at, status FROM last_activity WHERE owner = $1`, owner).Scan(&at, &status)
	if notFound(err) {
		return time.Time{}, "", storage.ErrNotFound
	}
	if err != nil {
		return time.Time{}, "", wrap(err, "get last activity of %s", owner)
	}
	return at.UTC(), status, nil
}
