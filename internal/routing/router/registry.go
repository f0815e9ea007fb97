package router

import (
	"sync"

	"github.com/tern-xmpp/tern/internal/wire/jid"
)

// registry maps bare JIDs to their bound resources. One lock: binds and
// unbinds are rare next to lookups, which take the read lock.
type registry struct {
	mu    sync.RWMutex
	users map[string][]*Resource // bare JID string -> resources
	count int
	// gone: accounts being deleted; they count as absent until their
	// last resource unbinds.
	gone map[string]bool
}

func newRegistry() *registry {
	return &registry{users: map[string][]*Resource{}, gone: map[string]bool{}}
}

// bind adds r, returning the resource it replaces (same full JID), if any.
func (g *registry) bind(r *Resource) (replaced *Resource) {
	bare := r.JID.Bare().String()
	g.mu.Lock()
	defer g.mu.Unlock()
	list := g.users[bare]
	for i, o := range list {
		if o.JID.Resource() == r.JID.Resource() {
			list[i] = r
			return o
		}
	}
	g.users[bare] = append(list, r)
	g.count++
	return nil
}

// unbind removes r if it is still the bound one.
func (g *registry) unbind(r *Resource) bool {
	bare := r.JID.Bare().String()
	g.mu.Lock()
	defer g.mu.Unlock()
	list := g.users[bare]
	for i, o := range list {
		if o == r {
			list = append(list[:i:i], list[i+1:]...)
			if len(list) == 0 {
				delete(g.users, bare)
				delete(g.gone, bare)
			} else {
				g.users[bare] = list
			}
			g.count--
			return true
		}
	}
	return false
}

// countOf is the number of the bare JID's resources (no snapshot to copy).
func (g *registry) countOf(bare jid.JID) int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.users[bare.Bare().String()])
}

// resourcesInto appends the bare JID's resources to buf: a caller that
// only iterates passes a stack array and allocates nothing.
func (g *registry) resourcesInto(buf []*Resource, bare jid.JID) []*Resource {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return append(buf, g.users[bare.Bare().String()]...)
}

// resources returns a snapshot of the bare JID's resources.
func (g *registry) resources(bare jid.JID) []*Resource {
	g.mu.RLock()
	defer g.mu.RUnlock()
	list := g.users[bare.Bare().String()]
	if len(list) == 0 {
		return nil
	}
	return append([]*Resource(nil), list...)
}

func (g *registry) resource(full jid.JID) *Resource {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, r := range g.users[full.Bare().String()] {
		if r.JID.Resource() == full.Resource() {
			return r
		}
	}
	return nil
}

func (g *registry) len() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.count
}

func (g *registry) all() []*Resource {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var out []*Resource
	for _, l := range g.users {
		out = append(out, l...)
	}
	return out
}

// setGone marks (or, once no resource is left, unmarks) an account being
// deleted.
func (g *registry) setGone(bare string, on bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if on {
		g.gone[bare] = true
	} else if len(g.users[bare]) == 0 {
		delete(g.gone, bare)
	}
}

func (g *registry) isGone(bare string) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.gone[bare]
}
