package discovery

import (
	"sync"
	"time"
)

// Cache keeps each source's answers (candidates or the failure) until
// they expire; the zero Cache is ready. At most MaxCached keys are kept:
// past that it starts afresh, which is crude but bounded (a burst of new
// addresses costs lookups, never memory).
type Cache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

// MaxCached bounds the keys of one Cache.
const MaxCached = 10000

// Answer is what a source said: candidates, or why it gave none.
type Answer struct {
	Cands []Candidate
	Err   error
}

type cacheEntry struct {
	Answer
	expires time.Time
}

// Get returns the answer kept for key, if it has not expired at now.
func (c *Cache) Get(key string, now time.Time) (Answer, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || !now.Before(e.expires) {
		return Answer{}, false
	}
	return e.Answer, true
}

// Put keeps an answer until expires.
func (c *Cache) Put(key string, a Answer, expires time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= MaxCached {
		c.m = map[string]cacheEntry{}
	}
	c.m[key] = cacheEntry{a, expires}
}
