package jid

import (
	"strings"
	"testing"
)

// RFC 7622 §3.5.1 examples plus mapping rules; want is the canonical form.
func TestParseValid(t *testing.T) {
	for _, tc := range []struct {
		in, want, local, domain, resource string
	}{
		// §3.5.1
		{"juliet@example.com", "juliet@example.com", "juliet", "example.com", ""},
		{"juliet@example.com/foo", "juliet@example.com/foo", "juliet", "example.com", "foo"},
		{"juliet@example.com/foo bar", "juliet@example.com/foo bar", "juliet", "example.com", "foo bar"},
		{"juliet@example.com/foo@bar", "juliet@example.com/foo@bar", "juliet", "example.com", "foo@bar"},
		{`foo\20bar@example.com`, `foo\20bar@example.com`, `foo\20bar`, "example.com", ""},
		{"fussball@example.com", "fussball@example.com", "fussball", "example.com", ""},
		{"fußball@example.com", "fußball@example.com", "fußball", "example.com", ""},
		{"π@example.com", "π@example.com", "π", "example.com", ""},
		{"Σ@example.com/foo", "σ@example.com/foo", "σ", "example.com", "foo"},
		{"σ@example.com/foo", "σ@example.com/foo", "σ", "example.com", "foo"},
		{"ς@example.com/foo", "ς@example.com/foo", "ς", "example.com", "foo"},
		{"king@example.com/♚", "king@example.com/♚", "king", "example.com", "♚"},
		{"example.com", "example.com", "", "example.com", ""},
		{"example.com/foobar", "example.com/foobar", "", "example.com", "foobar"},
		{"a.example.com/b@example.net", "a.example.com/b@example.net", "", "a.example.com", "b@example.net"},
		// §3.1: only the first '/' separates; '@' after it is resource.
		{"u@d/r/s@t", "u@d/r/s@t", "u", "d", "r/s@t"},
		{"d//", "d//", "", "d", "/"},
		// Spaces are allowed in the resourcepart (OpaqueString), even leading.
		{"juliet@example.com/ foo", "juliet@example.com/ foo", "juliet", "example.com", " foo"},
		// Case mapping of the localpart (UsernameCaseMapped), not the resource.
		{"Juliet@Example.COM/Balcony", "juliet@example.com/Balcony", "juliet", "example.com", "Balcony"},
		{"ÄÖÜ@example.com", "äöü@example.com", "äöü", "example.com", ""},
		// Width mapping: full-width letters become ASCII.
		{"ｊｕｌｉｅｔ@example.com", "juliet@example.com", "juliet", "example.com", ""},
		// Non-ASCII space in the resource maps to U+0020 (OpaqueString).
		{"u@d/a\u3000b", "u@d/a b", "u", "d", "a b"},
		// Domain: trailing dot, case, IDNA (A-labels become U-labels).
		{"example.net.", "example.net", "", "example.net", ""},
		{"A.Example.nEt.", "a.example.net", "", "a.example.net", ""},
		{"u@München.de", "u@münchen.de", "u", "münchen.de", ""},
		{"u@xn--mnchen-3ya.de", "u@münchen.de", "u", "münchen.de", ""},
		{"u@XN--MNCHEN-3YA.DE/r", "u@münchen.de/r", "u", "münchen.de", "r"},
		{"u@ｅｘａｍｐｌｅ.com", "u@example.com", "u", "example.com", ""},
		{"u@example。com", "u@example.com", "u", "example.com", ""},
		{"u@example.com。", "u@example.com", "u", "example.com", ""},
		// IP literals.
		{"[::1]", "[::1]", "", "[::1]", ""},
		{"u@[2001:DB8:0:0:0:0:0:1]/r", "u@[2001:db8::1]/r", "u", "[2001:db8::1]", "r"},
		{"127.0.0.1", "127.0.0.1", "", "127.0.0.1", ""},
		{"u@192.0.2.1./r", "u@192.0.2.1/r", "u", "192.0.2.1", "r"},
		// Length limits are inclusive.
		{strings.Repeat("a", 1023) + "@d", strings.Repeat("a", 1023) + "@d", strings.Repeat("a", 1023), "d", ""},
		{"d/" + strings.Repeat("r", 1023), "d/" + strings.Repeat("r", 1023), "", "d", strings.Repeat("r", 1023)},
	} {
		j, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if j.String() != tc.want || j.Local() != tc.local || j.Domain() != tc.domain || j.Resource() != tc.resource {
			t.Errorf("Parse(%q) = %q (%q, %q, %q); want %q (%q, %q, %q)", tc.in,
				j.String(), j.Local(), j.Domain(), j.Resource(), tc.want, tc.local, tc.domain, tc.resource)
		}
		if !j.Equal(MustParse(tc.want)) {
			t.Errorf("Parse(%q) is not Equal to Parse(%q)", tc.in, tc.want)
		}
	}
}

// RFC 7622 §3.5.2 examples and the other rules of §3.
func TestParseInvalid(t *testing.T) {
	for _, in := range []string{
		// §3.5.2
		`"juliet"@example.com`,
		`foo bar@example.com`,
		"henry\u2163@example.com", // ROMAN NUMERAL FOUR: compatibility char, disallowed
		"♚@example.com",           // symbols are not in the IdentifierClass
		"juliet@",
		"/foobar",
		// Empty parts with separators.
		"@example.com", "@example.com/r", "example.com/", "u@example.com/", "u@/r", "", "@", "/",
		// §3.3.1 forbidden characters.
		`b&d@example.net`, `b'd@example.net`, `b:d@example.net`, `b<d@example.net`, `b>d@example.net`,
		"b\uFF1Ad@example.net", // FULLWIDTH COLON maps to ':' and is then forbidden
		// Control characters.
		"u\x00@d", "u@d/\x00", "u@d/a\tb", "u\x7f@d",
		// Invalid UTF-8.
		"\xff@d", "u@\xff", "u@d/\xff",
		// Domains.
		"u@exa mple.com", "u@-example.com", "u@example-.com", "u@ab--cd.com", "u@a..b", "u@.a", "u@a..",
		"u@example.com.。", "u@xn--a.com", "u@exa_mple.com", "u@exa\uff0fmple", "u@d\u200d", "u@\uff20d",
		"[127.0.0.1]", "[::1", "::1]", "[fe80::1%eth0]", "[]", "[example.com]",
		// Bidi rule (RFC 5893) on the domain: RTL label with a leading digit.
		"u@1\u05d0.com",
		// Length limits.
		strings.Repeat("a", 1024) + "@d",
		"d/" + strings.Repeat("r", 1024),
		strings.Repeat("a.", 512) + "b", // 1025 octets
		strings.Repeat("é", 512) + "@d", // 1024 octets after preparation
	} {
		if j, err := Parse(in); err == nil {
			t.Errorf("Parse(%.80q) = %q; want an error", in, j)
		}
	}
}

func TestNew(t *testing.T) {
	for _, tc := range []struct {
		l, d, r, want string
		ok            bool
	}{
		{"Juliet", "Example.com", "Balcony", "juliet@example.com/Balcony", true},
		{"", "example.com", "", "example.com", true},
		{"", "example.com", "r/s@t", "example.com/r/s@t", true},
		{"b@d", "example.net", "", "", false},
		{"b/d", "example.net", "", "", false},
		{"e", "[example.net]", "", "", false},
		{"e", "exa/mple", "", "", false},
		{"e", "exa@mple", "", "", false},
		{"e", "", "r", "", false},
		{"e", "d", "a\x00", "", false},
	} {
		j, err := New(tc.l, tc.d, tc.r)
		if (err == nil) != tc.ok || tc.ok && j.String() != tc.want {
			t.Errorf("New(%q, %q, %q) = %q, %v; want %q (ok=%v)", tc.l, tc.d, tc.r, j, err, tc.want, tc.ok)
		}
		if tc.ok {
			// New and Parse agree on the same address.
			if p := MustParse(tc.want); !p.Equal(j) || p != j {
				t.Errorf("New(%q, %q, %q) = %#v; Parse gives %#v", tc.l, tc.d, tc.r, j, p)
			}
		}
	}
}

func TestDerived(t *testing.T) {
	full := MustParse("u@d.example/r")
	if b := full.Bare(); b.String() != "u@d.example" || !b.IsBare() || b.IsDomain() || b.Resource() != "" || b.Local() != "u" {
		t.Errorf("Bare = %#v", b)
	}
	if d := full.DomainJID(); d.String() != "d.example" || !d.IsDomain() || d.Local() != "" || d.Domain() != "d.example" {
		t.Errorf("DomainJID = %#v", d)
	}
	if d := MustParse("d.example/r").DomainJID(); d != MustParse("d.example") {
		t.Errorf("DomainJID of a domain/resource = %#v", d)
	}
	if full.IsBare() || full.IsDomain() || full.IsZero() {
		t.Errorf("full JID predicates wrong")
	}
	var zero JID
	if !zero.IsZero() || zero.IsBare() || zero.IsDomain() || zero.String() != "" || zero.Domain() != "" {
		t.Errorf("zero JID predicates wrong")
	}
	w, err := full.WithResource("Ｆ")
	if err != nil || w.String() != "u@d.example/Ｆ" || w.Resource() != "Ｆ" { // OpaqueString does no width mapping
		t.Errorf("WithResource = %q, %v", w, err)
	}
	if w, err := full.WithResource(""); err != nil || w != full.Bare() {
		t.Errorf("WithResource(\"\") = %q, %v; want the bare JID", w, err)
	}
	if _, err := full.WithResource("a\x00"); err == nil {
		t.Errorf("WithResource accepted a control character")
	}
	if _, err := zero.WithResource("r"); err == nil {
		t.Errorf("WithResource on the zero JID succeeded")
	}
	// Equal ignores how the input was spelled.
	if !MustParse("U@D.Example./r").Equal(full) {
		t.Errorf("Equal after preparation failed")
	}
	if MustParse("u@d.example/R").Equal(full) {
		t.Errorf("resourceparts are case-sensitive but compared equal")
	}
}

func TestMustParsePanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("MustParse did not panic on an invalid JID")
		}
	}()
	MustParse("@")
}
