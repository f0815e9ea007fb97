package jid

import (
	"testing"
	"unicode/utf8"
)

// FuzzParse: Parse never panics; a parsed JID round-trips through its
// String form; the ASCII fast path agrees with full preparation.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"juliet@example.com/foo", "Σ@example.com/foo", "u@xn--mnchen-3ya.de", "[::1]", "127.0.0.1",
		"u@example。com", "a..b", "u@d/", "@d", "henry\u2163@example.com", "u@[2001:DB8::1]/r",
		"ｊｕｌｉｅｔ@ｅｘａｍｐｌｅ.com/ｒ", "u@ab--c.d", "x@y.z.", "\xff", "u@1\u05d0.com",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		j, err := Parse(s)
		if err != nil {
			return
		}
		again, err := Parse(j.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %q, which does not parse: %v", s, j, err)
		}
		if !again.Equal(j) || again != j {
			t.Fatalf("Parse(%q) = %#v; reparsed %#v", s, j, again)
		}
		if len(j.Local()) > MaxPartLen || len(j.Domain()) > MaxPartLen || len(j.Resource()) > MaxPartLen {
			t.Fatalf("Parse(%q) = %q: a part is over %d octets", s, j, MaxPartLen)
		}
		if !utf8.ValidString(j.String()) {
			t.Fatalf("Parse(%q) produced invalid UTF-8", s)
		}
		// The fast path must give exactly what full preparation gives.
		l, d, r, _ := split(s)
		if isCanonicalLocal(l) && isCanonicalDomain(d) && isCanonicalResource(r) {
			slow, err := build(l, d, r, l != "")
			if err != nil || slow != j {
				t.Fatalf("fast path accepted %q as %#v; full preparation gives %#v, %v", s, j, slow, err)
			}
		}
		// New on the parts rebuilds the same JID.
		n, err := New(j.Local(), j.Domain(), j.Resource())
		if err != nil || n != j {
			t.Fatalf("New(parts of %q) = %#v, %v; want %#v", s, n, err, j)
		}
	})
}

// The fast-path predicates must never accept something the slow path
// rejects or changes; fuzz the predicates directly with ASCII.
func FuzzFastPath(f *testing.F) {
	for _, s := range []string{"a", "a-b.c", "xn--a", "ab--c", "1.2.3.4", "A", "a.", "-a", "ab-"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if isCanonicalDomain(s) {
			if p, err := prepareDomain(s); err != nil || p != s {
				t.Fatalf("domain %q: fast path accepts, prepareDomain = %q, %v", s, p, err)
			}
		}
		if s != "" && isCanonicalLocal(s) {
			if p, err := prepareLocal(s); err != nil || p != s {
				t.Fatalf("local %q: fast path accepts, prepareLocal = %q, %v", s, p, err)
			}
		}
		if s != "" && isCanonicalResource(s) {
			if p, err := prepareResource(s); err != nil || p != s {
				t.Fatalf("resource %q: fast path accepts, prepareResource = %q, %v", s, p, err)
			}
		}
	})
}
