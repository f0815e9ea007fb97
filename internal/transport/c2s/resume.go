package c2s

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Stream Management resumption (XEP-0198 §5). A session whose client asked
// for it does not end when its connection dies: it hibernates, still bound
// and available, counting what is routed to it, for ResumeTimeout. A new
// connection authenticated as the same user may then <resume/> it: the
// hibernating session adopts that connection (the router never sees a
// change), drops what the client acknowledged and sends the rest again.
// If nobody resumes in time, the session ends as any other, handing its
// unacknowledged stanzas back to the router.

// errAdopted ends a connection's own session: a hibernating one took it.
var errAdopted = errors.New("connection adopted by a resumed session")

// resumeWait bounds how long a <resume/> waits for the previous connection
// (not yet known dead) to be torn down.
const resumeWait = 3 * time.Second

func newResumeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// hibernate keeps the session for resumption instead of ending it, when
// its client asked for that and err says the connection died rather than
// being closed on purpose. It reports whether it did.
func (s *Session) hibernate(err error) bool {
	var se *stream.Error
	switch {
	case err == nil || errors.Is(err, xml.ErrStreamEnd):
		return false // the client closed the stream: it is done
	case errors.As(err, &se) && se.Condition != "connection-timeout":
		return false // the server ended it on purpose
	}
	s.srv.mu.Lock()
	closing := s.srv.closing
	s.srv.mu.Unlock()
	s.out.Lock()
	if s.hib {
		s.out.Unlock()
		return true // already hibernating: a second reader's error changes nothing
	}
	if !s.sm.resumable || s.out.ClosingLocked() || closing {
		s.out.Unlock()
		return false
	}
	// Output from now on is only counted. The old connection is let go
	// before the session can be resumed, so a resume never races with
	// tearing it down. Unwritten bytes are dropped: the stanzas are in
	// sm.unacked.
	s.out.DetachLocked()
	raw := s.raw
	s.out.Unlock()
	s.stopTimer()
	s.srv.poller.forget(s)
	raw.Close()
	s.connGone()
	// Logged before the session can be resumed: afterwards another
	// goroutine owns it.
	s.srv.log.Info("connection lost; session kept for resumption (XEP-0198)", append(s.log(), "for", s.srv.cfg.ResumeTimeout.String())...)
	s.out.Lock()
	defer s.out.Unlock()
	if s.out.ClosingLocked() {
		return false // closed meanwhile (conflict, shutdown): end it now
	}
	s.hib = true
	gen := s.gen
	s.hibTimer = time.AfterFunc(s.srv.cfg.ResumeTimeout, func() { s.hibernationExpired(gen) })
	return true
}

// hibernationExpired ends a session nobody resumed.
func (s *Session) hibernationExpired(gen int) {
	if !s.wakeUp(gen) {
		return
	}
	s.finish(stream.NewError("connection-timeout", "not resumed in time"))
}

// wakeUp ends the hibernation of connection generation gen (for an expiry
// or an overflow), so that finish runs the ordinary end; false if the
// session is not hibernating, or hibernates since a later resumption (a
// timer that fired late must not end that one).
func (s *Session) wakeUp(gen int) bool {
	s.out.Lock()
	defer s.out.Unlock()
	if !s.hib || s.gen != gen {
		return false
	}
	s.hib, s.sm.resumable = false, false
	if s.hibTimer != nil {
		s.hibTimer.Stop()
	}
	return true
}

// connGone reports the connection closed to the metrics, once.
func (s *Session) connGone() {
	if s.gone.Swap(true) {
		return
	}
	if m := s.srv.cfg.Metrics.SessionClosed; m != nil {
		m()
	}
}

// resume handles <resume/> on a fresh, authenticated connection: on
// success the previous session adopts this connection and errAdopted ends
// this one's goroutine; otherwise <failed/> is sent and negotiation goes on.
func (s *Session) resume(el *xml.Element) error {
	fail := func(cond string) error {
		s.writeNow(smFailed(cond))
		return nil
	}
	h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
	if err != nil {
		return fail("bad-request")
	}
	old := s.srv.resumable(el.Attr("previd"))
	if old == nil || old.user != s.user || old.domain != s.domain {
		return fail("item-not-found") // unknown, expired, or someone else's
	}
	// A connection the server still thinks alive is torn down first (§5:
	// the client knows better that it is gone).
	if !old.isHibernating() {
		old.out.Lock()
		raw := old.raw
		old.out.Unlock()
		raw.Close()
		go old.unpark()
		for deadline := time.Now().Add(resumeWait); !old.isHibernating(); {
			if time.Now().After(deadline) {
				return fail("item-not-found")
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	// What <resumed h/> acknowledges must be kept, as for an <a/>: the
	// archive copies behind the stanzas counted.
	sctx, cancel := context.WithTimeout(s.srv.ctx, 10*time.Second)
	kept := s.srv.router.Sync(sctx) == nil
	cancel()
	old.out.Lock()
	if !old.hib {
		old.out.Unlock()
		return fail("item-not-found") // expired meanwhile
	}
	if kept {
		old.sm.inAcked = old.sm.inH // (no reader while it hibernates)
	} else {
		old.sm.inH = old.sm.inAcked // the client sends the rest again
	}
	if _, ok := old.dropAcked(uint32(h)); !ok {
		// Acknowledges more than was sent (§4 handled-count-too-high);
		// the session stays resumable with a correct h.
		inH := old.sm.inH
		old.out.Unlock()
		f := smFailed("unexpected-request")
		f.SetAttr("h", strconv.FormatUint(uint64(inH), 10))
		s.writeNow(f)
		return nil
	}
	old.hib = false
	old.hibTimer.Stop()
	oldIP := old.ip
	old.conn, old.raw, old.rd, old.dec = s.conn, s.raw, s.rd, s.dec
	old.tls, old.served, old.direct, old.ip, old.streamID = s.tls, s.served, s.direct, s.ip, s.streamID
	old.gen++
	old.out.SetConnLocked(s.conn, s.raw) // a late write error of the old one is ignored
	old.gone.Store(false)                // this connection's opening was counted by s
	// <resumed/>, then everything not acknowledged, in order, then a request.
	old.out.AppendLocked(xml.New(stream.NSSM, "resumed", "previd", old.sm.id, "h", strconv.FormatUint(uint64(old.sm.inH), 10)), xml.NSClient)
	for _, it := range old.sm.unacked {
		old.out.AppendLocked(it.el, it.el.Space)
	}
	old.sm.asked = false
	if len(old.sm.unacked) > 0 {
		old.requestAck()
	}
	resent := len(old.sm.unacked)
	old.out.Unlock()

	old.dec.SetLimits(old.srv.cfg.Limits)
	old.rd.Deadline = time.Time{}
	if iv := old.srv.cfg.PingInterval; iv > 0 {
		old.rd.Idle, old.rd.Grace, old.rd.OnIdle = iv, old.srv.cfg.PingTimeout, old.ping
	}
	old.pmu.Lock()
	old.pingID, old.pinged = "", false
	old.pmu.Unlock()
	s.srv.adopt(oldIP, s)
	s.srv.log.Info("session resumed (XEP-0198)", append(old.log(), "resent", resent)...)
	go old.loop()
	// Messages that came while the connection was down went to offline
	// storage: deliver them as at an initial presence.
	if p, prio := old.res.Presence(); p != nil && prio >= 0 {
		s.srv.router.Fire(router.EvAvailable, &router.Event{Ctx: s.srv.ctx, Origin: old.res})
	}
	return errAdopted
}

func (s *Session) isHibernating() bool {
	s.out.Lock()
	defer s.out.Unlock()
	return s.hib
}

// resumable finds a session by its stream management id.
func (srv *Server) resumable(id string) *Session {
	if id == "" {
		return nil
	}
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.resumeIDs[id]
}

// adopt retires the connection's own session s, whose connection a resumed
// session took: that one now holds s's address slot, and its old address
// slot is freed.
func (srv *Server) adopt(oldIP string, s *Session) {
	srv.mu.Lock()
	if srv.perIP[oldIP]--; srv.perIP[oldIP] <= 0 {
		delete(srv.perIP, oldIP)
	}
	delete(srv.sessions, s)
	srv.mu.Unlock()
	srv.wg.Done()
}

// addResumable registers a new resumption id for s.
func (srv *Server) addResumable(s *Session) string {
	id := newResumeID()
	srv.mu.Lock()
	srv.resumeIDs[id] = s
	srv.mu.Unlock()
	return id
}

// forgetResumable drops s's id: it can no longer be resumed.
func (srv *Server) forgetResumable(s *Session) {
	s.out.Lock()
	id := s.sm.id
	s.sm.resumable = false
	s.out.Unlock()
	if id == "" {
		return
	}
	srv.mu.Lock()
	if srv.resumeIDs[id] == s {
		delete(srv.resumeIDs, id)
	}
	srv.mu.Unlock()
}
