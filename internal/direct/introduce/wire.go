package introduce

import (
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/tern-xmpp/tern/internal/wire/jid"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// Namespaces: the request and answer are tern's (docs/direct-introduction.md);
// certificates and chains are XEP-0417's elements.
const (
	NS     = "urn:tern:direct:introduce:0"
	NSX509 = "urn:xmpp:x509:0"
)

// Bounds on an answer, whoever sent it: a hostile peer cannot make the
// asker hold more than this per question (the stanza itself is bounded by
// limits.max_s2s_stanza_bytes).
const (
	MaxCerts       = 16        // <cert/> elements in one answer
	MaxChain       = 6         // certificates in one chain (leaf and intermediates)
	MaxCertBytes   = 16 << 10  // one DER certificate (a 4096-bit RSA one is ~1.5 KB)
	MaxAnswerBytes = 128 << 10 // every certificate of one answer together
)

// Request is the question: the address whose certificates are asked, and
// for a server asked by its own client, the purpose the verdict is for.
type Request struct {
	Address string
	Purpose string // "encrypt" (default) or "verify"; only a client's own server reads it
}

// Element is the request's <introduce/>.
func (q Request) Element() *xml.Element {
	el := xml.New(NS, "introduce", "address", q.Address)
	if q.Purpose != "" {
		el.SetAttr("purpose", q.Purpose)
	}
	return el
}

// ParseRequest reads an <introduce/> request.
func ParseRequest(el *xml.Element) (Request, error) {
	if el == nil || el.Space != NS || el.Name != "introduce" {
		return Request{}, errors.New("not an <introduce/> element of " + NS)
	}
	q := Request{Address: el.Attr("address"), Purpose: el.Attr("purpose")}
	// A Direct address is a bare JID with a local part (RFC 7622 limits
	// and profiles apply).
	a, err := jid.Parse(q.Address)
	if err != nil || a.Local() == "" || a.Resource() != "" || strings.Count(q.Address, "@") != 1 {
		return Request{}, fmt.Errorf("address %q is not a Direct address (user@domain)", q.Address)
	}
	switch q.Purpose {
	case "", "encrypt", "verify":
	default:
		return Request{}, fmt.Errorf("purpose %q: encrypt or verify", q.Purpose)
	}
	q.Address = strings.ToLower(a.String())
	return q, nil
}

// Cert is one certificate of an answer with the intermediates that came
// with it. Verdict fields are set only by a server answering its own
// client, which ran discovery and validation for it.
type Cert struct {
	Chain []*x509.Certificate // leaf first

	Source string // dns, ldap, peer
	Where  string // the name, entry or peer it was found at
	Usable bool
	Bound  string // address or domain, when usable or bound
	Reason string // why it is not usable (trust reason, or bad-record)
	Detail string // the validation step by step, or the record's problem
}

// Answer is the answer to a Request.
type Answer struct {
	Address string
	Purpose string
	Certs   []Cert
	Tried   []string // a server to its own client: the sources asked, in order
}

// Element is the answer's <introduce/>.
func (a Answer) Element() *xml.Element {
	el := xml.New(NS, "introduce", "address", a.Address)
	if a.Purpose != "" {
		el.SetAttr("purpose", a.Purpose)
	}
	for _, c := range a.Certs {
		ce := xml.New(NS, "cert")
		for _, kv := range [][2]string{{"source", c.Source}, {"where", c.Where}, {"bound", c.Bound}, {"reason", c.Reason}} {
			ce.SetAttr(kv[0], kv[1])
		}
		if c.Source != "" {
			ce.SetAttr("usable", fmt.Sprint(c.Usable))
		}
		chain := xml.New(NSX509, "x509-cert-chain")
		for _, x := range c.Chain {
			chain.Append(xml.New(NSX509, "x509-cert").SetText(base64.StdEncoding.EncodeToString(x.Raw)))
		}
		ce.Append(chain)
		if c.Detail != "" {
			ce.Append(xml.New(NS, "detail").SetText(c.Detail))
		}
		el.Append(ce)
	}
	for _, t := range a.Tried {
		el.Append(xml.New(NS, "tried").SetText(t))
	}
	return el
}

// BadCert is a <cert/> of an answer that could not be read: the answer's
// other certificates still count.
type BadCert struct {
	Index int
	Err   error
}

func (b BadCert) Error() string {
	return fmt.Sprintf("certificate %d of the answer: %v", b.Index+1, b.Err)
}

// ParseAnswer reads an answer to a question about address. An answer for
// another address, or over the bounds, is refused as a whole; a <cert/>
// that does not parse is returned in bad, the others in the answer.
func ParseAnswer(el *xml.Element, address string) (a Answer, bad []BadCert, err error) {
	if el == nil || el.Space != NS || el.Name != "introduce" {
		return Answer{}, nil, errors.New("the answer holds no <introduce/> element of " + NS)
	}
	a.Address, a.Purpose = el.Attr("address"), el.Attr("purpose")
	if !strings.EqualFold(a.Address, address) {
		return Answer{}, nil, fmt.Errorf("the answer is about %q, not %q", a.Address, address)
	}
	total := 0
	for _, c := range el.Elements() {
		switch {
		case c.Space == NS && c.Name == "tried":
			if len(a.Tried) < MaxCerts*4 {
				a.Tried = append(a.Tried, c.Text())
			}
			continue
		case c.Space != NS || c.Name != "cert":
			continue // extensions are ignored
		}
		if len(a.Certs)+len(bad) == MaxCerts {
			return Answer{}, nil, fmt.Errorf("more than %d certificates in one answer", MaxCerts)
		}
		idx := len(a.Certs) + len(bad)
		cert, n, err := parseCert(c)
		total += n
		if total > MaxAnswerBytes {
			return Answer{}, nil, fmt.Errorf("more than %d bytes of certificates in one answer", MaxAnswerBytes)
		}
		if err != nil {
			bad = append(bad, BadCert{idx, err})
			continue
		}
		a.Certs = append(a.Certs, cert)
	}
	return a, bad, nil
}

func parseCert(c *xml.Element) (Cert, int, error) {
	out := Cert{Source: c.Attr("source"), Where: c.Attr("where"), Bound: c.Attr("bound"), Reason: c.Attr("reason"),
		Usable: c.Attr("usable") == "true", Detail: c.ChildText(NS, "detail")}
	chain := c.Child(NSX509, "x509-cert-chain")
	if chain == nil {
		return Cert{}, 0, errors.New("no <x509-cert-chain/> of " + NSX509)
	}
	n := 0
	for _, x := range chain.Elements() {
		if x.Space != NSX509 || x.Name != "x509-cert" {
			continue
		}
		if len(out.Chain) == MaxChain {
			return Cert{}, n, fmt.Errorf("a chain of more than %d certificates", MaxChain)
		}
		der, err := x.Base64(MaxCertBytes)
		if err != nil {
			return Cert{}, n, fmt.Errorf("certificate %d of the chain: %v", len(out.Chain)+1, err)
		}
		n += len(der)
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return Cert{}, n, fmt.Errorf("certificate %d of the chain: %v", len(out.Chain)+1, err)
		}
		out.Chain = append(out.Chain, cert)
	}
	if len(out.Chain) == 0 {
		return Cert{}, n, errors.New("an empty <x509-cert-chain/> (XEP-0417 §3.1 needs one certificate at least)")
	}
	return out, n, nil
}
