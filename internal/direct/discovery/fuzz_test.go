package discovery

import (
	"testing"

	"github.com/miekg/dns"
)

// FuzzCERTAnswer: any DNS answer, as a resolver may send it, gives
// candidates each with a certificate or an error, never a panic.
func FuzzCERTAnswer(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("nurse.b.test.", dns.TypeCERT)
	m.Answer = []dns.RR{&dns.CERT{Hdr: dns.RR_Header{Name: "nurse.b.test.", Rrtype: dns.TypeCERT, Class: dns.ClassINET, Ttl: 60}, Type: certPKIX, Certificate: "MIIB"}}
	if b, err := m.Pack(); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r := new(dns.Msg)
		if r.Unpack(b) != nil {
			return
		}
		cands, _, err := certsFrom(r, "nurse.b.test.", "fuzz")
		for _, c := range cands {
			if (c.Cert == nil) == (c.Err == nil) {
				t.Fatalf("candidate with cert %v and error %v", c.Cert != nil, c.Err)
			}
		}
		if err != nil && len(cands) > 0 {
			t.Fatal("candidates with an error")
		}
	})
}
