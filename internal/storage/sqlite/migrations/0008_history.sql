-- The archives that page by time (MAM, issue 16) move to a table of
-- chunks: one row holds the entries of one owner and peer written in one
-- batch (internal/storage/schema/history.go). A row of one entry holds its
-- payload as it is, so the rows MAM wrote to the archive table move here
-- unchanged.
CREATE TABLE history (
	id       INTEGER PRIMARY KEY,
	owner    TEXT    NOT NULL,
	archive  TEXT    NOT NULL,
	peer     TEXT    NOT NULL,
	first_at INTEGER NOT NULL,
	last_at  INTEGER NOT NULL,
	n        INTEGER NOT NULL,
	entries  BLOB    NOT NULL
);
CREATE INDEX history_owner ON history (owner, archive, first_at);
CREATE INDEX history_peer ON history (owner, archive, peer, first_at);
CREATE INDEX history_expire ON history (archive, last_at);
INSERT INTO history (owner, archive, peer, first_at, last_at, n, entries)
	SELECT owner, archive, peer, at, at, 1, payload FROM archive WHERE archive = 'mam' ORDER BY at, id;
DELETE FROM archive WHERE archive = 'mam';
