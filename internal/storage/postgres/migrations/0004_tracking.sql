-- The message monitor (TIM+, XEP-0079 deliver notices): one row per
-- outgoing message and recipient awaiting a notice, so tracking survives
-- restarts and kill -9. The statements on this table are in
-- internal/storage/schema (tracking.go).

CREATE TABLE tracking (
	owner     text COLLATE "C" NOT NULL,
	id        text COLLATE "C" NOT NULL,
	recipient text COLLATE "C" NOT NULL,
	sender    text COLLATE "C" NOT NULL,
	deadline  timestamptz NOT NULL,
	PRIMARY KEY (owner, id, recipient)
);

CREATE INDEX tracking_deadline ON tracking (deadline);
