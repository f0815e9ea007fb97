package postgres

import (
	"context"
	"fmt"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/tern-xmpp/tern/internal/storage"
)

type roster struct{ s *Store }

const itemColumns = `i.contact, i.name, i.subscription, i.ask, i.approved,
	coalesce((SELECT array_agg(g.grp ORDER BY g.grp) FROM roster_groups g
		WHERE g.owner = i.owner AND g.contact = i.contact), '{}')`

// Items reads the version and the items in one statement, hence one
// snapshot: a client must never cache items older than the version.
func (r roster) Items(ctx context.Context, owner string) ([]storage.RosterItem, string, error) {
	rows, _ := r.s.pool.Query(ctx, `SELECT v.ver, i.contact, i.name, i.subscription, i.ask, i.approved,
		coalesce((SELECT array_agg(g.grp ORDER BY g.grp) FROM roster_groups g
			WHERE g.owner = i.owner AND g.contact = i.contact), '{}')
		FROM (SELECT coalesce((SELECT ver FROM roster_versions WHERE owner = $1), 0) AS ver) v
		LEFT JOIN roster_items i ON i.owner = $1
		ORDER BY i.contact`, owner)
	defer rows.Close()
	var items []storage.RosterItem
	var ver int64
	for rows.Next() {
		var contact, name, sub *string
		var ask, approved *bool
		var groups []string
		if err := rows.Scan(&ver, &contact, &name, &sub, &ask, &approved, &groups); err != nil {
			return nil, "", wrap(err, "read roster of %s", owner)
		}
		if contact == nil { // no items: the row carries only the version
			continue
		}
		items = append(items, storage.RosterItem{Contact: *contact, Name: *name, Subscription: *sub,
			Ask: *ask, Approved: *approved, Groups: nilIfEmpty(groups)})
	}
	if err := rows.Err(); err != nil {
		return nil, "", wrap(err, "read roster of %s", owner)
	}
	return items, strconv.FormatInt(ver, 10), nil
}

func nilIfEmpty(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	return s
}

func (r roster) Item(ctx context.Context, owner, contact string) (storage.RosterItem, error) {
	var it storage.RosterItem
	err := r.s.pool.QueryRow(ctx, `SELECT `+itemColumns+` FROM roster_items i WHERE i.owner = $1 AND i.contact = $2`,
		owner, contact).Scan(&it.Contact, &it.Name, &it.Subscription, &it.Ask, &it.Approved, &it.Groups)
	if notFound(err) {
		return storage.RosterItem{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.RosterItem{}, wrap(err, "read roster item %s of %s", contact, owner)
	}
	it.Groups = nilIfEmpty(it.Groups)
	return it, nil
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
		return []string{}
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

// bumpVersion takes the next value of the global sequence and locks the
// owner's version row until commit, so roster writes of one owner are
// serialised (quota checks see each other) and versions strictly increase.
func bumpVersion(ctx context.Context, tx pgx.Tx, owner string) (int64, error) {
	var v int64
	err := tx.QueryRow(ctx, `INSERT INTO roster_versions (owner, ver) VALUES ($1, nextval('roster_version_seq'))
		ON CONFLICT (owner) DO UPDATE SET ver = nextval('roster_version_seq')
		RETURNING ver`, owner).Scan(&v)
	return v, err
}

func (r roster) PutItem(ctx context.Context, owner string, item storage.RosterItem, maxItems int) (string, error) {
	item, err := normalize(item)
	if err != nil {
		return "", wrap(err, "put roster item %s of %s", item.Contact, owner)
	}
	var ver int64
	err = r.s.inTx(ctx, "put roster item "+item.Contact+" of "+owner, func(tx pgx.Tx) error {
		var err error
		if ver, err = bumpVersion(ctx, tx, owner); err != nil {
			return err
		}
		if maxItems > 0 {
			var exists bool
			var n int
			if err := tx.QueryRow(ctx, `SELECT
				EXISTS (SELECT 1 FROM roster_items WHERE owner = $1 AND contact = $2),
				(SELECT count(*) FROM roster_items WHERE owner = $1)`, owner, item.Contact).Scan(&exists, &n); err != nil {
				return err
			}
			if !exists && n >= maxItems {
				return storage.ErrQuotaExceeded
			}
		}
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO roster_items (owner, contact, name, subscription, ask, approved)
			VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (owner, contact) DO UPDATE SET name = excluded.name,
				subscription = excluded.subscription, ask = excluded.ask, approved = excluded.approved`,
			owner, item.Contact, item.Name, item.Subscription, item.Ask, item.Approved)
		b.Queue(`DELETE FROM roster_groups WHERE owner = $1 AND contact = $2`, owner, item.Contact)
		b.Queue(`INSERT INTO roster_groups (owner, contact, grp) SELECT $1, $2, unnest($3::text[])`,
			owner, item.Contact, item.Groups)
		return tx.SendBatch(ctx, b).Close()
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(ver, 10), nil
}

func (r roster) DeleteItem(ctx context.Context, owner, contact string) (string, error) {
	var ver int64
	err := r.s.inTx(ctx, "delete roster item "+contact+" of "+owner, func(tx pgx.Tx) error {
		var err error
		if ver, err = bumpVersion(ctx, tx, owner); err != nil {
			return err
		}
		// roster_groups rows go by ON DELETE CASCADE.
		tag, err := tx.Exec(ctx, `DELETE FROM roster_items WHERE owner = $1 AND contact = $2`, owner, contact)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storage.ErrNotFound // rolls back the version bump
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(ver, 10), nil
}

func (r roster) Version(ctx context.Context, owner string) (string, error) {
	var v int64
	err := r.s.pool.QueryRow(ctx, `SELECT coalesce((SELECT ver FROM roster_versions WHERE owner = $1), 0)`, owner).Scan(&v)
	if err != nil {
		return "", wrap(err, "read roster version of %s", owner)
	}
	return strconv.FormatInt(v, 10), nil
}

func (r roster) AddPendingIn(ctx context.Context, owner string, p storage.PendingIn) error {
	_, err := r.s.pool.Exec(ctx, `INSERT INTO pending_in (owner, contact, stanza) VALUES ($1, $2, $3)
		ON CONFLICT (owner, contact) DO UPDATE SET stanza = excluded.stanza`, owner, p.Contact, p.Stanza)
	return wrap(err, "add pending subscription from %s to %s", p.Contact, owner)
}

func (r roster) RemovePendingIn(ctx context.Context, owner, contact string) error {
	_, err := r.s.pool.Exec(ctx, `DELETE FROM pending_in WHERE owner = $1 AND contact = $2`, owner, contact)
	return wrap(err, "remove pending subscription from %s to %s", contact, owner)
}

func (r roster) PendingIns(ctx context.Context, owner string) ([]storage.PendingIn, error) {
	rows, _ := r.s.pool.Query(ctx, `SELECT contact, stanza FROM pending_in WHERE owner = $1 ORDER BY contact`, owner)
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.PendingIn, error) {
		var p storage.PendingIn
		err := row.Scan(&p.Contact, &p.Stanza)
		return p, err
	})
	if err != nil {
		return nil, wrap(err, "list pending subscriptions to %s", owner)
	}
	return out, nil
}

func (r roster) HasPendingIn(ctx context.Context, owner, contact string) (bool, error) {
	var ok bool
	err := r.s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pending_in WHERE owner = $1 AND contact = $2)`,
		owner, contact).Scan(&ok)
	return ok, wrap(err, "check pending subscription from %s to %s", contact, owner)
}
