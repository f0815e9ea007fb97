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

func TestResetAll(t *testing.T) {
	w := NewWindow(1, time.Minute)
	w.Add("ip:a")
	w.Add("ip:a")
	w.Add("user:b")
	if w.Allowed("ip:a") {
		t.Fatal("ip:a should be over its limit")
	}
	if !w.Reset("ip:a") || w.Reset("ip:a") {
		t.Error("Reset reports whether the key was counted")
	}
	if !w.Allowed("ip:a") {
		t.Error("ip:a still refused after Reset")
	}
	if n := w.ResetAll(); n != 1 {
		t.Errorf("ResetAll = %d, want 1 (user:b)", n)
	}
}

func TestNetworks(t *testing.T) {
	n, err := ParseNetworks([]string{"192.0.2.7", "10.20.0.0/16", "2001:db8::/32", "10.1.2.3/8", "::ffff:172.16.0.0/108"})
	if err != nil {
		t.Fatal(err)
	}
	for ip, want := range map[string]bool{
		"192.0.2.7": true, "192.0.2.8": false, "10.20.255.1": true, "10.21.0.1": true, // 10.1.2.3/8 masks to 10/8
		"::ffff:192.0.2.7": true, "2001:db8::1": true, "2001:db9::1": false, "fe80::1%eth0": false,
		"11.0.0.1": false, "not-an-ip": false, "172.16.3.4": true, "172.31.0.1": true, "172.32.0.1": false,
	} {
		if got := n.Contains(ip); got != want {
			t.Errorf("Contains(%s) = %v, want %v", ip, got, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "example.org", ""} {
		if _, err := ParseNetworks([]string{bad}); err == nil {
			t.Errorf("ParseNetworks(%q): no error", bad)
		}
	}
	if (Networks(nil)).Contains("127.0.0.1") {
		t.Error("empty Networks contains nothing")
	}
}
