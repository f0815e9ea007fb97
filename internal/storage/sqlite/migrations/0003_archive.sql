-- One archive for every ordered per-owner log (offline messages now; MAM,
-- MUC history, the Direct audit trail later). The rows of offline move
-- into the "offline" archive with their ids, so their order and stored
-- times are kept. A plain rowid (no AUTOINCREMENT, which costs a
-- sqlite_sequence write per append): a new id is above every existing
-- one, so DeleteUpTo(last id fetched) never drops a later entry. The
-- statements on this table are in internal/storage/schema.

CREATE TABLE archive (
	id      INTEGER PRIMARY KEY,
	owner   TEXT    NOT NULL,
	archive TEXT    NOT NULL,
	at      INTEGER NOT NULL,
	peer    TEXT    NOT NULL,
	payload BLOB    NOT NULL
);

INSERT INTO archive (id, owner, archive, at, peer, payload)
	SELECT id, owner, 'offline', stored, '', stanza FROM offline ORDER BY id;
DROP TABLE offline;

CREATE INDEX archive_owner_id ON archive (owner, archive, id);
-- Time ranges and age retention need indexes on at; the offline archive,
-- bounded by its quota and never queried by time, is left out of them so
-- that they cost its appends nothing (schema.NotOffline names the term
-- queries repeat to use them).
CREATE INDEX archive_owner_at ON archive (owner, archive, at) WHERE archive <> 'offline';
CREATE INDEX archive_expire ON archive (archive, at) WHERE archive <> 'offline';
