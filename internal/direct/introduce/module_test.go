package introduce

import (
	"context"
	"crypto/x509"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/routing/module/moduletest"
	"github.com/tern-xmpp/tern/internal/routing/router"
	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const q = `<introduce xmlns='urn:tern:direct:introduce:0' address='%s'/>`

func ask(addr string) string {
	return "<iq from='a.example' to='example.org' type='get' id='i1'>" + strings.Replace(q, "%s", addr, 1) + "</iq>"
}

type fixture struct {
	h   *moduletest.Harness
	rem *moduletest.Remote
	l   *lab
}

func newFixture(t *testing.T, direct bool, cfg func(*Config), discover DiscoverFunc) *fixture {
	l := newLab(t)
	dir := NewDirectory()
	dir.AddAddress("Nurse@example.org", l.chainNurse)
	dir.AddDomain("example.org", l.chainDomain)
	dir.AddAddress("x@other.example", l.chainOtherAddr) // another domain's: never given for example.org
	m := New()
	m.Direct = func(d string) bool { return direct && d == moduletest.Domain }
	m.Directory = func() *Directory { return dir }
	m.Discover = discover
	if cfg != nil {
		cfg(&m.cfg)
	}
	h := moduletest.New(t, []string{"nurse", "bob", "doc"}, m)
	return &fixture{h: h, rem: h.Federate(), l: l}
}

// answer sends a question from a.example and returns the one reply.
func (f *fixture) answer(t *testing.T, iq string) *xml.Element {
	t.Helper()
	f.h.FromRemote(iq)
	got := f.rem.Take()
	if len(got) != 1 {
		t.Fatalf("%d stanzas back to a.example; want one reply", len(got))
	}
	return got[0]
}

func chains(t *testing.T, reply *xml.Element, address string) [][]*x509.Certificate {
	t.Helper()
	if reply.Attr("type") != "result" {
		t.Fatalf("reply %s; want a result", reply)
	}
	a, bad, err := ParseAnswer(reply.Child(NS, "introduce"), address)
	if err != nil || len(bad) > 0 {
		t.Fatalf("answer %s: %v %v", reply, err, bad)
	}
	var out [][]*x509.Certificate
	for _, c := range a.Certs {
		out = append(out, c.Chain)
	}
	return out
}

// TestPeerAnswers: a peer asking about an address gets the address's own
// certificate (with its intermediate) first, then the domain's.
func TestPeerAnswers(t *testing.T) {
	f := newFixture(t, true, nil, nil)
	got := chains(t, f.answer(t, ask("nurse@example.org")), "nurse@example.org")
	if len(got) != 2 || len(got[0]) != 2 || !got[0][0].Equal(f.l.nurse.Cert) || !got[0][1].Equal(f.l.inter.Cert) || !got[1][0].Equal(f.l.domain.Cert) {
		t.Fatalf("got %d chains; want nurse's (leaf and intermediate), then the domain's", len(got))
	}
}

// TestNoEnumeration: an account without certificates of its own and an
// address that is no account get the same answer (the domain's), so a peer
// learns nothing about who has an account; with reveal_addresses the
// unknown one is item-not-found.
func TestNoEnumeration(t *testing.T) {
	f := newFixture(t, true, nil, nil)
	bob := f.answer(t, ask("bob@example.org"))
	nobody := f.answer(t, ask("nobody@example.org"))
	norm := func(el *xml.Element, addr string) string { return strings.ReplaceAll(el.String(), addr, "ADDR") }
	if norm(bob, "bob@example.org") != norm(nobody, "nobody@example.org") {
		t.Errorf("answers differ:\n%s\n%s", bob, nobody)
	}
	if got := chains(t, nobody, "nobody@example.org"); len(got) != 1 || !got[0][0].Equal(f.l.domain.Cert) {
		t.Errorf("nobody@: %d chains; want the domain's", len(got))
	}

	f = newFixture(t, true, func(c *Config) { c.RevealAddresses = true }, nil)
	if got := moduletest.ErrorCondition(f.answer(t, ask("nobody@example.org"))); got != "item-not-found" {
		t.Errorf("reveal_addresses, nobody@: %q; want item-not-found", got)
	}
	if got := chains(t, f.answer(t, ask("bob@example.org")), "bob@example.org"); len(got) != 1 {
		t.Errorf("reveal_addresses, bob@ (an account): %d chains; want the domain's", len(got))
	}
}

func TestPeerRefusals(t *testing.T) {
	f := newFixture(t, true, nil, nil)
	for _, c := range []struct{ name, iq, want string }{
		{"another domain's address", ask("x@other.example"), "not-acceptable"},
		{"not an address", ask("example.org"), "bad-request"},
		{"no address", "<iq from='a.example' to='example.org' type='get' id='i1'><introduce xmlns='urn:tern:direct:introduce:0'/></iq>", "bad-request"},
		{"set", "<iq from='a.example' to='example.org' type='set' id='i1'>" + strings.Replace(q, "%s", "nurse@example.org", 1) + "</iq>", "service-unavailable"},
	} {
		if got := moduletest.ErrorCondition(f.answer(t, c.iq)); got != c.want {
			t.Errorf("%s: %q; want %s", c.name, got, c.want)
		}
	}
	plain := newFixture(t, false, nil, nil)
	if got := moduletest.ErrorCondition(plain.answer(t, ask("nurse@example.org"))); got != "service-unavailable" {
		t.Errorf("a domain that is not Direct: %q; want service-unavailable", got)
	}
}

// TestPeerRate: past rate_per_peer a peer gets resource-constraint; another
// peer is still answered.
func TestPeerRate(t *testing.T) {
	f := newFixture(t, true, func(c *Config) { c.RatePerPeer = 3 }, nil)
	for i := range 3 {
		if r := f.answer(t, ask("nurse@example.org")); r.Attr("type") != "result" {
			t.Fatalf("question %d: %s", i+1, r)
		}
	}
	if got := moduletest.ErrorCondition(f.answer(t, ask("nurse@example.org"))); got != "resource-constraint" {
		t.Errorf("4th question: %q; want resource-constraint", got)
	}
	other := strings.Replace(ask("nurse@example.org"), "from='a.example'", "from='c.example'", 1)
	if r := f.answer(t, other); r.Attr("type") != "result" {
		t.Errorf("another peer: %s; want an answer", r)
	}
}

// TestClientQuery: a local user's question runs discovery for its domain
// and the answer carries each certificate's verdict, usable first.
func TestClientQuery(t *testing.T) {
	l := newLab(t)
	var mu sync.Mutex
	var asked []string
	release := make(chan struct{})
	discover := func(ctx context.Context, local, address string, p trust.Purpose) (*discovery.Report, error) {
		mu.Lock()
		asked = append(asked, local+" "+address+" "+string(p))
		mu.Unlock()
		if address == "slow@b.example" {
			<-release
		}
		if address == "bad" {
			return nil, errors.New("discovery: \"bad\" is not a Direct address")
		}
		good := discovery.Candidate{Source: "peer", Where: "b.example", Cert: l.nurse.Cert, Chain: []*x509.Certificate{l.inter.Cert},
			Result: &trust.Result{Trusted: true, Reason: "trusted", Bound: trust.BoundAddress}}
		expired := discovery.Candidate{Source: "dns", Where: "nurse.b.example", Cert: l.domain.Cert,
			Result: &trust.Result{Reason: "expired"}, Err: errors.New("expired")}
		record := discovery.Candidate{Source: "dns", Where: "b.example", Err: errors.New("CERT record of type 4 (IPKIX) is not read")}
		return &discovery.Report{Address: address, Purpose: p, Tried: []string{"peer b.example: 1 certificate(s)"},
			All: []discovery.Candidate{expired, record, good}, Usable: []discovery.Candidate{good}}, nil
	}
	f := newFixture(t, true, func(c *Config) { c.ClientQueries = 1 }, discover)
	doc := f.h.Online("doc", "pc")
	send := func(id, addr, purpose string) {
		el := "<iq to='example.org' type='get' id='" + id + "'><introduce xmlns='urn:tern:direct:introduce:0' address='" + addr + "'"
		if purpose != "" {
			el += " purpose='" + purpose + "'"
		}
		doc.Send(el + "/></iq>")
	}
	wait := func(id string) *xml.Element {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for time.Now().Before(deadline) {
			for _, el := range doc.Take() {
				if el.Attr("id") == id {
					return el
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Fatalf("no reply %s", id)
		return nil
	}
	send("c1", "nurse@b.example", "verify")
	r := wait("c1")
	a, bad, err := ParseAnswer(r.Child(NS, "introduce"), "nurse@b.example")
	if err != nil || len(bad) > 0 || len(a.Certs) != 2 {
		t.Fatalf("answer %s: %v %v", r, err, bad)
	}
	if c := a.Certs[0]; !c.Usable || c.Bound != "address" || c.Source != "peer" || len(c.Chain) != 2 || c.Reason != "" {
		t.Errorf("first certificate %+v; want the usable, address-bound one with its intermediate", c)
	}
	if c := a.Certs[1]; c.Usable || c.Reason != "expired" || c.Where != "nurse.b.example" {
		t.Errorf("second certificate %+v; want the expired one, not usable", c)
	}
	if a.Purpose != "verify" || len(a.Tried) != 2 || !strings.Contains(a.Tried[1], "IPKIX") {
		t.Errorf("purpose %q, tried %q; want verify and the unreadable record named", a.Purpose, a.Tried)
	}
	mu.Lock()
	if asked[0] != "example.org nurse@b.example verify" {
		t.Errorf("discovery asked %q", asked[0])
	}
	mu.Unlock()

	// One discovery under way per user here: the second waits its turn.
	send("c2", "slow@b.example", "")
	time.Sleep(20 * time.Millisecond)
	send("c3", "nurse@b.example", "")
	if got := moduletest.ErrorCondition(wait("c3")); got != "resource-constraint" {
		t.Errorf("second discovery at once: %q; want resource-constraint", got)
	}
	close(release)
	if r := wait("c2"); r.Attr("type") != "result" {
		t.Errorf("slow discovery: %s", r)
	}
	send("c4", "bad", "")
	if got := moduletest.ErrorCondition(wait("c4")); got != "bad-request" {
		t.Errorf("not an address: %q; want bad-request", got)
	}
}

// TestAsker: the peer source asks the address's domain from the sender's
// and reads the answer; an error, a malformed answer and silence are
// errors naming the peer; answers are cached.
func TestAsker(t *testing.T) {
	l := newLab(t)
	h := moduletest.New(t, nil)
	var mu sync.Mutex
	calls := 0
	mode := "answer"
	h.Router.SetRemote(remoteFunc(func(st *router.Stanza) {
		mu.Lock()
		calls++
		m := mode
		mu.Unlock()
		req, err := ParseRequest(st.El.Child(NS, "introduce"))
		if err != nil || st.El.Attr("from") != moduletest.Domain || st.El.Attr("to") != "b.example" {
			t.Errorf("request %s: %v", st.El, err)
		}
		var payload string
		typ := "result"
		switch m {
		case "answer":
			payload = Answer{Address: req.Address, Certs: []Cert{{Chain: l.chainNurse}}}.Element().String()
		case "error":
			typ, payload = "error", "<error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error>"
		case "other":
			payload = Answer{Address: "x@b.example"}.Element().String()
		case "silent":
			return
		}
		go h.FromRemote("<iq from='b.example' to='" + moduletest.Domain + "' type='" + typ + "' id='" + st.ID + "'>" + payload + "</iq>")
	}))
	a := &Asker{Router: h.Router, Timeout: 200 * time.Millisecond}
	got, err := a.Introduce(context.Background(), moduletest.Domain, "nurse@b.example")
	if err != nil || len(got) != 1 || !got[0].Cert.Equal(l.nurse.Cert) || len(got[0].Chain) != 1 || got[0].Source != discovery.SourcePeer || got[0].Where != "b.example" {
		t.Fatalf("Introduce: %+v, %v", got, err)
	}
	if _, err := a.Introduce(context.Background(), moduletest.Domain, "nurse@b.example"); err != nil || calls != 1 {
		t.Errorf("second Introduce: %v after %d questions; want the cached answer", err, calls)
	}
	// A peer that never answers one question holds only that one.
	mu.Lock()
	mode = "silent"
	mu.Unlock()
	slow := make(chan error, 1)
	go func() {
		_, err := a.Introduce(context.Background(), moduletest.Domain, "stuck@b.example")
		slow <- err
	}()
	time.Sleep(20 * time.Millisecond)
	mu.Lock()
	mode = "answer"
	mu.Unlock()
	if got, err := a.Introduce(context.Background(), moduletest.Domain, "beside@b.example"); err != nil || len(got) != 1 {
		t.Errorf("a question beside a stuck one: %v, %d certificates", err, len(got))
	}
	select {
	case err := <-slow:
		t.Errorf("the stuck question ended before the other was answered: %v", err)
	default:
	}
	if err := <-slow; err == nil {
		t.Error("the stuck question got an answer")
	}
	for _, c := range []struct{ mode, want string }{
		{"error", "b.example answered item-not-found"},
		{"other", "is about \"x@b.example\""},
		{"silent", "no answer from b.example"},
	} {
		mu.Lock()
		mode = c.mode
		mu.Unlock()
		addr := c.mode + "@b.example"
		if _, err := a.Introduce(context.Background(), moduletest.Domain, addr); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %q", c.mode, err, c.want)
		}
	}
}

type remoteFunc func(st *router.Stanza)

func (f remoteFunc) Send(_ context.Context, st *router.Stanza) { f(st) }
