-- Certificates of local Direct addresses and domains (issue 14): published
-- by the DNS responder and peer introduction. Keys are sealed by the
-- server before they get here. The statements are in
-- internal/storage/schema (directcerts.go).

CREATE TABLE direct_certs (
	owner  text COLLATE "C" NOT NULL,
	domain text COLLATE "C" NOT NULL,
	sha256 text COLLATE "C" NOT NULL,
	der    bytea NOT NULL,
	sealed bytea,
	added  timestamptz NOT NULL,
	PRIMARY KEY (owner, sha256)
);

CREATE INDEX direct_certs_domain ON direct_certs (domain);
