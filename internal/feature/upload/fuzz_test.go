package upload

import (
	"strings"
	"testing"
	"unicode"
)

// FuzzRequestInput: what a client controls, the slot request's file name
// and the HTTP path, never yields a name that is a path or holds control
// characters, nor an id that is not 48 hex digits.
func FuzzRequestInput(f *testing.F) {
	for _, s := range []string{"a.txt", "../x", "/upload/" + strings.Repeat("0", 48) + "/a", "..", "a\x00b", "tr\u00e8s cool.jpg", "/upload//", "\xff"} {
		f.Add(s)
	}
	m := New()
	f.Fuzz(func(t *testing.T, s string) {
		if n, err := checkName(s); err == nil {
			if n != s || n == "" || n == "." || n == ".." || strings.ContainsAny(n, "/\\") || len(n) > 255 {
				t.Fatalf("checkName(%q) accepted %q", s, n)
			}
			for _, r := range n {
				if unicode.IsControl(r) {
					t.Fatalf("checkName(%q) accepted a control character", s)
				}
			}
		}
		if id, _, ok := m.parsePath(s); ok && !validID(id) {
			t.Fatalf("parsePath(%q) gave id %q", s, id)
		}
	})
}
