-- The message monitor (TIM+, XEP-0079 deliver notices): one row per
-- outgoing message and recipient awaiting a notice, so tracking survives
-- restarts and kill -9. Times are UTC unix nanoseconds. The statements
-- on this table are in internal/storage/schema (tracking.go).

CREATE TABLE tracking (
	owner     TEXT    NOT NULL,
	id        TEXT    NOT NULL,
	recipient TEXT    NOT NULL,
	sender    TEXT    NOT NULL,
	deadline  INTEGER NOT NULL,
	PRIMARY KEY (owner, id, recipient)
) WITHOUT ROWID;

CREATE INDEX tracking_deadline ON tracking (deadline);
