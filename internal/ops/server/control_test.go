package server

import "testing"

func TestAmount(t *testing.T) {
	for n, want := range map[int]string{0: "0 sessions", 1: "1 session", 3: "3 sessions"} {
		if got := amount(n, "session"); got != want {
			t.Errorf("amount(%d) = %q, want %q", n, got, want)
		}
	}
}
