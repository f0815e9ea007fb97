package c2s

import (
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Output goes through stream.Output (queue, flusher, bound, close); its
// lock also guards the XEP-0198 state, so a stanza is queued and counted
// in one step. What c2s adds: counting (sm.go), hibernation and
// resumption (resume.go), and waking a parked reader (outEvents).

var outputConfig = stream.OutputConfig{NS: xml.NSClient, MaxQueued: maxOutQueue, WriteTimeout: writeTimeout}

// Send queues a stanza for the client (router.Session). It never blocks on
// the network.
func (s *Session) Send(el *xml.Element) bool {
	o := &s.out
	o.Lock()
	defer o.Unlock()
	if o.ClosingLocked() {
		return false
	}
	if o.DetachedLocked() {
		return s.sendDead(el)
	}
	if s.sm.on && (len(s.sm.unacked) >= maxUnacked || s.sm.unackedBytes > maxOutQueue) {
		s.srv.log.Warn("client does not acknowledge stanzas (XEP-0198); closing its session", s.log()...)
		o.CloseLocked(stream.NewError("policy-violation", "too many unacknowledged stanzas"))
		return false
	}
	// The element may come from a jabber:server stream: writing it relative
	// to its own namespace maps it onto the client stream's default.
	size, ok := o.SendLocked(el, el.Space)
	if !ok {
		s.srv.log.Warn("client not reading; closing its session", s.log()...)
		return false
	}
	if s.sm.on {
		s.smCount(el, size)
	}
	if m := s.srv.cfg.Metrics.StanzaOut; m != nil {
		m(el.Name)
	}
	return true
}

// sendDead takes a stanza while there is no connection (hibernating,
// XEP-0198 §5); the output lock is held. A message that offline storage
// would keep is refused, so the router stores it (it survives a crash,
// and a resume delivers it from there); the rest is counted for a resume
// to send, within the same bounds as live output.
func (s *Session) sendDead(el *xml.Element) bool {
	if el.Name == "message" {
		if t := el.Attr("type"); t == "" || t == "normal" || t == "chat" {
			return false
		}
	}
	size := len(xml.Append(nil, el, el.Space))
	if len(s.sm.unacked) >= maxUnacked || s.sm.unackedBytes+size > maxOutQueue {
		gen := s.gen
		go func() {
			if s.wakeUp(gen) {
				s.finish(stream.NewError("policy-violation", "too much waiting for a resumption"))
			}
		}()
		return false
	}
	s.sm.outH++
	s.sm.unacked = append(s.sm.unacked, smItem{el, size})
	s.sm.unackedBytes += size
	return true
}

// Backlog is the output queued and not yet written, or -1 once the
// session is closing (router.Session).
func (s *Session) Backlog() int { return s.out.Backlog() }

// NotifyDrained calls fn once the queued output is written (ok) or the
// session closed first (!ok), so a feature can wait for its batch to reach
// the socket without polling (router.Session).
func (s *Session) NotifyDrained(fn func(ok bool)) { s.out.NotifyDrained(fn) }

// Close ends the stream: an optional stream error, then the closing tag,
// then the connection once they are written (router.Session).
func (s *Session) Close(err *stream.Error) { s.out.Close(err) }

// writeNow writes during negotiation, from the reading goroutine, before
// anyone else can send to this session.
func (s *Session) writeNow(el *xml.Element) { _ = s.out.WriteNow(el, xml.NSClient) }

// waitFlushed waits (bounded) for queued output to be written.
func (s *Session) waitFlushed() { s.out.WaitFlushed(writeTimeout) }

// outEvents is the session as its output's owner: a parked session has
// no reader to notice a failed write or a close, so both wake it.
type outEvents Session

func (e *outEvents) WriteFailed(closing bool) (keep bool) {
	s := (*Session)(e)
	go s.unpark()
	// Resumable: the reader will see the dead connection and hibernate.
	return s.sm.resumable && !closing
}

func (e *outEvents) Closing() {
	s := (*Session)(e)
	if s.hib {
		// Hibernating (XEP-0198 §5): no connection to write to and no
		// reader to notice; end it here.
		s.hib, s.sm.resumable = false, false
		s.hibTimer.Stop()
		go s.finish(nil)
		return
	}
	go s.unpark()
}

// oweHeader notes that a new stream began: a stream error before our
// header goes out (a time-out, a shutdown) comes after one (RFC 6120
// §4.9.1.1).
func (s *Session) oweHeader() {
	s.out.OweHeader(&stream.Header{NS: xml.NSClient, ID: newID(), Version: "1.0", Lang: "en", From: s.defaultDomain()})
}
