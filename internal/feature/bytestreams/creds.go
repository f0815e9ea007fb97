package bytestreams

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"sync"
	"time"
)

// CredentialTTL is how long a one-time credential may be used (TIM+: 60 s).
const CredentialTTL = 60 * time.Second

// credential is an issued subject/secret pair, kept hashed: a leak of the
// table gives no usable login.
type credential struct {
	secret  [sha256.Size]byte
	owner   string // the bare JID that asked for it
	expires time.Time
}

// creds issues and checks one-time RFC 1929 credentials: each is good for
// one login within CredentialTTL, and is spent by any login attempt with
// its subject, right or wrong (no guessing the secret over many tries).
type creds struct {
	now func() time.Time

	mu      sync.Mutex
	bySubj  map[[sha256.Size]byte]credential
	perUser map[string]int // outstanding credentials per owner
	max     int            // outstanding credentials in all
	pruned  time.Time      // last pruneLocked
}

func newCreds(now func() time.Time, max int) *creds {
	return &creds{now: now, bySubj: map[[sha256.Size]byte]credential{}, perUser: map[string]int{}, max: max}
}

// errCredLimit: too many credentials outstanding (per user or in all).
type credLimitError struct{ perUser bool }

func (e credLimitError) Error() string {
	if e.perUser {
		return "too many unused proxy credentials outstanding for this user; use or let them expire (60 s)"
	}
	return "too many unused proxy credentials outstanding on this server; try again in a minute"
}

// issue returns a fresh subject and secret for owner: 26 characters each
// from crypto/rand (base32, 130 bits). perUser bounds owner's outstanding ones.
func (c *creds) issue(owner string, perUser int) (subject, secret string, err error) {
	subject, secret = rand.Text(), rand.Text()
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pruneLocked(now)
	if perUser > 0 && c.perUser[owner] >= perUser {
		return "", "", credLimitError{perUser: true}
	}
	if c.max > 0 && len(c.bySubj) >= c.max {
		return "", "", credLimitError{}
	}
	c.bySubj[sha256.Sum256([]byte(subject))] = credential{secret: sha256.Sum256([]byte(secret)), owner: owner, expires: now.Add(CredentialTTL)}
	c.perUser[owner]++
	return subject, secret, nil
}

// credProblem says why a login failed, for the log (the client only gets
// RFC 1929's failure status).
type credProblem string

const (
	credOK      credProblem = ""
	credUnknown credProblem = "unknown or already used credential"
	credExpired credProblem = "expired credential (older than 60 s)"
	credWrong   credProblem = "wrong secret (the credential is now spent)"
)

// use spends the credential of subject and returns its owner if secret
// matches and it has not expired.
func (c *creds) use(subject, secret string) (owner string, problem credProblem) {
	key := sha256.Sum256([]byte(subject))
	got := sha256.Sum256([]byte(secret))
	now := c.now()
	c.mu.Lock()
	cr, ok := c.bySubj[key]
	if ok {
		delete(c.bySubj, key)
		c.release(cr.owner)
	}
	c.mu.Unlock()
	switch {
	case !ok:
		return "", credUnknown
	case subtle.ConstantTimeCompare(cr.secret[:], got[:]) != 1:
		return "", credWrong
	case !now.Before(cr.expires):
		return "", credExpired
	}
	return cr.owner, credOK
}

func (c *creds) release(owner string) {
	if c.perUser[owner] <= 1 {
		delete(c.perUser, owner)
	} else {
		c.perUser[owner]--
	}
}

// pruneLocked forgets expired credentials, at most once a second (or when
// the table is full), so the table holds about the last minute's and an
// issue costs no scan of it.
func (c *creds) pruneLocked(now time.Time) {
	if now.Sub(c.pruned) < time.Second && (c.max <= 0 || len(c.bySubj) < c.max) {
		return
	}
	c.pruned = now
	for k, cr := range c.bySubj {
		if !now.Before(cr.expires) {
			delete(c.bySubj, k)
			c.release(cr.owner)
		}
	}
}

func (c *creds) outstanding() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.bySubj)
}
