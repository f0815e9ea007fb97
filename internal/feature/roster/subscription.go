package roster

import "github.com/tern-xmpp/tern/internal/storage"

// State is the subscription state of one contact in one user's roster, as the
// user's server sees it (RFC 6121 A.1). The zero value is a contact the user
// has never dealt with.
type State struct {
	InRoster     bool   // a visible roster item exists (the user added it, or a subscription made it)
	Subscription string // storage.SubNone | SubTo | SubFrom | SubBoth; "" reads as none (§2.1.2.5 default)
	PendingOut   bool   // "ask": the user asked to subscribe to the contact, no answer yet
	PendingIn    bool   // the contact asked to subscribe to the user, the user has not answered
	PreApproved  bool   // the user pre-approved the contact's future request (§3.4)
}

// Kind is the presence type of a subscription stanza.
type Kind string

// The four subscription kinds (RFC 6121 §3).
const (
	KindSubscribe    Kind = "subscribe"
	KindSubscribed   Kind = "subscribed"
	KindUnsubscribe  Kind = "unsubscribe"
	KindUnsubscribed Kind = "unsubscribed"
)

// Valid reports whether k is one of the four subscription kinds.
func (k Kind) Valid() bool {
	switch k {
	case KindSubscribe, KindSubscribed, KindUnsubscribe, KindUnsubscribed:
		return true
	}
	return false
}

// Outcome says what the server must do after a subscription stanza, beyond
// storing Next. Carry the actions out in field order below (SendUnavailable
// first: §3.2.2 wants the unavailable sent while the contact is still
// subscribed; Route before Push: §3.1.6 and §3.3.3 deliver before pushing).
type Outcome struct {
	Next State
	// SendUnavailable: send unavailable from each available resource of the
	// user to the contact, who is losing its subscription (§3.2.2, §3.3.3).
	SendUnavailable bool
	// Route: outbound, stamp the user's bare JID and route the stanza to the
	// contact; inbound, deliver it to the user's available resources (for a
	// subscribe, also keep it pending for redelivery at login, §3.1.3).
	Route bool
	// Push: send a roster push of Next to the user's interested resources
	// (the item as a client sees it changed; never for an item not Visible).
	Push bool
	// AutoReply (inbound only): the server answers the contact itself, from
	// the user's bare JID, without asking the user; "" for none.
	AutoReply Kind
	// SendPresence: send the user's current presence from each available
	// resource to the contact, who just gained (or confirmed) a subscription
	// (§3.1.5; after an automatic "subscribed" too, so the contact does not
	// see the user offline until the next presence change).
	SendPresence bool
	// ProbeBack: after an inbound "subscribed" that gave the user a
	// subscription, probe the contact (§4.3.1). The contact's server should
	// send presence by itself (§3.1.5), but one answering from a pre-approval
	// need not; a probe costs one stanza, a missed presence shows the
	// contact offline until it next changes presence.
	ProbeBack bool
}

func (s State) to() bool { return s.Subscription == storage.SubTo || s.Subscription == storage.SubBoth }
func (s State) from() bool {
	return s.Subscription == storage.SubFrom || s.Subscription == storage.SubBoth
}

// CanSeePresence reports whether the contact is entitled to the user's
// presence: subscription from or both. It is the gate for broadcast presence
// and for answering a probe with presence (§4.3.2). A probe that fails it is
// answered "unsubscribed", but do NOT run that reply through Outbound: §4.3.2
// says it must not cancel a pre-approval.
func (s State) CanSeePresence() bool { return s.normalize().from() }

// ReceivesPresence reports whether the user is subscribed to the contact's
// presence: subscription to or both (whom the server probes, §4.3.1).
func (s State) ReceivesPresence() bool { return s.normalize().to() }

// Visible reports whether the item belongs in roster results and pushes.
// A "None + Pending In" state created only by an inbound request is not a
// roster item (A.1 item 3); the request is stored apart (storage.PendingIn).
func (s State) Visible() bool { return s.normalize().InRoster }

// normalize maps any stored combination onto one of the reachable states, so
// corrupt or hand-edited rows cannot grant more than they say: unknown
// subscriptions read as none, a flag that contradicts the subscription is
// dropped, and a pre-approval next to a pending request (which it would have
// answered) is dropped rather than honoured.
func (s State) normalize() State {
	switch s.Subscription {
	case storage.SubTo, storage.SubFrom, storage.SubBoth:
	default:
		s.Subscription = storage.SubNone
	}
	if s.to() {
		s.PendingOut = false // the user already has what "ask" asks for
	}
	if s.from() {
		s.PendingIn = false // the contact already has what it asks for
		s.PreApproved = false
	}
	if s.PendingIn {
		s.PreApproved = false
	}
	if s.Subscription != storage.SubNone || s.PendingOut || s.PreApproved {
		s.InRoster = true // each of these is an attribute of an item
	}
	return s
}

// itemView is the roster item as a client sees it (§2.1.2): pending-in has no
// attribute, so it is left out.
type itemView struct {
	exists        bool
	sub           string
	ask, approved bool
}

func (s State) view() itemView {
	if !s.InRoster {
		return itemView{}
	}
	return itemView{true, s.Subscription, s.PendingOut, s.PreApproved}
}

func addTo(sub string) string {
	if sub == storage.SubFrom || sub == storage.SubBoth {
		return storage.SubBoth
	}
	return storage.SubTo
}

func dropTo(sub string) string {
	if sub == storage.SubBoth || sub == storage.SubFrom {
		return storage.SubFrom
	}
	return storage.SubNone
}

func addFrom(sub string) string {
	if sub == storage.SubTo || sub == storage.SubBoth {
		return storage.SubBoth
	}
	return storage.SubFrom
}

func dropFrom(sub string) string {
	if sub == storage.SubBoth || sub == storage.SubTo {
		return storage.SubTo
	}
	return storage.SubNone
}

// finish fills Push from the change of the client-visible item.
func finish(prev State, o Outcome) Outcome {
	o.Push = o.Next.InRoster && o.Next.view() != prev.view()
	return o
}

// Outbound returns what the user's server does when the user sends k to the
// contact (RFC 6121 A.2). An invalid k changes nothing.
func Outbound(k Kind, s State) Outcome {
	s = s.normalize()
	n := s
	o := Outcome{}
	switch k {
	case KindSubscribe: // Table 2: always routed; sets ask unless already subscribed
		o.Route = true
		if !s.to() {
			n.PendingOut = true
		}
		n.InRoster = true // §3.1.2: the push carries the (new) item with ask
	case KindUnsubscribe: // Table 3: always routed; clears ask and "to"
		o.Route = true
		n.PendingOut = false
		n.Subscription = dropTo(s.Subscription)
	case KindSubscribed: // Table 4 and §3.4
		switch {
		case s.PendingIn: // approval of the pending request
			o.Route = true
			o.SendPresence = true // §3.1.5
			n.PendingIn = false
			n.Subscription = addFrom(s.Subscription)
			n.InRoster = true // approving is what creates the item (A.1 item 3)
		case !s.from(): // no request yet: pre-approval, MUST NOT route
			n.PreApproved = true
			n.InRoster = true // §3.4.2: create an item "None" if needed
		default: // already from/both: silently ignored
		}
	case KindUnsubscribed: // Table 5 and §3.2.2
		n.PreApproved = false // Table 5 [1]: cancels a pre-approval, never routed alone
		switch {
		case s.from(): // cancel the contact's subscription
			o.SendUnavailable = true
			o.Route = true
			n.Subscription = dropFrom(s.Subscription)
		case s.PendingIn: // deny the pending request
			o.Route = true
			n.PendingIn = false
		default: // S.N. route: nothing to cancel
		}
	default:
		return Outcome{Next: s}
	}
	o.Next = n
	return finish(s, o)
}

// Inbound returns what the user's server does when the contact sends k to the
// user (RFC 6121 A.3). An invalid k changes nothing.
func Inbound(k Kind, s State) Outcome {
	s = s.normalize()
	n := s
	o := Outcome{}
	switch k {
	case KindSubscribe: // Table 6 and §3.1.3
		switch {
		case s.from(): // Table 6 [2]: already subscribed, confirm, do not ask the user
			o.AutoReply = KindSubscribed
			o.SendPresence = true
		case s.PreApproved: // §3.4.2: MUST NOT deliver, answer for the user
			o.AutoReply = KindSubscribed
			o.SendPresence = true
			n.PreApproved = false // consumed
			n.Subscription = addFrom(s.Subscription)
		case s.PendingIn: // S.N. deliver: the user already has this request
		default: // the user must decide; no item is created (A.1 item 3)
			o.Route = true
			n.PendingIn = true
		}
	case KindUnsubscribe: // Table 7 and §3.3.3
		switch {
		case s.from():
			// The "unsubscribed" reply (Table 7 [1], SHOULD) is what keeps a
			// stale "subscribed" still in flight from leaving the contact
			// believing it is subscribed (TestTwoServersNeverOvergrant).
			o.Route = true
			o.AutoReply = KindUnsubscribed
			o.SendUnavailable = true
			n.Subscription = dropFrom(s.Subscription)
		case s.PendingIn:
			// The request is withdrawn: delivered (Table 7) so the client
			// drops the request it shows, but not answered. Table 7 [1]
			// would send "unsubscribed"; §3.3.3 asks for it only when a
			// subscription ends, and here it can only reach the contact as a
			// denial of a newer request crossing it (TestTwoServers*).
			o.Route = true
			n.PendingIn = false
		default: // S.N. deliver: no state change
		}
	case KindSubscribed: // Table 8 and §3.1.6
		// Only an answer to our own request counts. Anything else is ignored
		// and creates no item, or any client that auto-accepts would let
		// strangers subscribe (pitfalls §3).
		if s.PendingOut {
			o.Route = true
			o.ProbeBack = true
			n.PendingOut = false
			n.Subscription = addTo(s.Subscription)
		}
	case KindUnsubscribed: // Table 9 and §3.2.3: denial or cancellation
		if s.PendingOut || s.to() {
			o.Route = true
			n.PendingOut = false
			n.Subscription = dropTo(s.Subscription)
		}
	default:
		return Outcome{Next: s}
	}
	o.Next = n
	return finish(s, o)
}

// Remove returns the stanzas the user's server sends the contact, in order,
// when the user removes the item (RFC 6121 §2.5.2): "unsubscribe" if the user
// is subscribed to the contact, "unsubscribed" if the contact is subscribed
// to the user. Pending requests are cancelled the same way (a pending-out by
// "unsubscribe", a pending-in is denied by "unsubscribed"), so the contact is
// not left with a request nobody will answer. A pre-approval was never sent,
// so it just goes with the item.
//
// Running each through Outbound in order gives the side effects (the
// unavailable before "unsubscribed"); the resulting state is then dropped
// with the item.
func Remove(s State) (toContact []Kind) {
	s = s.normalize()
	if s.to() || s.PendingOut {
		toContact = append(toContact, KindUnsubscribe)
	}
	if s.from() || s.PendingIn {
		toContact = append(toContact, KindUnsubscribed)
	}
	return toContact
}
