package main

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
)

func registerUsers(t *testing.T, s *fakeServer, n string) *registerResult {
	t.Helper()
	res, err := runRegister(context.Background(), []string{"-server", s.addr(), "-n", n, "-c", "3", "-per-conn", "2"})
	if err != nil {
		t.Fatalf("register: %v", err)
	}
	r := res.(registerResult)
	return &r
}

// XEP-0077 §3.1: a new username is created; an existing one answers
// <conflict/>, which the tool counts as "existed", not as a failure.
func TestRegisterCreatesThenConflicts(t *testing.T) {
	s := newFakeServer(t, "SCRAM-SHA-256")
	if r := registerUsers(t, s, "7"); r.Created != 7 || r.Existed != 0 {
		t.Fatalf("first run: %+v", r)
	}
	if r := registerUsers(t, s, "7"); r.Created != 0 || r.Existed != 7 {
		t.Fatalf("second run: %+v", r)
	}
}

// RFC 6120 §6.3.3: the client picks the mechanism; ours prefers
// SCRAM-SHA-256, then SCRAM-SHA-1, then PLAIN, and never a -PLUS one.
func TestLoginsMechanismChoice(t *testing.T) {
	for _, tc := range []struct {
		offered []string
		want    string
	}{
		{[]string{"SCRAM-SHA-1", "SCRAM-SHA-256", "PLAIN"}, "SCRAM-SHA-256"},
		{[]string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1", "PLAIN"}, "SCRAM-SHA-1"},
		{[]string{"PLAIN"}, "PLAIN"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			s := newFakeServer(t, tc.offered...)
			registerUsers(t, s, "3")
			res, err := runLogins(context.Background(), []string{"-server", s.addr(), "-n", "6", "-c", "2", "-users", "3"})
			if err != nil {
				t.Fatal(err)
			}
			r := res.(loginsResult)
			if r.OK != 6 || r.Failed != 0 || r.Mech != tc.want || r.Latency.N != 6 {
				t.Fatalf("got %+v, want 6 ok with %s", r, tc.want)
			}
		})
	}
}

// A wrong password must fail loudly (SASL <failure/>, RFC 6120 §6.4.5).
func TestLoginsWrongPassword(t *testing.T) {
	s := newFakeServer(t, "SCRAM-SHA-1")
	registerUsers(t, s, "2")
	_, err := runLogins(context.Background(), []string{"-server", s.addr(), "-n", "2", "-users", "2", "-password", "nope"})
	if err == nil || !strings.Contains(err.Error(), "not-authorized") {
		t.Fatalf("err = %v, want a not-authorized failure", err)
	}
}

func TestSessionsReportsRSS(t *testing.T) {
	s := newFakeServer(t, "SCRAM-SHA-256")
	registerUsers(t, s, "5")
	// The fake server runs in this process, so this process is "the server".
	res, err := runSessions(context.Background(), []string{"-server", s.addr(), "-n", "5", "-pid",
		strconv.Itoa(os.Getpid()), "-settle", "0s"})
	if err != nil {
		t.Fatal(err)
	}
	r := res.(sessionsResult)
	if r.Opened != 5 || r.RSSBeforeKB <= 0 || r.RSSAfterKB <= 0 || r.Mech != "SCRAM-SHA-256" {
		t.Fatalf("%+v", r)
	}
}

// Every message sent arrives once, in order, with a latency (RFC 6121 §5
// delivery to the bound resource of an available user).
func TestMessagesOpenAndClosedLoop(t *testing.T) {
	s := newFakeServer(t, "SCRAM-SHA-1")
	registerUsers(t, s, "4")
	for _, rate := range []string{"400", "0"} {
		t.Run("rate="+rate, func(t *testing.T) {
			res, err := runMessages(context.Background(), []string{"-server", s.addr(), "-pairs", "2",
				"-rate", rate, "-window", "4", "-duration", "300ms", "-drain", "5s", "-warmup", "0s"})
			if err != nil {
				t.Fatal(err)
			}
			r := res.(messagesResult)
			if r.Sent == 0 || r.Received != r.Sent || r.Lost != 0 || r.Reordered != 0 || r.Latency.N != int(r.Sent) {
				t.Fatalf("%+v", r)
			}
		})
	}
}

// The tool only ever loads the local machine.
func TestRefusesNonLoopbackServer(t *testing.T) {
	for _, cmd := range commands {
		if _, err := cmd.run(context.Background(), []string{"-server", "192.0.2.1:5222"}); err == nil {
			t.Errorf("%s accepted a non-loopback server", cmd.name)
		}
	}
}

// With -ratelimit-friendly a throttled registration (type='wait') is
// retried on a new connection instead of failing.
func TestRegisterRetriesWhenThrottled(t *testing.T) {
	s := newFakeServer(t, "PLAIN")
	s.throttleEvery = 2 // every 2nd registration answers resource-constraint
	res, err := runRegister(context.Background(), []string{"-server", s.addr(), "-n", "4", "-c", "1", "-ratelimit-friendly"})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.(registerResult); r.Created != 4 || r.Retries == 0 {
		t.Fatalf("%+v", r)
	}
	s2 := newFakeServer(t, "PLAIN")
	s2.throttleEvery = 2
	if _, err := runRegister(context.Background(), []string{"-server", s2.addr(), "-n", "4", "-c", "1"}); err == nil {
		t.Fatal("throttling not reported without -ratelimit-friendly")
	}
}
