package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

type users struct{ s *Store }

const userColumns = `domain, username,
	sha1_salt, sha1_iters, sha1_stored, sha1_server,
	sha256_salt, sha256_iters, sha256_stored, sha256_server,
	sha512_salt, sha512_iters, sha512_stored, sha512_server, created`

// credArgs flattens the three credentials in column order. A nil slice
// becomes empty so NOT NULL holds.
func credArgs(u storage.User) []any {
	var a []any
	for _, c := range []storage.ScramCredential{u.SHA1, u.SHA256, u.SHA512} {
		a = append(a, nonNil(c.Salt), c.Iters, nonNil(c.StoredKey), nonNil(c.ServerKey))
	}
	return a
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (u users) CreateUser(ctx context.Context, usr storage.User) error {
	if usr.Created.IsZero() {
		usr.Created = time.Now()
	}
	created, err := nanos(usr.Created)
	if err != nil {
		return wrap(err, "create user %s@%s", usr.Username, usr.Domain)
	}
	args := append([]any{usr.Domain, usr.Username}, credArgs(usr)...)
	args = append(args, created)
	res, err := u.s.w.ExecContext(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (domain, username) DO NOTHING`, args...)
	if err != nil {
		return wrap(err, "create user %s@%s", usr.Username, usr.Domain)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(err, "create user %s@%s", usr.Username, usr.Domain)
	} else if n == 0 {
		return storage.ErrConflict
	}
	return nil
}

func (u users) GetUser(ctx context.Context, domain, username string) (storage.User, error) {
	var usr storage.User
	var created int64
	err := u.s.r.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE domain = ? AND username = ?`,
		domain, username).Scan(&usr.Domain, &usr.Username,
		&usr.SHA1.Salt, &usr.SHA1.Iters, &usr.SHA1.StoredKey, &usr.SHA1.ServerKey,
		&usr.SHA256.Salt, &usr.SHA256.Iters, &usr.SHA256.StoredKey, &usr.SHA256.ServerKey,
		&usr.SHA512.Salt, &usr.SHA512.Iters, &usr.SHA512.StoredKey, &usr.SHA512.ServerKey, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.User{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.User{}, wrap(err, "get user %s@%s", username, domain)
	}
	usr.Created = fromNanos(created)
	return usr, nil
}

func (u users) SetCredentials(ctx context.Context, usr storage.User) error {
	args := append(credArgs(usr), usr.Domain, usr.Username)
	res, err := u.s.w.ExecContext(ctx, `UPDATE users SET
		sha1_salt = ?, sha1_iters = ?, sha1_stored = ?, sha1_server = ?,
		sha256_salt = ?, sha256_iters = ?, sha256_stored = ?, sha256_server = ?,
		sha512_salt = ?, sha512_iters = ?, sha512_stored = ?, sha512_server = ?
		WHERE domain = ? AND username = ?`, args...)
	if err != nil {
		return wrap(err, "set credentials of %s@%s", usr.Username, usr.Domain)
	}
	if n, err := res.RowsAffected(); err != nil {
		return wrap(err, "set credentials of %s@%s", usr.Username, usr.Domain)
	} else if n == 0 {
		return storage.ErrNotFound
	}
	return nil
}

// ownerOf is the bare JID under which the user's other aggregates are
// stored, as the caller builds it.
func ownerOf(domain, username string) string {
	if username == "" {
		return domain
	}
	return username + "@" + domain
}

// deleteOwner wipes every table of schema.OwnerTables. roster_groups goes
// by cascade, but is listed so the wipe does not depend on foreign_keys
// being on.
var deleteOwner = schema.DeleteOwner(dialect)

// DeleteUser wipes the account and every aggregate of its bare JID in one
// transaction. If there was no account it returns ErrNotFound, after
// wiping any data left under that bare JID all the same.
func (u users) DeleteUser(ctx context.Context, domain, username string) error {
	owner := ownerOf(domain, username)
	var existed bool
	err := u.s.writeTx(ctx, "delete user "+owner, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM users WHERE domain = ? AND username = ?`, domain, username)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		if err != nil {
			return err
		}
		existed = n > 0
		for _, q := range deleteOwner {
			if _, err := tx.ExecContext(ctx, q.SQL, q.Args(owner)...); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !existed {
		return storage.ErrNotFound
	}
	return nil
}

func (u users) ListUsers(ctx context.Context, domain string) ([]string, error) {
	rows, err := u.s.r.QueryContext(ctx, `SELECT username FROM users WHERE domain = ? ORDER BY username`, domain)
	if err != nil {
		return nil, wrap(err, "list users of %s", domain)
	}
	names, err := scanStrings(rows)
	return names, wrap(err, "list users of %s", domain)
}

func (u users) CountUsers(ctx context.Context, domain string) (int, error) {
	var n int
	err := u.s.r.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE domain = ?`, domain).Scan(&n)
	return n, wrap(err, "count users of %s", domain)
}

func scanStrings(rows *sql.Rows) ([]string, error) {
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}
