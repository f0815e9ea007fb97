// Package roster implements rosters and presence subscriptions (RFC 6121).
//
// subscription.go is the pure core: the subscription state machine of one
// contact in one user's roster, as the user's server sees it. It does no I/O;
// the roster and presence handlers load a State, call Outbound (the user sent
// a subscription stanza) or Inbound (the contact sent one), store Outcome.Next
// and carry out the Outcome's actions.
//
// Spec sections implemented:
//   - RFC 6121 Appendix A.1: the nine defined subscription states, plus the
//     two facts the tables leave implicit: whether a roster item exists
//     (§2.1.2.5 / A.1 item 3: an inbound request alone creates no item) and
//     the 'approved' pre-approval flag (§2.1.2.1).
//   - Appendix A.2 (Tables 2-5) and §3.1.2, §3.1.5, §3.2.2, §3.3.2: outbound
//     subscribe, subscribed, unsubscribe and unsubscribed.
//   - Appendix A.3 (Tables 6-9) and §3.1.3, §3.1.6, §3.2.3, §3.3.3: inbound
//     ones, including the automatic replies of Table 6 [2] and Table 7 [1].
//   - §3.4: subscription pre-approval (supported; advertise the "sub" stream
//     feature urn:xmpp:features:pre-approval).
//   - §2.5.2: which stanzas removing a roster item sends (Remove).
//   - §4.3.2: who is answered a probe with presence (State.CanSeePresence).
//
// Choices where the RFC leaves room, each argued where it is coded:
//   - An inbound unsubscribe that only withdraws a pending request is
//     delivered (Table 7) but not answered with "unsubscribed" (§3.3.3 asks
//     for the reply only when a subscription ends; elsewhere it can only
//     deny a newer request crossing it).
//   - The tables keep both servers in agreement when exchanges do not cross.
//     When they do, no stateless rule can (there is no correlation between
//     a request and its answer): a redundant subscribe crossing a
//     cancellation leaves an orphan pending-in whose later approval gives
//     one side "from" while the other has no "to". What holds always is
//     that no server believes it has "to" unless the other granted "from",
//     and only the user's own "subscribed" ever grants "from".
//   - A pre-approval is consumed by the subscribe it answers (§3.4 leaves the
//     record to local policy).
//   - A roster push is sent only when the item as a client sees it (exists,
//     subscription, ask, approved) changes: pending-in has no attribute in a
//     roster item, so a push for it alone would carry nothing.
//   - Unavailable presence goes only to a contact that was entitled to the
//     user's presence: sending it per resource to a mere requester would
//     leak which resources are online.
package roster
