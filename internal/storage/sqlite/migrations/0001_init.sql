-- tern schema v1. One schema for every virtual host: users carry a domain
-- column, every other table is keyed by the owner's bare JID (which holds
-- the domain). Times are UTC unix nanoseconds. WITHOUT ROWID tables keep
-- rows clustered by their lookup key.

CREATE TABLE users (
	domain        TEXT    NOT NULL,
	username      TEXT    NOT NULL,
	sha1_salt     BLOB    NOT NULL,
	sha1_iters    INTEGER NOT NULL,
	sha1_stored   BLOB    NOT NULL,
	sha1_server   BLOB    NOT NULL,
	sha256_salt   BLOB    NOT NULL,
	sha256_iters  INTEGER NOT NULL,
	sha256_stored BLOB    NOT NULL,
	sha256_server BLOB    NOT NULL,
	sha512_salt   BLOB    NOT NULL,
	sha512_iters  INTEGER NOT NULL,
	sha512_stored BLOB    NOT NULL,
	sha512_server BLOB    NOT NULL,
	created       INTEGER NOT NULL,
	PRIMARY KEY (domain, username)
) WITHOUT ROWID;

-- One counter for every roster version: a re-registered account never
-- repeats a version a stale client may have cached.
CREATE TABLE roster_seq (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	value INTEGER NOT NULL
);
INSERT INTO roster_seq (id, value) VALUES (1, 0);

CREATE TABLE roster_versions (
	owner TEXT    NOT NULL PRIMARY KEY,
	ver   INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE roster_items (
	owner        TEXT    NOT NULL,
	contact      TEXT    NOT NULL,
	name         TEXT    NOT NULL,
	subscription TEXT    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
	ask          INTEGER NOT NULL,
	approved     INTEGER NOT NULL,
	PRIMARY KEY (owner, contact)
) WITHOUT ROWID;

CREATE TABLE roster_groups (
	owner   TEXT NOT NULL,
	contact TEXT NOT NULL,
	grp     TEXT NOT NULL,
	PRIMARY KEY (owner, contact, grp),
	FOREIGN KEY (owner, contact) REFERENCES roster_items (owner, contact) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE pending_in (
	owner   TEXT NOT NULL,
	contact TEXT NOT NULL,
	stanza  TEXT NOT NULL,
	PRIMARY KEY (owner, contact)
) WITHOUT ROWID;

-- A plain rowid (no AUTOINCREMENT, which costs a sqlite_sequence write per
-- message): a new id is above every existing one, and the fetched message
-- with id upTo exists until Delete(upTo), so a later message can never
-- fall under that Delete.
CREATE TABLE offline (
	id     INTEGER PRIMARY KEY,
	owner  TEXT    NOT NULL,
	stanza BLOB    NOT NULL,
	stored INTEGER NOT NULL
);
CREATE INDEX offline_owner_id ON offline (owner, id);

CREATE TABLE vcards (
	owner TEXT NOT NULL PRIMARY KEY,
	vcard BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE blocklist (
	owner TEXT NOT NULL,
	jid   TEXT NOT NULL,
	PRIMARY KEY (owner, jid)
) WITHOUT ROWID;

CREATE TABLE last_activity (
	owner  TEXT    NOT NULL PRIMARY KEY,
	at     INTEGER NOT NULL,
	status TEXT    NOT NULL
) WITHOUT ROWID;
