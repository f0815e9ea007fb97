package storage

import (
	"context"
	"errors"
	"time"
)

// Errors every backend returns for the same conditions, so features can map
// them to stanza errors without knowing the backend.
var (
	ErrNotFound      = errors.New("storage: not found")
	ErrConflict      = errors.New("storage: already exists")
	ErrQuotaExceeded = errors.New("storage: quota exceeded")
	// ErrTooBroad: a query with Match would read more than MaxMatchScan entries.
	ErrTooBroad = errors.New("storage: the query reads too much of the archive")
)

// Store is one backend: an aggregate per feature. A new aggregate (Direct
// trust anchors, audit trail...) is a new interface here and a new method.
type Store interface {
	Users() Users
	Roster() Roster
	Offline() Offline
	VCards() VCards
	Blocking() Blocking
	LastActivity() LastActivity
	PrivateXML() PrivateXML
	// Archive holds every time-ordered per-owner log (offline messages,
	// later MAM, MUC history, the Direct audit trail).
	Archive() Archive
	// History holds the archives that page by time (MAM), written by a
	// Writer.
	History() History
	// Tracking holds the message monitor's pending delivery notices.
	Tracking() Tracking
	// DirectCerts holds the certificates of local Direct addresses.
	DirectCerts() DirectCerts
	// Ping checks the backend is reachable (tern check, readiness).
	Ping(ctx context.Context) error
	Close() error
}

// ScramCredential is what SCRAM needs to verify a client and prove the
// server (RFC 5802 §3): never the password nor the salted password.
type ScramCredential struct {
	Salt      []byte
	Iters     int
	StoredKey []byte
	ServerKey []byte
}

// User is one account. Username is the PRECIS-enforced localpart, Domain the
// vhost. Every hash the server advertises has a credential (SHA-1, SHA-256,
// SHA-512): a missing one would make that mechanism fail for this account.
type User struct {
	Domain   string
	Username string
	SHA1     ScramCredential
	SHA256   ScramCredential
	SHA512   ScramCredential
	Created  time.Time
}

// Users holds accounts.
type Users interface {
	// CreateUser returns ErrConflict if the account exists.
	CreateUser(ctx context.Context, u User) error
	// GetUser returns ErrNotFound if there is no such account.
	GetUser(ctx context.Context, domain, username string) (User, error)
	// SetCredentials replaces the credentials (password change); ErrNotFound if absent.
	SetCredentials(ctx context.Context, u User) error
	// DeleteUser removes the account and everything it owns in every
	// aggregate (roster, pending, archive, vCard, blocking, last activity,
	// private XML, tracked messages), in one transaction, so a re-registered name inherits
	// nothing.
	DeleteUser(ctx context.Context, domain, username string) error
	// ListUsers returns the usernames of a domain, sorted.
	ListUsers(ctx context.Context, domain string) ([]string, error)
	// CountUsers returns the number of accounts of a domain.
	CountUsers(ctx context.Context, domain string) (int, error)
}

// Subscription states of RFC 6121 §2.1.2.5.
const (
	SubNone = "none"
	SubTo   = "to"
	SubFrom = "from"
	SubBoth = "both"
)

// RosterItem is one contact of a user's roster (RFC 6121 §2.1). Owner and
// Contact are bare JIDs.
type RosterItem struct {
	Contact      string
	Name         string
	Subscription string   // none | to | from | both
	Ask          bool     // pending out: we sent subscribe, no answer yet
	Approved     bool     // pre-approved (RFC 6121 §3.4)
	Groups       []string // sorted, unique
}

// PendingIn is an inbound subscription request not yet answered (RFC 6121
// §3.1.3), kept outside the roster so a stranger's request does not create
// a visible roster item. Stanza is the serialized subscribe presence, for
// redelivery at the next login.
type PendingIn struct {
	Contact string
	Stanza  string
}

// Roster holds rosters with a per-owner version counter (XEP-0237 style):
// every write returns the new version, rendered as a decimal string.
// Items are returned sorted by contact (byte order). What Items and Item
// return may be shared with a cache (package cache): callers must not
// modify it (Groups included).
type Roster interface {
	Items(ctx context.Context, owner string) (items []RosterItem, ver string, err error)
	Item(ctx context.Context, owner, contact string) (RosterItem, error) // ErrNotFound
	// PutItem inserts or replaces the item and returns the new version.
	// It returns ErrQuotaExceeded if inserting would pass maxItems (0: no limit).
	PutItem(ctx context.Context, owner string, item RosterItem, maxItems int) (ver string, err error)
	// DeleteItem removes the item (ErrNotFound if absent) and returns the new version.
	DeleteItem(ctx context.Context, owner, contact string) (ver string, err error)
	Version(ctx context.Context, owner string) (string, error)

	AddPendingIn(ctx context.Context, owner string, p PendingIn) error // replaces an existing one
	RemovePendingIn(ctx context.Context, owner, contact string) error  // no error if absent
	PendingIns(ctx context.Context, owner string) ([]PendingIn, error)
	HasPendingIn(ctx context.Context, owner, contact string) (bool, error)
}

// OfflineMessage is one stored message (XEP-0160), serialized as sent to
// the user (with its delay element already added).
type OfflineMessage struct {
	ID     int64
	Stanza []byte
	Stored time.Time
}

// Offline holds messages for users who are not online. Store returns only
// once the message is durable (it survives kill -9).
type Offline interface {
	// Store appends a message; ErrQuotaExceeded if the owner already has quota messages (0: no limit).
	Store(ctx context.Context, owner string, stanza []byte, quota int) error
	// Fetch returns up to limit (0: all) messages in arrival order.
	Fetch(ctx context.Context, owner string, limit int) ([]OfflineMessage, error)
	// Delete removes the owner's messages with ID <= upTo (after delivery).
	Delete(ctx context.Context, owner string, upTo int64) error
	Count(ctx context.Context, owner string) (int, error)
}

// VCards holds vcard-temp (XEP-0054) documents, serialized.
type VCards interface {
	GetVCard(ctx context.Context, owner string) ([]byte, error) // ErrNotFound
	SetVCard(ctx context.Context, owner string, vcard []byte) error
}

// Blocking holds block lists (XEP-0191) of JIDs as the user gave them
// (bare, full or domain JIDs).
type Blocking interface {
	// BlockList returns the list, sorted. The slice may be shared with a
	// cache (package cache): callers must not modify it.
	BlockList(ctx context.Context, owner string) ([]string, error)
	Block(ctx context.Context, owner string, jids []string) error
	// Unblock removes the given JIDs, or every JID when jids is empty.
	Unblock(ctx context.Context, owner string, jids []string) error
}

// LastActivity records when an account last went offline (XEP-0012).
type LastActivity interface {
	SetLast(ctx context.Context, owner string, at time.Time, status string) error
	GetLast(ctx context.Context, owner string) (at time.Time, status string, err error) // ErrNotFound
}

// PrivateXML holds private XML storage (XEP-0049): per owner, one
// serialized fragment per namespace, opaque to the backend.
type PrivateXML interface {
	GetPrivate(ctx context.Context, owner, ns string) ([]byte, error) // ErrNotFound
	// SetPrivate stores or replaces the fragment of ns. It returns
	// ErrQuotaExceeded if the owner would then hold more than maxNamespaces
	// namespaces or more than maxBytes bytes in all (0: no limit).
	SetPrivate(ctx context.Context, owner, ns string, data []byte, maxNamespaces, maxBytes int) error
	// RemovePrivate drops the fragment of ns; no error if there is none.
	RemovePrivate(ctx context.Context, owner, ns string) error
}

// Archive names in use. An archive is a separate ordered log per owner;
// the name only scopes quota, queries and retention.
const (
	ArchiveOffline = "offline" // XEP-0160 messages awaiting delivery
)

// Entry is one archived item.
type Entry struct {
	// Owner is whose log this is: a bare user JID or a room JID.
	Owner string
	// Archive names the log ("offline", "mam", "muc"...).
	Archive string
	// ID is assigned by Append: opaque (see EncodeID), stable, and ordered
	// within an owner's archive in append (commit) order.
	ID string
	// Time is when the entry was archived; zero in Append means now. The
	// backend keeps at least microseconds.
	Time time.Time
	// Peer is the bare JID of the other party, for "with" filters; may be
	// empty.
	Peer string
	// Payload is opaque to the backend (a serialized stanza).
	Payload []byte
	// Mirror (History.Write only): the entry is in Peer's archive too,
	// with Owner as its peer: a message between two local users, stored
	// once for both (the two archives read the same bytes; deleting one
	// side keeps the other's).
	Mirror bool
}

// Query selects a page of one owner's archive. Zero fields do not filter.
type Query struct {
	// Start and End bound Time, both inclusive (XEP-0313 start/end).
	Start, End time.Time
	// AfterID and BeforeID bound ID, both exclusive (RSM after/before).
	AfterID, BeforeID string
	// Peer keeps only entries whose Peer equals it.
	Peer string
	// Max is the page size (0: no limit).
	Max int
	// Last pages from the end: the page is the last Max matching entries
	// rather than the first (RSM <before/>, possibly with BeforeID).
	Last bool
	// IDs keeps only the entries with these ids (XEP-0313 "ids"; at most
	// MaxQueryIDs); a malformed id is ErrNotFound.
	IDs []string
	// Offset skips that many matching entries in the paging direction
	// (RSM <index/>).
	Offset int
	// CountOnly returns no entries, only Page.Count: how many match (every
	// term but Max, Offset and Last).
	CountOnly bool
	// ByTime orders the entries by Time (then ID) rather than by ID: for
	// archives whose writer gives every entry of an owner a time of its
	// own and names it by that time (TimeID), written behind the stanzas
	// they record (Writer) and so not in commit order.
	ByTime bool
	// Times keeps only the entries with one of these times (at most
	// MaxQueryIDs): the "ids" of an archive named by TimeID.
	Times []time.Time
	// Match, if set, keeps only the entries it accepts, before Offset and
	// Max (a filter on the payload: MAM's 'with' a full JID). Only
	// History queries take it; CountOnly does not (a count would read
	// every entry).
	Match func(Entry) bool
}

// MaxMatchScan bounds the entries a query with Match reads.
const MaxMatchScan = 20000

// MaxQueryIDs bounds Query.IDs.
const MaxQueryIDs = 100

// Page is the result of a Query. Entries are always in ascending order (ID,
// or Time for ByTime), whichever end Last paged from.
type Page struct {
	Entries []Entry
	// Complete reports that no further matching entry lies beyond the
	// page in the paging direction (after it, or before it with Last):
	// XEP-0313's complete='true'.
	Complete bool
	// Count is set by a CountOnly query.
	Count int
}

// Retention is what Expire removes from one archive, across owners.
type Retention struct {
	// Before removes entries with Time before it (zero: no age limit).
	Before time.Time
	// KeepPerOwner removes, per owner, all but the newest KeepPerOwner
	// entries (0: no count limit).
	KeepPerOwner int
}

// Archive is the one store of ordered per-owner logs. Ids are opaque: a
// malformed id given back returns ErrNotFound; a well-formed id of an entry
// that is gone still orders (paging after a deleted entry works).
type Archive interface {
	// Append stores e (e.ID is ignored) once it is durable and returns its
	// id. An id is above every id of the owner's archive committed before
	// it, so DeleteUpTo(last id fetched) never removes a later entry. It
	// returns ErrQuotaExceeded if the owner's archive already holds quota
	// entries (0: no limit).
	Append(ctx context.Context, e Entry, quota int) (id string, err error)
	// Query returns a page of owner's archive.
	Query(ctx context.Context, owner, archive string, q Query) (Page, error)
	// Count returns how many entries owner's archive holds.
	Count(ctx context.Context, owner, archive string) (int, error)
	// Delete removes the entries with the given ids (absent ones are
	// ignored).
	Delete(ctx context.Context, owner, archive string, ids []string) error
	// DeleteUpTo removes owner's entries with an id at or below upTo.
	DeleteUpTo(ctx context.Context, owner, archive, upTo string) error
	// DeleteOwner removes owner's entries of archive, or of every archive
	// when archive is "" (a destroyed room, a deleted account).
	DeleteOwner(ctx context.Context, owner, archive string) error
	// Expire applies r to archive for every owner and returns how many
	// entries it removed.
	Expire(ctx context.Context, archive string, r Retention) (int64, error)
}

// History holds per-owner archives whose entries are named by their
// times (TimeID), unique per owner: MAM's user and room archives. Entries
// are stored in chunks (many per row under load), so that archiving costs
// 1:1 messaging little; a Writer feeds Write.
type History interface {
	// Write stores the entries (Time set, in time order per owner) in one
	// transaction and returns once they are durable.
	Write(ctx context.Context, entries []Entry) error
	// Query returns a page (Start, End, Peer, Times, Max, Last, Offset,
	// CountOnly; not the id terms) in time order; the entries' ID is
	// TimeID of their Time.
	Query(ctx context.Context, owner, archive string, q Query) (Page, error)
	// DeleteOwner removes owner's entries of archive ("" for all).
	DeleteOwner(ctx context.Context, owner, archive string) error
	// Latest returns the time of the newest entry of archive, any owner
	// (zero if none): a Writer's clock starts above it.
	Latest(ctx context.Context, archive string) (time.Time, error)
	// Expire applies r to archive for every owner (KeepPerOwner keeps at
	// least that many, whole chunks) and returns how many chunks it
	// removed.
	Expire(ctx context.Context, archive string, r Retention) (int64, error)
}

// DirectCert is a certificate of a local Direct address (address-bound)
// or domain (domain-bound: Address is the domain), published by DNS and
// peer introduction, with its private key sealed by the server (nil when
// only the certificate is held).
type DirectCert struct {
	Address string // nurse@b.example, or b.example
	SHA256  string // hex of the DER: the certificate's key in the table
	DER     []byte
	Key     []byte // sealed private key, or nil
	Added   time.Time
}

// DirectCerts holds DirectCert rows. The owner of an address's rows is
// the address (deleted with the account); a domain's have the domain.
type DirectCerts interface {
	// PutCert adds or replaces (same Address and SHA256) a certificate.
	PutCert(ctx context.Context, c DirectCert) error
	// Certs lists an address's (or domain's) certificates, oldest first.
	Certs(ctx context.Context, address string) ([]DirectCert, error)
	// DomainCerts lists every certificate of a domain and its addresses.
	DomainCerts(ctx context.Context, domain string) ([]DirectCert, error)
	// RemoveCert deletes an address's certificates whose SHA256 starts
	// with prefix ("" = all) and reports how many.
	RemoveCert(ctx context.Context, address, prefix string) (int, error)
}
