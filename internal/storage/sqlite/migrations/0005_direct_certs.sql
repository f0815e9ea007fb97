-- Certificates of local Direct addresses and domains (issue 14): published
-- by the DNS responder and peer introduction. Keys are sealed by the
-- server before they get here. Times are UTC unix nanoseconds. The
-- statements are in internal/storage/schema (directcerts.go).

CREATE TABLE direct_certs (
	owner  TEXT    NOT NULL,
	domain TEXT    NOT NULL,
	sha256 TEXT    NOT NULL,
	der    BLOB    NOT NULL,
	sealed BLOB,
	added  INTEGER NOT NULL,
	PRIMARY KEY (owner, sha256)
) WITHOUT ROWID;

CREATE INDEX direct_certs_domain ON direct_certs (domain);
