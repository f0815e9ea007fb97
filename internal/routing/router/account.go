package router

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stream"
)

// EvAccountDeleting: an account is about to be deleted (Event.Account):
// features tell its contacts, drop what they cache. The data is still
// there; routing treats the account as absent from now on.
const EvAccountDeleting = "account/deleting"

// RemoveAccount deletes a local account's data after EvAccountDeleting.
// From then on the router treats the account as absent, so what its
// closing sessions hand back is not stored for a name a new account may
// take; the caller ends the sessions, then calls Deleted.
func (r *Router) RemoveAccount(ctx context.Context, owner jid.JID) error {
	// Synchronous: the hooks read what they need (the contacts) before the
	// data goes; what they route may follow the deletion.
	r.Fire(EvAccountDeleting, &Event{Ctx: ctx, Account: owner})
	r.Deleting(owner)
	// Writes queued behind its stanzas (archive entries) land before the
	// data goes, not after it, where a new account of the name would
	// find them.
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err := r.Sync(sctx)
	cancel()
	if err != nil && !errors.Is(err, storage.ErrLost) { // (given up: finished all the same)
		r.Deleted(owner)
		return fmt.Errorf("the account's pending archive writes did not finish: %w", err)
	}
	if err := r.users.DeleteUser(ctx, owner.Domain(), owner.Local()); err != nil {
		r.Deleted(owner)
		return err
	}
	return nil
}

// DeleteAccount removes an account for an administrator (`tern user del`
// through the control socket): its contacts are told, its data is
// deleted, and its sessions end with a <not-authorized/> stream error
// carrying why. It returns how many sessions it closed; storage.ErrNotFound
// when there is no such account.
func (r *Router) DeleteAccount(ctx context.Context, owner jid.JID, why string) (sessions int, err error) {
	if _, err := r.users.GetUser(ctx, owner.Domain(), owner.Local()); err != nil {
		return 0, err
	}
	if err := r.RemoveAccount(ctx, owner); err != nil {
		return 0, err
	}
	res := r.Resources(owner)
	for _, x := range res {
		x.Session.Close(stream.NewError("not-authorized", why))
	}
	r.Deleted(owner)
	r.log.Info("account deleted by an administrator", "jid", owner.String(), "sessions_closed", len(res))
	return len(res), nil
}
