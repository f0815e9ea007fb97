package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
)

type vcards struct{ s *Store }

func (v vcards) GetVCard(ctx context.Context, owner string) ([]byte, error) {
	var b []byte
	err := v.s.r.QueryRowContext(ctx, `SELECT vcard FROM vcards WHERE owner = ?`, owner).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, storage.ErrNotFound
	}
	return b, wrap(err, "get vCard of %s", owner)
}

func (v vcards) SetVCard(ctx context.Context, owner string, vcard []byte) error {
	_, err := v.s.w.ExecContext(ctx, `INSERT INTO vcards (owner, vcard) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET vcard = excluded.vcard`, owner, nonNil(vcard))
	return wrap(err, "set vCard of %s", owner)
}

type blocking struct{ s *Store }

func (b blocking) BlockList(ctx context.Context, owner string) ([]string, error) {
	rows, err := b.s.r.QueryContext(ctx, `SELECT jid FROM blocklist WHERE owner = ? ORDER BY jid`, owner)
	if err != nil {
		return nil, wrap(err, "read block list of %s", owner)
	}
	jids, err := scanStrings(rows)
	if err != nil {
		return nil, wrap(err, "read block list of %s", owner)
	}
	return jids, nil
}

func (b blocking) Block(ctx context.Context, owner string, jids []string) error {
	if len(jids) == 0 {
		return nil
	}
	return b.s.writeTx(ctx, "block JIDs for "+owner, func(tx *sql.Tx) error {
		for _, j := range jids {
			if _, err := tx.ExecContext(ctx, `INSERT INTO blocklist (owner, jid) VALUES (?, ?)
				ON CONFLICT DO NOTHING`, owner, j); err != nil {
				return err
			}
		}
		return nil
	})
}

func (b blocking) Unblock(ctx context.Context, owner string, jids []string) error {
	if len(jids) == 0 {
		_, err := b.s.w.ExecContext(ctx, `DELETE FROM blocklist WHERE owner = ?`, owner)
		return wrap(err, "unblock all JIDs for %s", owner)
	}
	return b.s.writeTx(ctx, "unblock JIDs for "+owner, func(tx *sql.Tx) error {
		for _, j := range jids {
			if _, err := tx.ExecContext(ctx, `DELETE FROM blocklist WHERE owner = ? AND jid = ?`, owner, j); err != nil {
				return err
			}
		}
		return nil
	})
}

type lastActivity struct{ s *Store }

func (l lastActivity) SetLast(ctx context.Context, owner string, at time.Time, status string) error {
	n, err := nanos(at)
	if err != nil {
		return wrap(err, "set last activity of %s", owner)
	}
	_, err = l.s.w.ExecContext(ctx, `INSERT INTO last_activity (owner, at, status) VALUES (?, ?, ?)
		ON CONFLICT (owner) DO UPDATE SET at = excluded.at, status = excluded.status`, owner, n, status)
	return wrap(err, "set last activity of %s", owner)
}

func (l lastActivity) GetLast(ctx context.Context, owner string) (time.Time, string, error) {
	var n int64
	var status string
	err := l.s.r.QueryRowContext(ctx, `SELECT at, status FROM last_activity WHERE owner = ?`, owner).Scan(&n, &status)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, "", storage.ErrNotFound
	}
	if err != nil {
		return time.Time{}, "", wrap(err, "get last activity of %s", owner)
	}
	return fromNanos(n), status, nil
}
