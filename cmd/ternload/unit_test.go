package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

func TestParseSources(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string // nil with wantErr
		err  bool
	}{
		{"", []string{}, false},
		{"127.0.0.10-127.0.0.12", []string{"127.0.0.10", "127.0.0.11", "127.0.0.12"}, false},
		{"127.0.0.5", []string{"127.0.0.5"}, false},
		{"127.0.0.1, 127.0.0.3", []string{"127.0.0.1", "127.0.0.3"}, false},
		{"127.0.0.255-127.0.1.0", []string{"127.0.0.255", "127.0.1.0"}, false},
		{"10.0.0.1", nil, true},                  // not loopback
		{"127.0.0.1-10.0.0.1", nil, true},        // end outside 127/8
		{"127.0.0.9-127.0.0.2", nil, true},       // reversed
		{"::1", nil, true},                       // IPv4 only
		{"127.0.0.0-127.255.255.255", nil, true}, // too many
		{"bogus", nil, true},
	} {
		p, err := parseSources(tc.in)
		if tc.err {
			if err == nil {
				t.Errorf("%q: no error", tc.in)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%q: %v", tc.in, err)
		}
		var got []string
		for range tc.want {
			got = append(got, p.next().(interface{ String() string }).String())
		}
		if strings.Join(got, " ") != strings.Join(addPorts(tc.want), " ") {
			t.Errorf("%q: got %v", tc.in, got)
		}
		if len(tc.want) == 0 && p.next() != nil {
			t.Errorf("%q: want kernel's choice (nil)", tc.in)
		}
	}
}

func addPorts(ips []string) []string {
	out := make([]string, len(ips))
	for i, ip := range ips {
		out[i] = ip + ":0"
	}
	return out
}

func TestCheckLoopback(t *testing.T) {
	for in, ok := range map[string]bool{
		"127.0.0.1:5222": true, "127.9.9.9:1": true, "localhost:5222": true,
		"10.0.0.1:5222": false, "example.com:5222": false, "127.0.0.1": false, "[::1]:5222": false,
	} {
		if err := checkLoopback(in); (err == nil) != ok {
			t.Errorf("%s: err=%v", in, err)
		}
	}
}

func TestPickMech(t *testing.T) {
	for _, tc := range []struct {
		want    string
		offered []string
		got     string
		err     bool
	}{
		{"AUTO", []string{"PLAIN", "SCRAM-SHA-1", "SCRAM-SHA-256"}, "SCRAM-SHA-256", false},
		{"AUTO", []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1"}, "SCRAM-SHA-1", false},
		{"AUTO", []string{"plain"}, "PLAIN", false},
		{"AUTO", []string{"EXTERNAL"}, "", true},
		{"PLAIN", []string{"PLAIN", "SCRAM-SHA-1"}, "PLAIN", false},
		{"SCRAM-SHA-256", []string{"SCRAM-SHA-1"}, "", true},
	} {
		got, err := pickMech(tc.want, tc.offered)
		if (err != nil) != tc.err || got != tc.got {
			t.Errorf("pickMech(%s, %v) = %q, %v", tc.want, tc.offered, got, err)
		}
	}
}

func TestBodyRoundTrip(t *testing.T) {
	for _, pad := range []int{0, 1, 40} {
		b := appendBody(nil, 42, 1234567890123, pad)
		seq, ts, ok := parseBody(string(b))
		if !ok || seq != 42 || ts != 1234567890123 {
			t.Errorf("pad %d: %q -> %d %d %v", pad, b, seq, ts, ok)
		}
	}
	for _, bad := range []string{"", "1", "a b", "1 b", "-1 5", "1 -5", " 1 2"} {
		if _, _, ok := parseBody(bad); ok {
			t.Errorf("parseBody(%q) accepted", bad)
		}
	}
}

// The stanza the senders write must parse as a jabber:client message whose
// body decodes back to the same sequence and time.
func TestAppendMessageParses(t *testing.T) {
	stream := "<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>" +
		string(appendMessage(nil, escapeText("a&b'c@bench.test"), 7, 99, 3))
	d := xml.NewDecoder(strings.NewReader(stream), xml.DefaultLimits)
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.ReadElement()
	if err != nil {
		t.Fatal(err)
	}
	if el.Space != xml.NSClient || el.Name != "message" || el.Attr("type") != "chat" || el.Attr("to") != "a&b'c@bench.test" {
		t.Fatalf("%s", el)
	}
	if seq, ts, ok := parseBody(el.ChildText("", "body")); !ok || seq != 7 || ts != 99 {
		t.Fatalf("body %q", el.ChildText("", "body"))
	}
}

func TestSummarize(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- { // unsorted on purpose
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	s := summarize(d)
	if s.N != 100 || s.P50 != 50 || s.P90 != 90 || s.P99 != 99 || s.Max != 100 || s.Mean != 50.5 {
		t.Fatalf("%+v", s)
	}
	if (summarize(nil) != latencyMS{}) {
		t.Fatal("empty input")
	}
	if one := summarize([]time.Duration{time.Millisecond}); one.P50 != 1 || one.P999 != 1 {
		t.Fatalf("%+v", one)
	}
}

func TestProcParsing(t *testing.T) {
	stat := []byte("1234 (we)ird name) S 77 1 1 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0 100 999 4321 18446744073709551615")
	st := parseStat(stat)
	if st.parseError != nil || st.ppid != 77 || st.cpuTicks != 300 || st.rssPages != 4321 {
		t.Fatalf("%+v", st)
	}
	if parseStat([]byte("garbage")).parseError == nil {
		t.Fatal("garbage accepted")
	}
	kb, err := vmRSSKB([]byte("Name:\tx\nVmPeak:\t 10 kB\nVmRSS:\t   5120 kB\n"))
	if err != nil || kb != 5120 {
		t.Fatalf("%d %v", kb, err)
	}
	if _, err := vmRSSKB([]byte("Name:\tkthreadd\n")); err == nil {
		t.Fatal("missing VmRSS accepted")
	}
}

func TestPerCPU(t *testing.T) {
	if got := perCPU(50, 25); got != 200 {
		t.Fatalf("got %v", got)
	}
	if got := perCPU(50, 0); got != 0 {
		t.Fatalf("got %v", got)
	}
}
