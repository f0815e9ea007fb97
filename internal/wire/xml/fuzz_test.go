package xml

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzDecoder: never panics; every error is an *Error, the end of the
// stream or an io error.
func FuzzDecoder(f *testing.F) {
	for _, s := range seedStanzas() {
		f.Add([]byte(testHeader + s + "</stream:stream>"))
	}
	f.Add([]byte(testHeader + `<a><b></a>`))
	f.Add([]byte(`<?xml version='1.0' encoding='latin1'?><stream:stream/>`))
	f.Add([]byte(testHeader + `<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		lim := Limits{MaxStanzaBytes: 4096, MaxDepth: 16}
		_, els, err := decodeAll(strings.NewReader(string(in)), lim)
		var xe *Error
		if !errors.As(err, &xe) && !errors.Is(err, ErrStreamEnd) && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("unexpected error type %T: %v", err, err)
		}
		// Chunking must not change the result.
		_, els1, err1 := decodeAll(iotest.OneByteReader(strings.NewReader(string(in))), lim)
		var xe1 *Error
		if len(els1) != len(els) || errors.As(err1, &xe1) != (xe != nil) {
			t.Fatalf("whole: %d elements, %v; byte by byte: %d elements, %v", len(els), err, len(els1), err1)
		}
		for i := range els {
			if !equal(els[i], els1[i]) {
				t.Fatalf("element %d differs: %s vs %s", i, dump(els[i]), dump(els1[i]))
			}
		}
	})
}

// FuzzRoundTrip: whatever decodes serializes and decodes back to an equal tree.
func FuzzRoundTrip(f *testing.F) {
	for _, s := range seedStanzas() {
		f.Add(s)
	}
	f.Add("<a b='&#9;'>&#13;\r\n</a>")
	f.Fuzz(func(t *testing.T, body string) {
		roundTrip(t, body)
	})
}
