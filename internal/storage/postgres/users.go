package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/storage/schema"
)

type users struct{ s *Store }

const userColumns = `domain, username,
	sha1_salt, sha1_iters, sha1_stored, sha1_server,
	sha256_salt, sha256_iters, sha256_stored, sha256_server,
	sha512_salt, sha512_iters, sha512_stored, sha512_server, created`

func credArgs(u storage.User) []any {
	var a []any
	for _, c := range []storage.ScramCredential{u.SHA1, u.SHA256, u.SHA512} {
		a = append(a, nonNil(c.Salt), c.Iters, nonNil(c.StoredKey), nonNil(c.ServerKey))
	}
	return a
}

func (u users) CreateUser(ctx context.Context, usr storage.User) error {
	if usr.Created.IsZero() {
		usr.Created = time.Now()
	}
	args := append([]any{usr.Domain, usr.Username}, credArgs(usr)...)
	args = append(args, usr.Created.UTC())
	tag, err := u.s.pool.Exec(ctx, `INSERT INTO users (`+userColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)
		ON CONFLICT (domain, username) DO NOTHING`, args...)
	if err != nil {
		return wrap(err, "create user %s@%s", usr.Username, usr.Domain)
	}
	if tag.RowsAffected() == 0 {
		return storage.ErrConflict
	}
	return nil
}

func (u users) GetUser(ctx context.Context, domain, username string) (storage.User, error) {
	var usr storage.User
	err := u.s.pool.QueryRow(ctx, `SELECT `+userColumns+` FROM users WHERE domain = $1 AND username = $2`,
		domain, username).Scan(&usr.Domain, &usr.Username,
		&usr.SHA1.Salt, &usr.SHA1.Iters, &usr.SHA1.StoredKey, &usr.SHA1.ServerKey,
		&usr.SHA256.Salt, &usr.SHA256.Iters, &usr.SHA256.StoredKey, &usr.SHA256.ServerKey,
		&usr.SHA512.Salt, &usr.SHA512.Iters, &usr.SHA512.StoredKey, &usr.SHA512.ServerKey, &usr.Created)
	if notFound(err) {
		return storage.User{}, storage.ErrNotFound
	}
	if err != nil {
		return storage.User{}, wrap(err, "get user %s@%s", username, domain)
	}
	usr.Created = usr.Created.UTC()
	return usr, nil
}

func (u users) SetCredentials(ctx context.Context, usr storage.User) error {
	args := append(credArgs(usr), usr.Domain, usr.Username)
	tag, err := u.s.pool.Exec(ctx, `UPDATE users SET
		sha1_salt = $1, sha1_iters = $2, sha1_stored = $3, sha1_server = $4,
		sha256_salt = $5, sha256_iters = $6, sha256_stored = $7, sha256_server = $8,
		sha512_salt = $9, sha512_iters = $10, sha512_stored = $11, sha512_server = $12
		WHERE domain = $13 AND username = $14`, args...)
	if err != nil {
		return wrap(err, "set credentials of %s@%s", usr.Username, usr.Domain)
	}
	if tag.RowsAffected() == 0 {
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

// deleteOwner wipes every table of schema.OwnerTables (roster_groups
// first: it references roster_items).
var deleteOwner = schema.DeleteOwner(dialect)

// DeleteUser wipes the account and every aggregate of its bare JID in one
// transaction. If there was no account it returns ErrNotFound, after
// wiping any data left under that bare JID all the same.
func (u users) DeleteUser(ctx context.Context, domain, username string) error {
	owner := ownerOf(domain, username)
	var existed bool
	err := u.s.inSnapshot(ctx, "delete user "+owner, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		b.Queue(`DELETE FROM users WHERE domain = $1 AND username = $2`, domain, username).
			Exec(func(tag pgconn.CommandTag) error { existed = tag.RowsAffected() > 0; return nil })
		for _, q := range deleteOwner {
			b.Queue(q.SQL, q.Args(owner)...)
		}
		return tx.SendBatch(ctx, b).Close()
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
	rows, _ := u.s.pool.Query(ctx, `SELECT username FROM users WHERE domain = $1 ORDER BY username`, domain)
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, wrap(err, "list users of %s", domain)
	}
	return names, nil
}

func (u users) CountUsers(ctx context.Context, domain string) (int, error) {
	var n int
	err := u.s.pool.QueryRow(ctx, `SELECT count(*) FROM users WHERE domain = $1`, domain).Scan(&n)
	return n, wrap(err, "count users of %s", domain)
}
