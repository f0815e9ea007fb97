package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sort"
	"strconv"

	"github.com/tern-xmpp/tern/internal/storage"
)

type roster struct{ s *Store }

func (r roster) Items(ctx context.Context, owner string) ([]storage.RosterItem, string, error) {
	var items []storage.RosterItem
	var ver int64
	err := r.s.readTx(ctx, "read roster of "+owner, func(tx *sql.Tx) error {
		var err error
		if ver, err = version(ctx, tx, owner); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT contact, name, subscription, ask, approved
			FROM roster_items WHERE owner = ? ORDER BY contact`, owner)
		if err != nil {
			return err
		}
		defer rows.Close()
		idx := map[string]int{}
		for rows.Next() {
			var it storage.RosterItem
			if err := rows.Scan(&it.Contact, &it.Name, &it.Subscription, &it.Ask, &it.Approved); err != nil {
				return err
			}
			idx[it.Contact] = len(items)
			items = append(items, it)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		grows, err := tx.QueryContext(ctx, `SELECT contact, grp FROM roster_groups WHERE owner = ? ORDER BY contact, grp`, owner)
		if err != nil {
			return err
		}
		defer grows.Close()
		for grows.Next() {
			var c, g string
			if err := grows.Scan(&c, &g); err != nil {
				return err
			}
			if i, ok := idx[c]; ok {
				items[i].Groups = append(items[i].Groups, g)
			}
		}
		return grows.Err()
	})
	if err != nil {
		return nil, "", err
	}
	return items, strconv.FormatInt(ver, 10), nil
}

func (r roster) Item(ctx context.Context, owner, contact string) (storage.RosterItem, error) {
	var it storage.RosterItem
	err := r.s.readTx(ctx, "read roster item "+contact+" of "+owner, func(tx *sql.Tx) error {
		err := tx.QueryRowContext(ctx, `SELECT contact, name, subscription, ask, approved
			FROM roster_items WHERE owner = ? AND contact = ?`, owner, contact).
			Scan(&it.Contact, &it.Name, &it.Subscription, &it.Ask, &it.Approved)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.ErrNotFound
		}
		if err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, `SELECT grp FROM roster_groups WHERE owner = ? AND contact = ? ORDER BY grp`,
			owner, contact)
		if err != nil {
			return err
		}
		it.Groups, err = scanStrings(rows)
		return err
	})
	return it, err
}

// normalize fills the defaults and checks the subscription state, so a
// bad value fails here with a clear message rather than on a CHECK.
func normalize(it storage.RosterItem) (storage.RosterItem, error) {
	switch it.Subscription {
	case "":
		it.Subscription = storage.SubNone
	case storage.SubNone, storage.SubTo, storage.SubFrom, storage.SubBoth:
	default:
		return it, fmt.Errorf("subscription %q is not none, to, from or both", it.Subscription)
	}
	it.Groups = sortedUnique(it.Groups)
	return it, nil
}

func sortedUnique(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	out := append([]string(nil), in...)
	sort.Strings(out)
	j := 0
	for i, g := range out {
		if i == 0 || g != out[j-1] {
			out[j] = g
			j++
		}
	}
	return out[:j]
}

func (r roster) PutItem(ctx context.Context, owner string, item storage.RosterItem, maxItems int) (string, error) {
	item, err := normalize(item)
	if err != nil {
		return "", wrap(err, "put roster item %s of %s", item.Contact, owner)
	}
	var ver int64
	err = r.s.writeTx(ctx, "put roster item "+item.Contact+" of "+owner, func(tx *sql.Tx) error {
		if maxItems > 0 {
			var exists bool
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT
				EXISTS (SELECT 1 FROM roster_items WHERE owner = ? AND contact = ?),
				(SELECT count(*) FROM roster_items WHERE owner = ?)`,
				owner, item.Contact, owner).Scan(&exists, &n); err != nil {
				return err
			}
			if !exists && n >= maxItems {
				return storage.ErrQuotaExceeded
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO roster_items (owner, contact, name, subscription, ask, approved)
			VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name,
				subscription = excluded.subscription, ask = excluded.ask, approved = excluded.approved`,
			owner, item.Contact, item.Name, item.Subscription, b2i(item.Ask), b2i(item.Approved)); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM roster_groups WHERE owner = ? AND contact = ?`,
			owner, item.Contact); err != nil {
			return err
		}
		for _, g := range item.Groups {
			if _, err := tx.ExecContext(ctx, `INSERT INTO roster_groups (owner, contact, grp) VALUES (?, ?, ?)`,
				owner, item.Contact, g); err != nil {
				return err
			}
		}
		var err error
		ver, err = bumpVersion(ctx, tx, owner)
		return err
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(ver, 10), nil
}

func (r roster) DeleteItem(ctx context.Context, owner, contact string) (string, error) {
	var ver int64
	err := r.s.writeTx(ctx, "delete roster item "+contact+" of "+owner, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM roster_groups WHERE owner = ? AND contact = ?`, owner, contact); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM roster_items WHERE owner = ? AND contact = ?`, owner, contact)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return storage.ErrNotFound
		}
		ver, err = bumpVersion(ctx, tx, owner)
		return err
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(ver, 10), nil
}

func (r roster) Version(ctx context.Context, owner string) (string, error) {
	ver, err := version(ctx, r.s.r, owner)
	if err != nil {
		return "", wrap(err, "read roster version of %s", owner)
	}
	return strconv.FormatInt(ver, 10), nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// version is 0 for an owner who never wrote a roster item.
func version(ctx context.Context, q querier, owner string) (int64, error) {
	var v int64
	err := q.QueryRowContext(ctx, `SELECT ver FROM roster_versions WHERE owner = ?`, owner).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// bumpVersion takes the next value of the global counter: greater than
// any version ever handed out, so strictly increasing per owner.
func bumpVersion(ctx context.Context, tx *sql.Tx, owner string) (int64, error) {
	var v int64
	if err := tx.QueryRowContext(ctx, `UPDATE roster_seq SET value = value + 1 WHERE id = 1 RETURNING value`).Scan(&v); err != nil {
		return 0, err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO roster_versions (owner, ver) VALUES (?, ?)
		ON CONFLICT (owner) DO UPDATE SET ver = excluded.ver`, owner, v)
	return v, err
}

func (r roster) AddPendingIn(ctx context.Context, owner string, p storage.PendingIn) error {
	_, err := r.s.w.ExecContext(ctx, `INSERT INTO pending_in (owner, contact, stanza) VALUES (?, ?, ?)
		ON CONFLICT (owner, contact) DO UPDATE SET stanza = excluded.stanza`, owner, p.Contact, p.Stanza)
	return wrap(err, "add pending subscription from %s to %s", p.Contact, owner)
}

func (r roster) RemovePendingIn(ctx context.Context, owner, contact string) error {
	_, err := r.s.w.ExecContext(ctx, `DELETE FROM pending_in WHERE owner = ? AND contact = ?`, owner, contact)
	return wrap(err, "remove pending subscription from %s to %s", contact, owner)
}

func (r roster) PendingIns(ctx context.Context, owner string) ([]storage.PendingIn, error) {
	rows, err := r.s.r.QueryContext(ctx, `SELECT contact, stanza FROM pending_in WHERE owner = ? ORDER BY contact`, owner)
	if err != nil {
		return nil, wrap(err, "list pending subscriptions to %s", owner)
	}
	defer rows.Close()
	var out []storage.PendingIn
	for rows.Next() {
		var p storage.PendingIn
		if err := rows.Scan(&p.Contact, &p.Stanza); err != nil {
			return nil, wrap(err, "list pending subscriptions to %s", owner)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(err, "list pending subscriptions to %s", owner)
	}
	return out, nil
}

func (r roster) HasPendingIn(ctx context.Context, owner, contact string) (bool, error) {
	var ok bool
	err := r.s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM pending_in WHERE owner = ? AND contact = ?)`,
		owner, contact).Scan(&ok)
	return ok, wrap(err, "check pending subscription from %s to %s", contact, owner)
}
