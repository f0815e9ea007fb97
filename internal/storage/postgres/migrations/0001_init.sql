-- tern schema v1 for PostgreSQL, the same tables as the SQLite backend.
-- Text compared or sorted uses COLLATE "C" (byte order), so results sort
-- as Go sorts strings whatever the database's locale. Unqualified names:
-- the tables go in the first schema of search_path.

CREATE TABLE users (
	domain        text COLLATE "C" NOT NULL,
	username      text COLLATE "C" NOT NULL,
	sha1_salt     bytea   NOT NULL,
	sha1_iters    integer NOT NULL,
	sha1_stored   bytea   NOT NULL,
	sha1_server   bytea   NOT NULL,
	sha256_salt   bytea   NOT NULL,
	sha256_iters  integer NOT NULL,
	sha256_stored bytea   NOT NULL,
	sha256_server bytea   NOT NULL,
	sha512_salt   bytea   NOT NULL,
	sha512_iters  integer NOT NULL,
	sha512_stored bytea   NOT NULL,
	sha512_server bytea   NOT NULL,
	created       timestamptz NOT NULL,
	PRIMARY KEY (domain, username)
);

-- One sequence for every roster version: a re-registered account never
-- repeats a version a stale client may have cached.
CREATE SEQUENCE roster_version_seq;

CREATE TABLE roster_versions (
	owner text COLLATE "C" PRIMARY KEY,
	ver   bigint NOT NULL
);

CREATE TABLE roster_items (
	owner        text COLLATE "C" NOT NULL,
	contact      text COLLATE "C" NOT NULL,
	name         text    NOT NULL,
	subscription text    NOT NULL CHECK (subscription IN ('none', 'to', 'from', 'both')),
	ask          boolean NOT NULL,
	approved     boolean NOT NULL,
	PRIMARY KEY (owner, contact)
);

CREATE TABLE roster_groups (
	owner   text COLLATE "C" NOT NULL,
	contact text COLLATE "C" NOT NULL,
	grp     text COLLATE "C" NOT NULL,
	PRIMARY KEY (owner, contact, grp),
	FOREIGN KEY (owner, contact) REFERENCES roster_items (owner, contact) ON DELETE CASCADE
);

CREATE TABLE pending_in (
	owner   text COLLATE "C" NOT NULL,
	contact text COLLATE "C" NOT NULL,
	stanza  text NOT NULL,
	PRIMARY KEY (owner, contact)
);

-- Ids of one owner are assigned in commit order (Store takes a per-owner
-- lock), so Delete(upTo) after a Fetch never removes a message that
-- arrived later.
CREATE TABLE offline (
	id     bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	owner  text COLLATE "C" NOT NULL,
	stanza bytea NOT NULL,
	stored timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX offline_owner_id ON offline (owner, id);

CREATE TABLE vcards (
	owner text COLLATE "C" PRIMARY KEY,
	vcard bytea NOT NULL
);

CREATE TABLE blocklist (
	owner text COLLATE "C" NOT NULL,
	jid   text COLLATE "C" NOT NULL,
	PRIMARY KEY (owner, jid)
);

CREATE TABLE last_activity (
	owner  text COLLATE "C" PRIMARY KEY,
	at     timestamptz NOT NULL,
	status text NOT NULL
);
