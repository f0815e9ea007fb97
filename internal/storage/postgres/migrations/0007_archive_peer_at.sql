-- MAM pages by time (issue 16): its entries are named by their times and
-- written behind the messages, so a conversation ("with") is read in time
-- order. This index replaces the (peer, id) one: the Direct lookups that
-- used it match a peer and a key among a handful of rows, in any order.
DROP INDEX archive_owner_peer;
CREATE INDEX archive_owner_peer_at ON archive (owner, archive, peer, at) WHERE archive <> 'offline';
