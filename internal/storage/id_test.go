package storage

import (
	"math"
	"testing"
)

func TestIDOrder(t *testing.T) {
	ns := []int64{0, 1, 31, 32, 1000, 1 << 40, math.MaxInt64 - 1, math.MaxInt64}
	for i, n := range ns {
		id := EncodeID(n)
		if got, err := DecodeID(id); err != nil || got != n {
			t.Errorf("DecodeID(EncodeID(%d)=%q) = %d, %v", n, id, got, err)
		}
		if i > 0 && EncodeID(ns[i-1]) >= id {
			t.Errorf("EncodeID(%d) = %q does not sort above EncodeID(%d) = %q", n, id, ns[i-1], EncodeID(ns[i-1]))
		}
	}
	for _, bad := range []string{"", "0", "000000000000", "00000000000000", "800000000000", "8000000000000",
		"000000000000w", "000000000000A", "00000000000-0"} {
		if _, err := DecodeID(bad); err == nil {
			t.Errorf("DecodeID(%q) succeeded", bad)
		}
	}
}

// FuzzDecodeID: any string decodes to an error or to the one id whose
// encoding it is.
func FuzzDecodeID(f *testing.F) {
	for _, s := range []string{EncodeID(0), EncodeID(12345), EncodeID(math.MaxInt64), "7vvvvvvvvvvvv", "zzz", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := DecodeID(s)
		if err != nil {
			return
		}
		if n < 0 {
			t.Fatalf("DecodeID(%q) = %d, negative", s, n)
		}
		if back := EncodeID(n); back != s {
			t.Fatalf("DecodeID(%q) = %d, which encodes as %q", s, n, back)
		}
	})
}
