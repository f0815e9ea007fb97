-- History pages are read in (first_at, id) order. SQLite's indexes end in
-- the rowid, so they give that order; PostgreSQL's did not, and a page of
-- a large archive sorted every chunk of its owner (seconds for a million
-- entries). The indexes now end in id.
DROP INDEX history_owner;
DROP INDEX history_peer;
CREATE INDEX history_owner ON history (owner, archive, first_at, id);
CREATE INDEX history_peer ON history (owner, archive, peer, first_at, id);
