package delivery

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/module"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/storage"
	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// holdFor bounds how long a message waits for its tracking entry (or a
// notice for its completion) to be committed.
const holdFor = 30 * time.Second

// maxBatch bounds one commit of the writer and one page of the scan.
const maxBatch = 256

var errStopped = errors.New("delivery tracking is stopped")

type service struct {
	r            *router.Router
	m            *Module
	store        storage.Tracking
	offline      storage.Offline
	log          *slog.Logger
	now          func() time.Time
	met          *metrics
	timeout      time.Duration
	scan         time.Duration
	timeoutText  string
	linger       time.Duration
	offlineQuota int
	// The local domains notify and track apply to (see Register).
	notifyOn, trackOn map[string]bool

	pending  pending
	ops      chan op
	quit     chan struct{}
	stopOnce sync.Once
	wg       sync.WaitGroup
}

// op is one write for the writer: an entry to add, or a key to complete.
type op struct {
	add  *storage.Tracked
	key  storage.TrackKey
	done func(ok bool, err error)
}

func newService(h *module.Host, m *Module, timeout, scan time.Duration) *service {
	return &service{
		r: h.Router, m: m, store: h.Store.Tracking(), offline: h.Store.Offline(), log: h.Log, now: h.Now,
		met: newMetrics(h.Metrics), timeout: timeout, scan: scan, offlineQuota: m.OfflineQuota,
		timeoutText: "No delivery notice from the recipient within " + timeout.String(),
		ops:         make(chan op, 4*maxBatch), quit: make(chan struct{}),
		pending:  pending{max: m.Cfg.MaxPending, n: map[string]int{}},
		linger:   m.linger(),
		notifyOn: map[string]bool{}, trackOn: map[string]bool{},
	}
}

func (s *service) start() {
	s.wg.Add(2)
	go s.writer()
	go s.scanner()
}

func (s *service) stop() {
	s.stopOnce.Do(func() { close(s.quit) })
	s.wg.Wait()
}

func (s *service) enqueue(o op) {
	select {
	case s.ops <- o:
	case <-s.quit:
		o.done(false, errStopped)
	}
}

// writer commits what is waiting, up to linger after the first, in one
// transaction (Tracking.Apply), then lets the stanzas waiting for it go
// on, on a goroutine of their own so the next batch can commit meanwhile.
func (s *service) writer() {
	defer s.wg.Done()
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	for {
		var batch []op
		select {
		case o := <-s.ops:
			batch = append(batch, o)
		case <-s.quit:
			for {
				select {
				case o := <-s.ops:
					o.done(false, errStopped)
				default:
					return
				}
			}
		}
		// Wait up to linger for more: a commit (its WAL writes) costs far
		// more than a row, and the message waits less than a millisecond.
		linger.Reset(s.linger)
	more:
		for len(batch) < maxBatch {
			select {
			case o := <-s.ops:
				batch = append(batch, o)
			case <-linger.C:
				break more
			}
		}
		if !linger.Stop() {
			select {
			case <-linger.C:
			default:
			}
		}
		results := s.commit(batch)
		go func() {
			for i, o := range batch {
				o.done(results[i].ok, results[i].err)
			}
		}()
	}
}

type result struct {
	ok  bool
	err error
}

func (s *service) commit(batch []op) []result {
	ctx := context.Background()
	res := make([]result, len(batch))
	// An entry completed in its own batch (a local recipient's notice
	// follows its message within the linger) is never written: its
	// completion still runs, as a delete that finds nothing and so
	// writes no page, unless a resent id left an older row.
	canceled := make([]bool, len(batch))
	var inBatch map[storage.TrackKey]int
	var keyAt []int
	var keys []storage.TrackKey
	for i, o := range batch {
		switch {
		case o.add == nil:
			keys, keyAt = append(keys, o.key), append(keyAt, i)
			if j, ok := inBatch[o.key]; ok {
				canceled[j], res[j].ok, res[i].ok = true, true, true
				delete(inBatch, o.key)
			}
		case s.pending.take(ctx, s, o.add.Owner):
			if inBatch == nil {
				inBatch = map[storage.TrackKey]int{}
			}
			inBatch[o.add.Key()] = i
		default: // the owner has max_pending entries: res[i].ok stays false
			canceled[i] = true
		}
	}
	var adds []storage.Tracked
	var addAt []int
	for i, o := range batch {
		if o.add != nil && !canceled[i] {
			adds, addAt = append(adds, *o.add), append(addAt, i)
		}
	}
	stored, done, err := s.store.Apply(ctx, 0, adds, keys)
	for j, i := range addAt {
		if err != nil {
			res[i].err = err
			s.pending.release(batch[i].add.Owner, 1)
		} else {
			res[i].ok = stored[j]
		}
	}
	for j, i := range keyAt {
		switch {
		case res[i].ok: // completed in the batch
			s.pending.release(batch[i].key.Owner, 1)
		case err != nil:
			res[i].err = err
		case done[j]:
			res[i].ok = true
			s.pending.release(batch[i].key.Owner, 1)
		}
	}
	return res
}

// pending counts each sender's entries for max_pending, so an insert
// never counts rows: an owner's count is read from the store the first
// time it is needed and again whenever it reaches the bound (a resent id
// replaces its entry but counts twice here until then). With several
// servers on one database each bounds what it added: max_pending is a
// bound on a user's entries, not an exact count.
type pending struct {
	max int
	mu  sync.Mutex
	n   map[string]int
}

// take reserves a place for one entry of owner; false when it has max.
func (p *pending) take(ctx context.Context, s *service, owner string) bool {
	if p.max <= 0 {
		return true
	}
	p.mu.Lock()
	n, known := p.n[owner]
	p.mu.Unlock()
	if !known || n >= p.max {
		c, err := s.store.Count(ctx, owner)
		if err != nil {
			s.log.Warn("tracked messages not counted; max_pending not applied to this message", "owner", owner, "err", err)
			return true
		}
		n = c
	}
	if n >= p.max {
		p.mu.Lock()
		p.n[owner] = n
		p.mu.Unlock()
		return false
	}
	p.mu.Lock()
	p.n[owner] = n + 1
	p.mu.Unlock()
	return true
}

// release gives back k places of owner. A count at zero stays (the next
// message needs no read) until prune.
func (p *pending) release(owner string, k int) {
	if p.max <= 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if n, ok := p.n[owner]; ok {
		p.n[owner] = max(n-k, 0)
	}
}

// prune forgets the owners at zero once there are many (each scan).
func (p *pending) prune() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.n) < pruneAbove {
		return
	}
	for o, n := range p.n {
		if n == 0 {
			delete(p.n, o)
		}
	}
}

// pruneAbove is how many senders' counts are kept before the zeros go.
const pruneAbove = 10000

// hasBody: a <body/> of the stanza's namespace, which a chat-state-only
// message lacks.
func hasBody(el *xml.Element) bool { return el.Child(el.Space, "body") != nil }

// notifiable: a message that earns its sender a deliver notice. One
// without an id gets none: nothing could correlate it.
func notifiable(st *router.Stanza) bool {
	return (st.Type == "chat" || st.Type == "groupchat") && st.ID != "" && !st.From.IsZero() && st.From.Local() != "" &&
		!st.From.Bare().Equal(st.To.Bare()) && hasBody(st.El)
}

// delivered: a session took the message (router.EvMessageDelivered).
func (s *service) delivered(ev *router.Event) bool {
	if !ev.Stanza.Rerouted {
		s.notify(ev.Ctx, ev.Stanza, valueDirect)
	}
	return false
}

// stored: offline storage kept it (router.EvMessageStored).
func (s *service) stored(ev *router.Event) bool {
	s.notify(ev.Ctx, ev.Stanza, valueStored)
	return false
}

func (s *service) notify(ctx context.Context, st *router.Stanza, value string) {
	if st.Kind != stanza.Message || !notifiable(st) || !s.notifyOn[st.To.Domain()] {
		return
	}
	to := st.From.Bare()
	el := notice(st.El.Attr("to"), st.From.String(), st.ID, to.String(), st.To.Bare().String(), value)
	s.r.Route(ctx, &router.Stanza{El: el, Kind: stanza.Message, ID: st.ID, From: st.To, To: to})
	s.met.notices.WithLabelValues(value).Inc()
}

// trackable: a chat message with a body and an id from a local user of a
// tracked domain to another user.
func (s *service) trackable(st *router.Stanza) bool {
	return st.Type == "chat" && st.ID != "" && !st.To.IsZero() && st.To.Local() != "" &&
		!st.To.Bare().Equal(st.From.Bare()) && hasBody(st.El) && s.trackOn[st.From.Domain()]
}

// outgoing checks a client's AMP rules, then tracks the message: it is
// held until its entry is committed (router.EvStanzaOut).
func (s *service) outgoing(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message || ev.Origin == nil || st.Type == "error" {
		return false
	}
	if s.refused(ev) {
		return true
	}
	if !s.trackable(st) {
		return false
	}
	e := &storage.Tracked{Owner: st.From.Bare().String(), ID: st.ID, Recipient: st.To.Bare().String(),
		Sender: st.From.String(), Deadline: s.now().Add(s.timeout)}
	// A message for a remote recipient leaves the server only once its
	// entry is durable. One for a local recipient goes on at once: its
	// delivery and its notice (or error) happen in this process, within
	// the writer's linger, so the entry is usually completed before it
	// is written, and never costs a write (see commit).
	var held *router.Held
	if !s.r.IsLocal(st.To.Domain()) {
		if held = ev.Hold(holdFor, stanza.ErrInternalServerError.WithText("the message could not be tracked in time")); held == nil {
			return false
		}
	}
	s.enqueue(op{add: e, done: func(ok bool, err error) {
		switch {
		case err != nil:
			s.met.untracked.WithLabelValues("storage").Inc()
			s.log.Error("message sent untracked: storage failed", "from", e.Sender, "to", e.Recipient, "id", e.ID, "err", err)
		case !ok:
			s.met.untracked.WithLabelValues("quota").Inc()
			s.log.Warn("message sent untracked: the sender has max_pending tracked messages", "from", e.Sender, "to", e.Recipient, "id", e.ID)
		default:
			s.met.tracked.Inc()
		}
		if held != nil {
			held.Resume()
		}
	}})
	return false
}

// checkRules checks a client's AMP rules where nothing is tracked
// (router.EvMessageOut).
func (s *service) checkRules(ev *router.Event) bool {
	if ev.Stanza.Type == "error" || ev.Origin == nil {
		return false
	}
	return s.refused(ev)
}

// refused answers a message whose AMP rules this server cannot honour
// with the error XEP-0079 §2.2.1 gives, and reports that it did.
func (s *service) refused(ev *router.Event) bool {
	st := ev.Stanza
	a := st.El.Child(NS, "amp")
	if a == nil {
		return false
	}
	e := checkClientRules(st, a)
	if e == nil {
		return false
	}
	if el := stanza.ErrorReply(st.El, e); el != nil {
		el.SetAttr("from", st.From.Domain())
		s.r.Route(ev.Ctx, &router.Stanza{El: el, Kind: stanza.Message, Type: "error", ID: st.ID, From: jid.MustParse(st.From.Domain()), To: st.From})
	}
	return true
}

// incoming completes tracked messages: a deliver notice or an error
// message from the recipient with the message's id (router.EvStanzaIn).
// The stanza waits until the completion is committed; an error that
// completed an entry is delivered even to an offline sender.
func (s *service) incoming(ev *router.Event) bool {
	st := ev.Stanza
	if st.Kind != stanza.Message || st.ID == "" || st.From.IsZero() || st.To.Local() == "" {
		return false
	}
	by := "error"
	if st.Type != "error" {
		a := st.El.Child(NS, "amp")
		if a == nil || a.Attr("status") != "notify" {
			return false
		}
		by = "notice"
	}
	key := storage.TrackKey{Owner: st.To.Bare().String(), ID: st.ID, Recipient: st.From.Bare().String()}
	if by == "notice" && s.r.IsLocal(st.From.Domain()) {
		// A local recipient's notice: its message went on without
		// waiting for its entry (outgoing), and the notice does not wait
		// for the completion either; both usually meet in one batch.
		s.enqueue(op{key: key, done: func(ok bool, err error) {
			if err != nil {
				s.log.Error("delivery notice not recorded: storage failed; the sender may get a time-out error too", "owner", key.Owner, "id", key.ID, "from", key.Recipient, "err", err)
			} else if ok {
				s.met.completed.WithLabelValues(by).Inc()
			}
		}})
		return false
	}
	held := ev.Hold(holdFor, stanza.ErrInternalServerError.WithText("the delivery notice could not be recorded in time"))
	if held == nil {
		return false
	}
	ctx := router.Detach(ev.Ctx)
	s.enqueue(op{key: key, done: func(ok bool, err error) {
		if err != nil {
			s.log.Error("delivery notice not recorded: storage failed; the sender may get a time-out error too", "owner", key.Owner, "id", key.ID, "from", key.Recipient, "err", err)
		}
		if !ok {
			held.Resume()
			return
		}
		s.met.completed.WithLabelValues(by).Inc()
		if by == "error" {
			s.deliverTracked(ctx, st)
			held.Drop()
			return
		}
		held.Resume()
	}})
	return false
}

// deliverTracked delivers an error about a tracked message: to the
// resource it names if available, else to the owner's available
// resources, else into offline storage (TIM+; RFC 6121 would drop it).
func (s *service) deliverTracked(ctx context.Context, st *router.Stanza) {
	if st.To.Resource() != "" {
		if res := s.r.Resource(st.To); res != nil && res.Available() && s.r.DeliverTo(res, st.El) {
			return
		}
	}
	took := false
	for _, res := range s.r.Resources(st.To.Bare()) {
		if p, prio := res.Presence(); p != nil && prio >= 0 && s.r.DeliverTo(res, st.Readdress(res.JID, st.From).El) {
			took = true
		}
	}
	if took {
		return
	}
	el := st.El.Copy()
	el.RemoveChildren(NSDelay, "delay")
	el.Append(xml.New(NSDelay, "delay", "from", st.To.Domain(), "stamp", s.now().UTC().Format("2006-01-02T15:04:05.000Z")).SetText("Offline Storage"))
	owner := st.To.Bare().String()
	if err := s.offline.Store(ctx, owner, xml.Append(nil, el, el.Space), s.offlineQuota); err != nil {
		s.log.Error("delivery error for an offline sender not stored", "to", owner, "id", st.ID, "err", err)
	}
}

// scanner sends the time-out errors of due entries, on a timer; the first
// scan at start-up catches what fell due while the server was down.
func (s *service) scanner() {
	defer s.wg.Done()
	t := time.NewTicker(s.scan)
	defer t.Stop()
	for {
		s.sweep()
		s.pending.prune()
		select {
		case <-t.C:
		case <-s.quit:
			return
		}
	}
}

func (s *service) sweep() {
	ctx := context.Background()
	for {
		select {
		case <-s.quit:
			return
		default:
		}
		due, err := s.store.Due(ctx, s.now(), maxBatch)
		if err != nil {
			s.log.Error("due tracked messages not read; retried at the next scan", "err", err)
			return
		}
		if len(due) == 0 {
			return
		}
		keys := make([]storage.TrackKey, len(due))
		for i, e := range due {
			keys[i] = e.Key()
		}
		done, err := s.store.Complete(ctx, keys)
		if err != nil {
			s.log.Error("due tracked messages not completed; retried at the next scan", "err", err)
			return
		}
		for i, e := range due {
			if done[i] { // else a notice completed it meanwhile
				s.pending.release(e.Owner, 1)
				s.timedOut(ctx, e)
			}
		}
		if len(due) < maxBatch {
			return
		}
	}
}

// timedOut sends the sender remote-server-timeout from the silent
// recipient (TIM+ MonitorToErrorMessageTransformer).
func (s *service) timedOut(ctx context.Context, e storage.Tracked) {
	from, err1 := jid.Parse(e.Recipient)
	to, err2 := jid.Parse(e.Sender)
	if err := errors.Join(err1, err2); err != nil {
		s.log.Error("tracked message with a bad address dropped", "owner", e.Owner, "id", e.ID, "err", err)
		return
	}
	el := xml.New(xml.NSClient, "message", "type", "error", "id", e.ID, "from", from.String(), "to", to.String())
	el.Append(stanza.ErrRemoteServerTimeout.WithText(s.timeoutText).Element())
	s.met.timeouts.Inc()
	s.log.Info("no delivery notice in time: the sender gets remote-server-timeout", "from", e.Sender, "to", e.Recipient, "id", e.ID)
	s.deliverTracked(ctx, &router.Stanza{El: el, Kind: stanza.Message, Type: "error", ID: e.ID, From: from, To: to})
}

// checkClientRules applies XEP-0079 §2.2.1 to the <amp/> of a client's
// message: nil when every rule is supported.
func checkClientRules(st *router.Stanza, el *xml.Element) *stanza.Error {
	a, err := Parse(el)
	if err != nil {
		return invalidRules(err.Error())
	}
	if a.Status != "" {
		return invalidRules("malformed <amp/>: status is set by servers; a client's <amp/> carries rules only")
	}
	if st.ID == "" {
		return invalidRules("malformed <amp/>: a message with AMP rules needs an id (XEP-0079 §2.1.2)")
	}
	var actions, conditions []Rule
	for _, r := range a.Rules {
		switch {
		case !supportedAction(r):
			actions = append(actions, r)
		case !supportedCondition(r):
			conditions = append(conditions, r)
		}
	}
	if len(actions) > 0 {
		return unsupported("unsupported-actions", "action", actions)
	}
	if len(conditions) > 0 {
		return unsupported("unsupported-conditions", "condition", conditions)
	}
	return nil
}

func unsupported(name, what string, rules []Rule) *stanza.Error {
	app := xml.New(NS, name)
	var names []string
	for _, r := range rules {
		app.Append(ruleElement(r))
		names = append(names, what+" "+clip(r.Action+"/"+r.Condition+"="+r.Value))
	}
	e := stanza.ErrBadRequest.WithText("AMP rules not supported here: " + strings.Join(names, ", ") + " (supported: action notify, condition deliver direct or stored)")
	e.App = app
	return e
}

// invalidRules is bad-request naming the problem, with XEP-0079's
// <invalid-rules/>.
func invalidRules(text string) *stanza.Error {
	e := stanza.ErrBadRequest.WithText(text)
	e.App = xml.New(NS, "invalid-rules")
	return e
}
