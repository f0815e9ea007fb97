package c2s

import (
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/stream"
	"github.com/tern-xmpp/tern/internal/xml"
)

// Send queues a stanza for the client (router.Session). It never blocks on
// the network: a flusher goroutine exists only while there is output.
func (s *Session) Send(el *xml.Element) bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closing {
		return false
	}
	if s.connDead {
		return s.sendDead(el)
	}
	if len(s.wbuf) > maxOutQueue {
		s.srv.log.Warn("client not reading; closing its session", s.log()...)
		s.closeLocked(stream.NewError("policy-violation", "too much unread output"))
		return false
	}
	if s.sm.on && (len(s.sm.unacked) >= maxUnacked || s.sm.unackedBytes > maxOutQueue) {
		s.srv.log.Warn("client does not acknowledge stanzas (XEP-0198); closing its session", s.log()...)
		s.closeLocked(stream.NewError("policy-violation", "too many unacknowledged stanzas"))
		return false
	}
	// The element may come from a jabber:server stream: writing it relative
	// to its own namespace maps it onto the client stream's default.
	if s.wbuf == nil {
		s.wbuf = getBuf()
	}
	n := len(s.wbuf)
	s.wbuf = xml.Append(s.wbuf, el, el.Space)
	if s.sm.on {
		s.smCount(el, len(s.wbuf)-n)
	}
	s.kick()
	if m := s.srv.cfg.Metrics.StanzaOut; m != nil {
		m(el.Name)
	}
	return true
}

// sendDead takes a stanza while there is no connection (hibernating,
// XEP-0198 §5); wmu is held. A message that offline storage would keep is
// refused, so the router stores it (it survives a crash, and a resume
// delivers it from there); the rest is counted for a resume to send,
// within the same bounds as live output.
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
func (s *Session) Backlog() int {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closing {
		return -1
	}
	return len(s.wbuf)
}

// NotifyDrained calls fn once the queued output is written (ok) or the
// session closed first (!ok), so a feature can wait for its batch to reach
// the socket without polling (router.Session). fn runs on the flusher or
// the caller's goroutine, without wmu held.
func (s *Session) NotifyDrained(fn func(ok bool)) {
	s.wmu.Lock()
	switch {
	case s.closing:
		s.wmu.Unlock()
		fn(false)
	case len(s.wbuf) == 0 && !s.writing:
		s.wmu.Unlock()
		fn(true)
	default:
		s.drained = append(s.drained, fn)
		s.wmu.Unlock()
	}
}

// takeDrained returns the pending NotifyDrained callbacks; wmu is held.
func (s *Session) takeDrained() []func(bool) {
	d := s.drained
	s.drained = nil
	return d
}

func callDrained(fns []func(bool), ok bool) {
	for _, fn := range fns {
		fn(ok)
	}
}

// kick starts the flusher if needed; wmu is held.
func (s *Session) kick() {
	if !s.writing && !s.closed {
		s.writing = true
		go s.flush()
	}
}

func (s *Session) flush() {
	for {
		s.wmu.Lock()
		if len(s.wbuf) == 0 || s.closed {
			s.writing = false
			if s.closing && !s.closed {
				s.closed = true
				s.raw.Close() // after the final </stream:stream>
			}
			putBuf(s.wbuf) // an idle session keeps no write buffer
			s.wbuf = nil
			drained, ok := s.takeDrained(), !s.closing
			s.wmu.Unlock()
			callDrained(drained, ok)
			return
		}
		buf := s.wbuf
		s.wbuf = nil
		conn, raw, gen := s.conn, s.raw, s.gen
		s.wmu.Unlock()
		_ = conn.SetWriteDeadline(time.Now().Add(writeTimeout))
		_, err := conn.Write(buf)
		if err != nil {
			s.wmu.Lock()
			if s.gen != gen {
				// The session resumed on a new connection meanwhile.
				s.writing = false
				if len(s.wbuf) > 0 {
					s.kick()
				}
				s.wmu.Unlock()
				return
			}
			drained := s.takeDrained()
			if s.sm.resumable && !s.closing {
				// Keep the session for resumption: the reader will see
				// the dead connection and hibernate.
				s.connDead, s.writing = true, false
				s.wbuf = nil
				s.wmu.Unlock()
				callDrained(drained, false)
				raw.Close()
				go s.unpark()
				return
			}
			s.closing, s.closed, s.writing = true, true, false
			s.wbuf = nil
			s.wmu.Unlock()
			callDrained(drained, false)
			s.raw.Close()
			go s.unpark() // a parked session would never hear of the close
			return
		}
		s.wmu.Lock()
		if s.wbuf == nil {
			s.wbuf = buf[:0]
		} else {
			putBuf(buf)
		}
		s.wmu.Unlock()
	}
}

// writeNow writes during negotiation, from the reading goroutine, before
// anyone else can send to this session.
func (s *Session) writeNow(b []byte) {
	_ = s.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	_, _ = s.conn.Write(b)
}

// Close ends the stream: an optional stream error, then the closing tag,
// then the connection once they are written (router.Session).
func (s *Session) Close(err *stream.Error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.closeLocked(err)
}

// closeLocked is Close with wmu held.
func (s *Session) closeLocked(err *stream.Error) {
	if s.closing {
		return
	}
	s.closing = true
	if s.hib {
		// Hibernating (XEP-0198 §5): no connection to write to and no
		// reader to notice; end it here.
		s.hib, s.sm.resumable, s.closed = false, false, true
		s.hibTimer.Stop()
		go s.finish(nil)
		return
	}
	if s.connDead {
		s.closed = true // nothing can be written; the reader will finish
		go s.unpark()
		return
	}
	if !s.hdrSent && err != nil {
		// RFC 6120 §4.9.1.1: even an error before the client's header
		// (a time-out, a shutdown) comes after ours.
		h := stream.Header{NS: xml.NSClient, ID: newID(), Version: "1.0", Lang: "en", From: s.hdrFrom}
		s.wbuf = h.Append(s.wbuf)
		s.hdrSent = true
	}
	if err != nil {
		s.wbuf = xml.Append(s.wbuf, err.Element(), xml.NSClient)
	}
	s.wbuf = append(s.wbuf, stream.Close...)
	if !s.writing && !s.closed {
		s.writing = true
		go s.flush()
	}
	// A parked session has no reader to notice the close: resume it.
	go s.unpark()
}

func (s *Session) isClosing() bool {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	return s.closing
}

// waitFlushed waits (bounded) for queued output to be written.
func (s *Session) waitFlushed() {
	deadline := time.Now().Add(writeTimeout)
	for time.Now().Before(deadline) {
		s.wmu.Lock()
		done := !s.writing
		s.wmu.Unlock()
		if done {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Output buffers are pooled: sessions take one only while they have
// output, so thousands of idle sessions share a handful.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 2048); return &b }}

func getBuf() []byte { return (*bufPool.Get().(*[]byte))[:0] }

func putBuf(b []byte) {
	if b == nil || cap(b) > 64<<10 {
		return // let a burst's big buffer go
	}
	b = b[:0]
	bufPool.Put(&b)
}
