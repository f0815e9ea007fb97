package c2s

import (
	"errors"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/stream"
)

// parkAfter is how long a session waits for data in its own goroutine
// before parking: busy sessions never pay the park/resume cost.
const parkAfter = 2 * time.Second

var errNoPoller = errors.New("no poller on this platform")

const (
	running int32 = iota
	parked
)

// park hands the connection to the poller and arms the keepalive timer.
// It reports false when the session cannot park (it then keeps reading).
func (s *Session) park() bool {
	if !s.dec.Release() { // an idle session keeps no read buffer
		s.srv.log.Debug("park: read buffer kept", s.log()...)
	}
	if iv := s.srv.cfg.PingInterval; iv > 0 {
		d := max(iv-parkAfter, time.Second)
		s.pmu.Lock()
		s.pinged = false
		s.timer = time.AfterFunc(d, s.parkedTimeout) // it acts only once parked
		s.pmu.Unlock()
	}
	s.parkSt.Store(parked)
	if err := s.srv.poller.wait(s); err != nil {
		if !s.parkSt.CompareAndSwap(parked, running) {
			// An unpark (a close, a resumption) won the race and runs
			// loop in a new goroutine: this one must stop reading.
			return true
		}
		s.srv.log.Debug("cannot park session; keeps its goroutine", append(s.log(), "err", err)...)
		s.stopTimer()
		return false
	}
	if s.out.Closing() {
		// Close ran between the loop's check and parking: its unpark
		// found the session running. Resume it now, or nobody will.
		s.unpark()
	}
	return true
}

// unpark resumes a parked session in a new goroutine; only one caller wins.
func (s *Session) unpark() {
	if !s.parkSt.CompareAndSwap(parked, running) {
		return
	}
	s.stopTimer()
	s.srv.poller.forget(s)
	go s.loop()
}

// parkedTimeout pings an idle parked client, then ends it if the ping
// stays unanswered (XEP-0199 §4.3 keepalive, pitfalls: no ghost sessions).
func (s *Session) parkedTimeout() {
	if s.parkSt.Load() != parked {
		return
	}
	s.pmu.Lock()
	first := !s.pinged
	s.pinged = true
	if first && s.timer != nil {
		s.timer.Reset(s.srv.cfg.PingTimeout)
	}
	s.pmu.Unlock()
	if first {
		s.ping()
		return
	}
	if !s.parkSt.CompareAndSwap(parked, running) {
		return
	}
	go s.finish(stream.NewError("connection-timeout", "no answer to ping"))
}

func (s *Session) stopTimer() {
	s.pmu.Lock()
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	s.pmu.Unlock()
}
