-- Archive entries by peer (issue 15): a Direct message awaiting its
-- notification is found by (sender, recipient, Message-ID) among all that a
-- domain has pending, and MAM's "with" filter (issue 16) reads one
-- conversation of a large archive. Not on the offline archive, whose
-- appends keep their one index.
CREATE INDEX archive_owner_peer ON archive (owner, archive, peer, id) WHERE archive <> 'offline';
