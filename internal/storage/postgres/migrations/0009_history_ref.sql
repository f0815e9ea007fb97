-- A message between two local users is archived once for both (issue 16):
-- the sender's row holds the entries, the recipient's row names it in ref
-- (its own entries empty). Before rows go (account deletion, retention),
-- the rows that refer to them get their own copy.
ALTER TABLE history ADD COLUMN ref bigint;
CREATE INDEX history_ref ON history (ref) WHERE ref IS NOT NULL;
