package c2s

import (
	"context"
	"errors"
	"github.com/tern-xmpp/tern/internal/storage"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stanza"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Stream Management (XEP-0198): acks tell tern which stanzas the client
// really got, and whatever it had not acknowledged when the session ends
// is routed again (messages to the user's other resources or offline
// storage, iq requests bounced) instead of being lost in a dead TCP
// connection. Resumption (§5) is in resume.go.

const (
	// maxUnacked bounds what a client that never acks can pin in memory.
	maxUnacked = 1000
	// ackEvery: ask for an ack every this many stanzas sent; fewer wait
	// for ackDelay, so a busy stream carries one <r/> per batch, not one
	// per stanza (that doubled the server's work per message).
	ackEvery = 16
	ackDelay = 500 * time.Millisecond
)

// smState is the session's XEP-0198 state. inH belongs to the reading
// goroutine; the rest is guarded by the output's lock.
type smState struct {
	on      bool
	inH     uint32 // stanzas handled from the client (§4: modulo 2^32)
	inAcked uint32 // the last h we acknowledged (reader's): kept while the archive cannot write
	outH    uint32 // stanzas sent to the client since enable
	ackedH  uint32 // the last h the client acknowledged
	unacked []smItem
	// unackedBytes bounds the queue by size as well as by count (as
	// maxOutQueue bounds live output): large stanzas must not pin memory.
	unackedBytes int
	asked        bool        // an <r/> is outstanding
	sinceAsk     int         // stanzas sent since the last <r/>
	ackTimer     *time.Timer // asks after ackDelay; reused
	timerArmed   bool

	resumable bool   // the client asked for resumption and got an id
	id        string // its id (§5 'previd')
}

// smItem is a stanza sent and not yet acknowledged, with its size.
type smItem struct {
	el   *xml.Element
	size int
}

var smRequest = xml.New(stream.NSSM, "r")

// smFailed is <failed/> with a stanza error condition (§3, §5).
func smFailed(cond string) *xml.Element {
	return xml.New(stream.NSSM, "failed").Append(xml.New(stanza.NSStanzas, cond))
}

// handleSM processes an XEP-0198 element from a bound client.
func (s *Session) handleSM(el *xml.Element) error {
	switch el.Name {
	case "enable":
		// Only this (reading) goroutine turns stream management on.
		if s.smOn() {
			s.sendNonza(smFailed("unexpected-request"))
			return nil
		}
		s.sm.inH, s.sm.inAcked = 0, 0 // §4: counting starts at enabling
		enabled := xml.New(stream.NSSM, "enabled")
		id := ""
		if r := el.Attr("resume"); (r == "true" || r == "1") && s.srv.cfg.ResumeTimeout > 0 {
			id = s.srv.addResumable(s)
			enabled.SetAttr("id", id)
			enabled.SetAttr("resume", "true")
			enabled.SetAttr("max", strconv.Itoa(int(s.srv.cfg.ResumeTimeout/time.Second)))
		}
		// Counting starts with the stanza after <enabled/>, in one step:
		// a stanza routed in between would be counted by one side only.
		s.out.Lock()
		s.sm.on = true
		s.sm.resumable, s.sm.id = id != "", id
		s.out.AppendLocked(enabled, xml.NSClient)
		s.out.Unlock()
	case "r":
		if s.smOn() {
			// Handled means kept: writes behind the stanzas counted (the
			// archive's) are durable before they are acknowledged.
			ctx, cancel := context.WithTimeout(s.srv.ctx, 10*time.Second)
			err := s.srv.router.Sync(ctx)
			cancel()
			if err == nil {
				s.sm.inAcked = s.sm.inH
			} else {
				// §4 wants an answer: the count already acknowledged; the
				// client keeps the rest and sends them again if need be.
				s.srv.log.Warn("stanzas not acknowledged: their archive copies are not written", "jid", s.jid.String(), "err", err)
			}
			s.sendNonza(xml.New(stream.NSSM, "a", "h", strconv.FormatUint(uint64(s.sm.inAcked), 10)))
			if errors.Is(err, storage.ErrLost) {
				// Some may be lost for good: a later ack must not cover
				// them. The client sends what was not acknowledged again,
				// in a new session.
				return stream.NewError("internal-server-error", "the archive could not keep some stanzas; reconnect and send again what was not acknowledged")
			}
		}
	case "a":
		if !s.smOn() {
			return nil
		}
		h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
		if err != nil {
			return stream.NewError("undefined-condition", "<a/> needs h, a number of stanzas (XEP-0198 §4)")
		}
		return s.ack(uint32(h))
	case "resume":
		s.sendNonza(smFailed("unexpected-request")) // only before binding (§5)
	default:
		return stream.NewError("unsupported-stanza-type", "<"+el.Name+"> in "+stream.NSSM+" is not a stream management element")
	}
	return nil
}

func (s *Session) smOn() bool {
	s.out.Lock()
	defer s.out.Unlock()
	return s.sm.on
}

// ack drops the stanzas the client acknowledged. An h above what was sent
// is a protocol error (§4, handled-count-too-high).
func (s *Session) ack(h uint32) error {
	s.out.Lock()
	defer s.out.Unlock()
	n, ok := s.dropAcked(h)
	if !ok {
		return &stream.Error{Condition: "undefined-condition", Text: "you acknowledged more stanzas than were sent",
			App: xml.New(stream.NSSM, "handled-count-too-high", "h", strconv.FormatUint(uint64(h), 10), "send-count", strconv.FormatUint(uint64(s.sm.outH), 10))}
	}
	s.sm.asked = false
	if n > 0 && len(s.sm.unacked) > 0 {
		// Stanzas sent after the request this answers: ask again soon, or
		// they would stay unacknowledged until the next stanza goes out.
		s.armAckTimer()
	}
	return nil
}

// requestAck queues <r/>; the output lock is held.
func (s *Session) requestAck() {
	s.out.AppendLocked(smRequest, xml.NSClient)
	s.sm.asked, s.sm.sinceAsk = true, 0
}

// armAckTimer asks for an ack after ackDelay unless one is asked for
// meanwhile; the output lock is held.
func (s *Session) armAckTimer() {
	if s.sm.timerArmed {
		return
	}
	s.sm.timerArmed = true
	if s.sm.ackTimer == nil {
		s.sm.ackTimer = time.AfterFunc(ackDelay, s.ackTimeout)
	} else {
		s.sm.ackTimer.Reset(ackDelay)
	}
}

func (s *Session) ackTimeout() {
	s.out.Lock()
	defer s.out.Unlock()
	s.sm.timerArmed = false
	if !s.sm.on || s.out.ClosingLocked() || s.out.DetachedLocked() || s.sm.asked || len(s.sm.unacked) == 0 {
		return
	}
	s.requestAck()
}

// dropAcked forgets the stanzas an h from the client acknowledges; the
// output lock is held. It returns how many, or false if h is beyond what was sent.
func (s *Session) dropAcked(h uint32) (int, bool) {
	n := h - s.sm.ackedH
	if int64(n) > int64(len(s.sm.unacked)) {
		return 0, false
	}
	u := s.sm.unacked
	for _, it := range u[:n] {
		s.sm.unackedBytes -= it.size
	}
	rest := copy(u, u[n:])
	clear(u[rest:]) // do not pin acknowledged stanzas
	s.sm.unacked = u[:rest]
	if rest == 0 && cap(u) > 64 {
		s.sm.unacked = nil // a burst's queue is not kept
	}
	s.sm.ackedH = h
	return int(n), true
}

// smCount records a stanza of size bytes just queued for the client; the
// output lock is held.
func (s *Session) smCount(el *xml.Element, size int) {
	s.sm.outH++
	s.sm.unacked = append(s.sm.unacked, smItem{el, size})
	s.sm.unackedBytes += size
	s.sm.sinceAsk++
	switch {
	case s.sm.sinceAsk >= ackEvery:
		s.requestAck()
	case !s.sm.asked:
		s.armAckTimer()
	}
}

// takeUnacked ends stream management and returns what the client never
// acknowledged, for the router to deliver elsewhere.
func (s *Session) takeUnacked() []*xml.Element {
	s.out.Lock()
	defer s.out.Unlock()
	out := make([]*xml.Element, len(s.sm.unacked))
	for i, it := range s.sm.unacked {
		out[i] = it.el
	}
	s.sm.on, s.sm.unacked, s.sm.unackedBytes = false, nil, 0
	if s.sm.ackTimer != nil {
		s.sm.ackTimer.Stop()
	}
	return out
}

// sendNonza queues a stream-level element: not a stanza, so not counted.
func (s *Session) sendNonza(el *xml.Element) { s.out.Append(el, xml.NSClient) }
