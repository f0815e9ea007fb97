package jid

import "testing"

var sink JID

func BenchmarkParse(b *testing.B) {
	for _, bc := range []struct{ name, in string }{
		{"ascii-canonical", "juliet@capulet.example/balcony-7f3a"},
		{"ascii-uppercase", "Juliet@Capulet.example/balcony-7f3a"},
		{"unicode", "Jürgen@münchen.example/Küche"},
		{"idna-alabel", "juliet@xn--mnchen-3ya.example/balcony"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				j, err := Parse(bc.in)
				if err != nil {
					b.Fatal(err)
				}
				sink = j
			}
		})
	}
}
