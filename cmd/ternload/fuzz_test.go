package main

import "testing"

func FuzzParseBody(f *testing.F) {
	for _, s := range []string{"1 2", "42 1234567890 xxxx", "", " ", "1  2", "9223372036854775807 1", "-1 1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		seq, ts, ok := parseBody(s)
		if !ok {
			return
		}
		if seq < 0 || ts < 0 {
			t.Fatalf("negative accepted: %q", s)
		}
		// What parses must survive a round trip.
		if s2, t2, ok2 := parseBody(string(appendBody(nil, seq, ts, 0))); !ok2 || s2 != seq || t2 != ts {
			t.Fatalf("round trip of %q", s)
		}
	})
}

func FuzzParseSources(f *testing.F) {
	for _, s := range []string{"", "127.0.0.10-127.0.0.29", "127.0.0.1,127.0.0.2", "10.0.0.1", "127.0.0.1-", "-", ",,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := parseSources(s)
		if err != nil {
			return
		}
		if len(p.addrs) > maxSources {
			t.Fatalf("%d addresses", len(p.addrs))
		}
		for _, a := range p.addrs {
			if !a.IP.IsLoopback() || a.IP.To4() == nil {
				t.Fatalf("%q gave %v", s, a.IP)
			}
		}
	})
}

func FuzzParseStat(f *testing.F) {
	f.Add([]byte("1 (x) S 0 1 1 0 -1 0 0 0 0 0 1 2 0 0 20 0 1 0 1 1 3 0"))
	f.Add([]byte("1 (a) b) S"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_ = parseStat(b)
		_, _ = vmRSSKB(b)
	})
}
