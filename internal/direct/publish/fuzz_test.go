package publish

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzAnswer: any query a client sends gets an answer that packs, never a
// panic.
func FuzzAnswer(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("nurse.b.test.", dns.TypeCERT)
	if b, err := m.Pack(); err == nil {
		f.Add(b)
	}
	z, err := Build([]Domain{{Name: "b.test", Addresses: map[string][]*x509.Certificate{"nurse@b.test": nil}, S2SPort: 5269}}, time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		req := new(dns.Msg)
		if req.Unpack(b) != nil || len(req.Question) != 1 {
			return
		}
		r := new(dns.Msg)
		r.SetReply(req)
		z.Answer(req.Question[0], r)
		if _, err := r.Pack(); err != nil {
			t.Fatalf("answer to %v does not pack: %v", req.Question[0], err)
		}
	})
}
