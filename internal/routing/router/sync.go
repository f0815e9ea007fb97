package router

import (
	"context"
	"errors"
)

// Syncing: a module that writes behind the stanzas it sees (an archive
// writer) registers its flush with OnSync; Sync runs them all. The
// server calls it before it tells a client that what it sent is safe: a
// stream management acknowledgement, a ping's answer, an offline store,
// and at shutdown.

// OnSync registers fn, which returns once what the module wrote behind
// the stanzas routed so far is durable. Registered at start-up only.
func (r *Router) OnSync(fn func(ctx context.Context) error) { r.syncs = append(r.syncs, fn) }

// Sync waits for every module's writes behind the stanzas routed so far.
func (r *Router) Sync(ctx context.Context) error {
	var errs []error
	for _, fn := range r.syncs {
		errs = append(errs, fn(ctx))
	}
	return errors.Join(errs...)
}
