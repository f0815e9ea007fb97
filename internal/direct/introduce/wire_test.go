package introduce

import (
	"crypto/x509"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// lab is a root, an intermediate, an address-bound and a domain-bound leaf.
type lab struct {
	root, inter    *trusttest.CA
	nurse, domain  *trusttest.Leaf
	otherAddrLeaf  *trusttest.Leaf
	chainNurse     []*x509.Certificate
	chainDomain    []*x509.Certificate
	chainOtherAddr []*x509.Certificate
}

func newLab(t *testing.T) *lab {
	t.Helper()
	l := &lab{}
	l.root = trusttest.NewRoot(t, "Root", trusttest.Opts{})
	l.inter = l.root.Intermediate(t, "Issuing", trusttest.Opts{})
	email := []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}
	l.nurse = l.inter.Leaf(t, "nurse@example.org", trusttest.Opts{DNSNames: []string{}, Emails: []string{"nurse@example.org"}, EKU: email})
	l.domain = l.inter.Leaf(t, "example.org", trusttest.Opts{DNSNames: []string{"example.org"}, EKU: email})
	l.otherAddrLeaf = l.inter.Leaf(t, "x@example.org", trusttest.Opts{DNSNames: []string{}, Emails: []string{"x@example.org"}, EKU: email})
	l.chainNurse = []*x509.Certificate{l.nurse.Cert, l.inter.Cert}
	l.chainDomain = []*x509.Certificate{l.domain.Cert}
	l.chainOtherAddr = []*x509.Certificate{l.otherAddrLeaf.Cert}
	return l
}

// reparse writes el out and reads it back, as it crosses a stream.
func reparse(t testing.TB, el *xml.Element) *xml.Element {
	t.Helper()
	back, err := xml.Parse([]byte(el.String()))
	if err != nil {
		t.Fatalf("%s does not parse back: %v", el, err)
	}
	return back
}

func TestRequestRoundTrip(t *testing.T) {
	for _, c := range []struct {
		in   Request
		want string
	}{
		{Request{Address: "Nurse@Example.org"}, "nurse@example.org"},
		{Request{Address: "nurse@example.org", Purpose: "verify"}, "nurse@example.org"},
	} {
		q, err := ParseRequest(reparse(t, c.in.Element()))
		if err != nil || q.Address != c.want || q.Purpose != c.in.Purpose {
			t.Errorf("%+v: got %+v, %v", c.in, q, err)
		}
	}
	for _, bad := range []string{
		`<introduce xmlns='urn:tern:direct:introduce:0'/>`,
		`<introduce xmlns='urn:tern:direct:introduce:0' address='example.org'/>`,
		`<introduce xmlns='urn:tern:direct:introduce:0' address='@example.org'/>`,
		`<introduce xmlns='urn:tern:direct:introduce:0' address='a@b@example.org'/>`,
		`<introduce xmlns='urn:tern:direct:introduce:0' address='a@example.org/res'/>`,
		`<introduce xmlns='urn:tern:direct:introduce:0' address='a@example.org' purpose='sign'/>`,
		`<introduce xmlns='urn:other' address='a@example.org'/>`,
	} {
		el, err := xml.Parse([]byte(bad))
		if err != nil {
			t.Fatal(err)
		}
		if q, err := ParseRequest(el); err == nil {
			t.Errorf("%s: accepted as %+v", bad, q)
		}
	}
}

func TestAnswerRoundTrip(t *testing.T) {
	l := newLab(t)
	in := Answer{Address: "nurse@example.org", Purpose: "encrypt", Tried: []string{"peer example.org: 2 certificate(s)"}, Certs: []Cert{
		{Chain: l.chainNurse, Source: "peer", Where: "example.org", Usable: true, Bound: "address"},
		{Chain: l.chainDomain, Source: "dns", Where: "example.org", Reason: "expired", Detail: "not after ..."},
	}}
	got, bad, err := ParseAnswer(reparse(t, in.Element()), "nurse@example.org")
	if err != nil || len(bad) != 0 {
		t.Fatalf("ParseAnswer: %v %v", err, bad)
	}
	if len(got.Certs) != 2 || len(got.Certs[0].Chain) != 2 || !got.Certs[0].Chain[1].Equal(l.inter.Cert) || !got.Certs[1].Chain[0].Equal(l.domain.Cert) {
		t.Fatalf("certificates did not come back: %+v", got.Certs)
	}
	c0, c1 := got.Certs[0], got.Certs[1]
	if c0.Source != "peer" || c0.Where != "example.org" || !c0.Usable || c0.Bound != "address" || c0.Reason != "" ||
		c1.Usable || c1.Reason != "expired" || c1.Detail != "not after ..." || got.Purpose != "encrypt" || len(got.Tried) != 1 {
		t.Errorf("verdicts did not come back: %+v", got)
	}
	// A peer's answer carries no verdict: nothing is usable until checked.
	plain := Answer{Address: "nurse@example.org", Certs: []Cert{{Chain: l.chainNurse}}}
	el := plain.Element()
	if strings.Contains(el.String(), "usable") || strings.Contains(el.String(), "source") {
		t.Errorf("a peer's answer has verdict attributes: %s", el)
	}
}

// TestParseAnswerRefuses: what a hostile or broken peer may send.
func TestParseAnswerRefuses(t *testing.T) {
	l := newLab(t)
	b64 := base64.StdEncoding.EncodeToString(l.nurse.Cert.Raw)
	cert := func(inner string) string {
		return "<cert><x509-cert-chain xmlns='urn:xmpp:x509:0'>" + inner + "</x509-cert-chain></cert>"
	}
	one := "<x509-cert>" + b64 + "</x509-cert>"
	wrap := func(addr string, body ...string) string {
		return "<introduce xmlns='urn:tern:direct:introduce:0' address='" + addr + "'>" + strings.Join(body, "") + "</introduce>"
	}
	for _, c := range []struct {
		name    string
		xml     string
		whole   string // the answer refused, naming this
		bad     int    // certificates skipped
		certs   int    // certificates kept
		badText string
	}{
		{name: "fine, line breaks in the base64", xml: wrap("nurse@example.org", cert("<x509-cert>\n"+b64[:64]+"\n"+b64[64:]+"\n</x509-cert>")), certs: 1},
		{name: "another address", xml: wrap("x@example.org", cert(one)), whole: "not \"nurse@example.org\""},
		{name: "too many", xml: wrap("nurse@example.org", strings.Repeat(cert(one), MaxCerts+1)), whole: "more than 16 certificates"},
		{name: "too long a chain", xml: wrap("nurse@example.org", cert(strings.Repeat(one, MaxChain+1))), bad: 1, badText: "more than 6"},
		{name: "not base64", xml: wrap("nurse@example.org", cert("<x509-cert>!!!</x509-cert>"), cert(one)), bad: 1, certs: 1, badText: "not base64"},
		{name: "not a certificate", xml: wrap("nurse@example.org", cert("<x509-cert>AAAA</x509-cert>")), bad: 1, badText: "certificate 1 of the chain"},
		{name: "empty chain", xml: wrap("nurse@example.org", cert("")), bad: 1, badText: "empty"},
		{name: "no chain", xml: wrap("nurse@example.org", "<cert/>"), bad: 1, badText: "no <x509-cert-chain/>"},
		{name: "huge certificate", xml: wrap("nurse@example.org", cert("<x509-cert>"+strings.Repeat("A", 4*MaxCertBytes)+"</x509-cert>")), bad: 1, badText: "larger than"},
		{name: "over the answer's bound", xml: wrap("nurse@example.org", strings.Repeat(cert("<x509-cert>"+base64.StdEncoding.EncodeToString(fakeDER(MaxCertBytes-100))+"</x509-cert>"), 10)), whole: "bytes of certificates"},
		{name: "not an answer", xml: "<query xmlns='urn:other'/>", whole: "no <introduce/>"},
		{name: "extensions ignored", xml: wrap("nurse@example.org", "<x xmlns='urn:ext'/>", cert(one)), certs: 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			el, err := xml.Parse([]byte(c.xml))
			if err != nil {
				t.Fatal(err)
			}
			a, bad, err := ParseAnswer(el, "nurse@example.org")
			if c.whole != "" {
				if err == nil || !strings.Contains(err.Error(), c.whole) {
					t.Fatalf("got %v; want the answer refused: %s", err, c.whole)
				}
				return
			}
			if err != nil || len(bad) != c.bad || len(a.Certs) != c.certs {
				t.Fatalf("got %d certificates, %d bad (%v), %v; want %d, %d", len(a.Certs), len(bad), bad, err, c.certs, c.bad)
			}
			if c.bad > 0 && !strings.Contains(bad[0].Error(), c.badText) {
				t.Errorf("bad certificate: %v; want it to say %q", bad[0], c.badText)
			}
		})
	}
}

// fakeDER is n bytes that decode as base64 fine and fail as a certificate.
func fakeDER(n int) []byte { return make([]byte, n) }

// FuzzParseAnswer: any element; no panic, the bounds hold, and what is
// accepted survives a round trip.
func FuzzParseAnswer(f *testing.F) {
	f.Add(`<introduce xmlns='urn:tern:direct:introduce:0' address='a@b'><cert><x509-cert-chain xmlns='urn:xmpp:x509:0'><x509-cert>AAAA</x509-cert></x509-cert-chain></cert></introduce>`)
	f.Add(`<introduce xmlns='urn:tern:direct:introduce:0' address='a@b'><tried>x</tried><cert source='dns' usable='true'/></introduce>`)
	f.Add(`<introduce xmlns='urn:tern:direct:introduce:0' address='a@b' purpose='verify'/>`)
	f.Fuzz(func(t *testing.T, s string) {
		el, err := xml.Parse([]byte(s))
		if err != nil {
			return
		}
		_, _ = ParseRequest(el)
		a, bad, err := ParseAnswer(el, "a@b")
		if err != nil {
			return
		}
		if len(a.Certs)+len(bad) > MaxCerts {
			t.Fatalf("%d certificates kept", len(a.Certs)+len(bad))
		}
		for _, c := range a.Certs {
			if len(c.Chain) == 0 || len(c.Chain) > MaxChain {
				t.Fatalf("a chain of %d", len(c.Chain))
			}
		}
		back, bad2, err := ParseAnswer(reparse(t, a.Element()), "a@b")
		if err != nil || len(bad2) != 0 || len(back.Certs) != len(a.Certs) {
			t.Fatalf("round trip: %v, %d bad, %d vs %d certificates", err, len(bad2), len(back.Certs), len(a.Certs))
		}
	})
}
