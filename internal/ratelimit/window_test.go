package ratelimit

import (
	"testing"
	"time"
)

func TestWindowLimits(t *testing.T) {
	w := NewWindow(3, time.Hour)
	for i := 0; i < 3; i++ {
		if !w.Add("1.2.3.4") {
			t.Fatalf("event %d refused, want allowed (limit 3)", i+1)
		}
	}
	if w.Add("1.2.3.4") {
		t.Fatal("4th event allowed, want refused")
	}
	if w.Allowed("1.2.3.4") {
		t.Fatal("Allowed after limit, want false")
	}
	if !w.Allowed("5.6.7.8") || !w.Add("5.6.7.8") {
		t.Fatal("other key affected by the first")
	}
	w.Reset("1.2.3.4")
	if !w.Allowed("1.2.3.4") {
		t.Fatal("Reset did not clear the key")
	}
}

func TestWindowZeroDisables(t *testing.T) {
	w := NewWindow(0, time.Minute)
	for i := 0; i < 100; i++ {
		if !w.Add("k") {
			t.Fatal("zero Max must disable the limit")
		}
	}
	var nilw *Window
	if !nilw.Add("k") || !nilw.Allowed("k") {
		t.Fatal("nil window must allow")
	}
}

func TestWindowRollsOver(t *testing.T) {
	w := NewWindow(2, time.Hour)
	w.Add("k")
	w.Add("k")
	e := w.keys["k"]
	e.start = e.start.Add(-3 * time.Hour) // two windows ago: forgotten
	if !w.Add("k") {
		t.Fatal("old events still counted after two periods")
	}
}
