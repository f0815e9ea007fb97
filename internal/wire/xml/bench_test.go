package xml

import (
	"bytes"
	stdxml "encoding/xml"
	"errors"
	"io"
	"sync"
	"testing"
)

const benchStanzas = 20000

var benchStream = sync.OnceValue(func() []byte { return recordedStream(benchStanzas) })

func reportPerStanza(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchStanzas), "ns/stanza")
}

// BenchmarkTokenizer: lexing and validation only; 0 allocs/op once the
// tokenizer's buffers exist (it is Reset between runs, as after STARTTLS).
func BenchmarkTokenizer(b *testing.B) {
	s := benchStream()
	r := bytes.NewReader(s)
	t := NewTokenizer(r, Limits{})
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(s)
		t.Reset(r)
		for {
			if _, err := t.Next(); err != nil {
				if !errors.Is(err, ErrStreamEnd) {
					b.Fatal(err)
				}
				break
			}
		}
	}
	reportPerStanza(b)
}

// BenchmarkDecoder: the full Decoder, building one Element tree per stanza.
func BenchmarkDecoder(b *testing.B) {
	s := benchStream()
	r := bytes.NewReader(s)
	d := NewDecoder(r, Limits{})
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(s)
		d.Reset(r)
		if _, err := d.ReadHeader(); err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := d.ReadElement(); err != nil {
				if !errors.Is(err, ErrStreamEnd) {
					b.Fatal(err)
				}
				break
			}
		}
	}
	reportPerStanza(b)
}

// BenchmarkEncodingXML: encoding/xml's Token on the same stream (the
// baseline of go-libraries.md §A; it builds no tree).
func BenchmarkEncodingXML(b *testing.B) {
	s := benchStream()
	b.SetBytes(int64(len(s)))
	b.ReportAllocs()
	for b.Loop() {
		d := stdxml.NewDecoder(bytes.NewReader(s))
		for {
			if _, err := d.Token(); err != nil {
				if err != io.EOF {
					b.Fatal(err)
				}
				break
			}
		}
	}
	reportPerStanza(b)
}

// BenchmarkAppend: serializing the stream's stanzas into a reused buffer.
func BenchmarkAppend(b *testing.B) {
	_, els, _ := decodeAll(bytes.NewReader(benchStream()), Limits{})
	var buf []byte
	n := 0
	for _, e := range els {
		n += len(Append(nil, e, NSClient))
	}
	b.SetBytes(int64(n))
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range els {
			buf = Append(buf[:0], e, NSClient)
		}
	}
}
