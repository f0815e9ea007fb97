package c2s

import (
	"errors"
	"math"
	"testing"

	"github.com/tern-xmpp/tern/internal/wire/stream"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// XEP-0198 §4: h counts modulo 2^32, so an ack across the wrap is still
// the difference from the last one.
func TestAckWrapsAround(t *testing.T) {
	s := &Session{} // no connection: no re-request is written
	s.sm.on = true
	s.sm.ackedH = math.MaxUint32 - 1
	s.sm.outH = 1
	for range 3 {
		s.sm.unacked = append(s.sm.unacked, smItem{xml.New(xml.NSClient, "message"), 10})
	}
	if err := s.ack(0); err != nil { // MaxUint32-1 -> 0 acknowledges two stanzas
		t.Fatal(err)
	}
	if len(s.sm.unacked) != 1 || s.sm.ackedH != 0 {
		t.Fatalf("after ack 0: %d unacked, ackedH %d; want 1, 0", len(s.sm.unacked), s.sm.ackedH)
	}
	err := s.ack(2) // one more than is unacknowledged
	var se *stream.Error
	if !errors.As(err, &se) || se.Condition != "undefined-condition" || se.App == nil || se.App.Name != "handled-count-too-high" {
		t.Fatalf("ack beyond what was sent: %v", err)
	}
	if err := s.ack(1); err != nil || len(s.sm.unacked) != 0 {
		t.Fatalf("ack 1: %v, %d unacked", err, len(s.sm.unacked))
	}
	if err := s.ack(1); err != nil {
		t.Fatalf("a repeated ack is no error: %v", err)
	}
}

// The queue's byte count follows what is acknowledged.
func TestAckBytes(t *testing.T) {
	s := &Session{}
	s.sm.on = true
	for i := range 4 {
		s.smCountForTest(xml.New(xml.NSClient, "message"), 100*(i+1))
	}
	if s.sm.unackedBytes != 1000 {
		t.Fatalf("unackedBytes = %d, want 1000", s.sm.unackedBytes)
	}
	if err := s.ack(3); err != nil {
		t.Fatal(err)
	}
	if s.sm.unackedBytes != 400 || len(s.sm.unacked) != 1 {
		t.Fatalf("after ack 3: %d bytes, %d stanzas; want 400, 1", s.sm.unackedBytes, len(s.sm.unacked))
	}
	if got := s.takeUnacked(); len(got) != 1 || s.sm.unackedBytes != 0 {
		t.Fatalf("takeUnacked: %d stanzas, %d bytes left", len(got), s.sm.unackedBytes)
	}
}

func (s *Session) smCountForTest(el *xml.Element, size int) {
	s.smCount(el, size)
}
