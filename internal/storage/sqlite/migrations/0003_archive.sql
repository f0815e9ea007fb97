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

-- Partial indexes: the offline archive (the append path of every stored
-- message) has one index keyed by (owner, id) alone, as the offline table
-- had; the other archives have theirs. Queries repeat the WHERE terms
-- (internal/storage/schema, Scope) to use them. Time ranges and age
-- retention are indexed for the other archives only: the offline archive
-- is bounded by its quota and never queried by time.
CREATE INDEX archive_offline ON archive (owner, id) WHERE archive = 'offline';
CREATE INDEX archive_owner_id ON archive (owner, archive, id) WHERE archive <> 'offline';
CREATE INDEX archive_owner_at ON archive (owner, archive, at) WHERE archive <> 'offline';
CREATE INDEX archive_expire ON archive (archive, at) WHERE archive <> 'offline';
