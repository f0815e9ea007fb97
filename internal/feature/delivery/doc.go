// Package delivery is delivery tracking for chat, as TIM+ (ANSI/DS
// 2019-02-100-2021, "Chat and delivery status", "Message monitor") does
// it with XEP-0079 Advanced Message Processing.
//
// Recipient side (XEP-0079 §3.3.1 condition deliver, §3.4.4 action
// notify): when a chat message with a <body/> reaches a local user, the
// recipient's server sends the sender's bare JID a notice,
//
//	<message from=orig.to id=orig.id to=sender-bare>
//	  <amp xmlns='http://jabber.org/protocol/amp' status='notify' to=orig.to-bare from=orig.from>
//	    <rule action='notify' condition='deliver' value='direct'/></amp></message>
//
// value direct when a session took it (router.EvMessageDelivered), stored
// when offline storage kept it (router.EvMessageStored). Chat-state-only
// messages, messages without a body or an id, errors and messages from a
// server get none. Groupchat: an occupant's copy (from room/nick) earns
// a notice to the room, which passes it on to the sender's real bare JID
// (internal/feature/muc, notice.go): one notice per occupant, as TIM+
// wants.
//
// Sender side (the TIM+ message monitor): every chat message with a body
// and an id that a local client sends to another user is tracked by
// (sender bare JID, id, recipient bare JID) in the database
// (storage.Tracking). One writer goroutine commits what waits at one
// moment (up to 1 ms, Module.Linger) in one transaction, so tracking
// survives restarts and kill -9:
//
//   - a message for a remote recipient is held (router.Held) until its
//     entry is committed: it never leaves the server untracked; the
//     notice or error that completes it waits for the completion too;
//   - a message for a local recipient goes on at once: its delivery and
//     its notice or error happen in this process, in the same routing
//     step, so its entry and the completion meet in one batch and
//     neither is written (a delete that finds nothing writes no page).
//     Only kill -9 within that millisecond loses such an entry, when the
//     outcome is lost with the process too. With notices off for the
//     recipient's domain the entry is written and times out as any.
//
// A notice or an error message from that recipient with that id completes
// the entry; at the deadline (timeout, default 1h) the sender gets a
// remote-server-timeout (wait) error from the recipient, once. A message
// without an id is not tracked: TIM+ correlates by id, and stamping one
// would change what the client sent (XEP-0079 §2.1.2 requires an id of
// messages carrying rules). The due entries are found by one scan on a
// timer (scan_interval), not a timer per message; the first scan at
// start-up sends what fell due while the server was down. Each user may
// have max_pending entries; past that a message goes untracked, which is
// logged and counted.
//
// Notices and errors for an offline sender: a notice is a normal message,
// which offline storage keeps as any other. An error message is not
// stored by the offline feature (RFC 6121 §8.5.2.1.1, XEP-0160); TIM+
// requires it: this module stores (or redirects to another available
// resource) the error messages that complete a tracked entry, and its own
// time-out errors, only. Every other error keeps RFC 6121 behaviour.
//
// Client rules (XEP-0079 §2.2.1): a message from a client with an <amp/>
// element is checked: malformed rules get bad-request with a text naming
// the problem; rules whose action is not notify get
// <unsupported-actions/>, whose condition is not deliver (with value
// direct or stored) <unsupported-conditions/>; supported rules pass on
// untouched (the deliver notices above answer them on domains where
// notify is on). Disco advertises the protocol, action=notify and
// condition=deliver (§2.1.1).
package delivery
