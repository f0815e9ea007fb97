package discovery

import (
	"context"
	"crypto/x509"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/discovery/dnstest"
	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
)

func newZone(t testing.TB) *dnstest.Zone { return dnstest.New(t, "") }

// lab: a sender domain a.test trusting root (with an issuing
// intermediate), and a revocation checker.
type lab struct {
	root, ia *trusttest.CA
	rev      *trusttest.Revocations
	reg      *trust.Registry
	v        *trust.Validator
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := &lab{rev: &trusttest.Revocations{}}
	l.root = trusttest.NewRoot(t, "Discovery Root", trusttest.Opts{})
	l.ia = l.root.Intermediate(t, "Discovery Issuing CA", trusttest.Opts{CRLDP: []string{"http://crl.invalid/root.crl"}})
	anchor := filepath.Join(t.TempDir(), "root.pem")
	if err := os.WriteFile(anchor, trusttest.PEM(l.root.Cert), 0o600); err != nil {
		t.Fatal(err)
	}
	reg, err := trust.NewRegistry(trust.Config{Circles: []trust.Circle{{Name: "c", Anchors: []string{anchor}}},
		Domains: []trust.Domain{{Name: "a.test", Circles: []string{"c"}}}}, trust.Options{})
	if err != nil {
		t.Fatal(err)
	}
	l.reg = reg
	l.v = l.validator(t, nil)
	return l
}

// validator checks against the lab's circles and CRLs, with aia if set.
func (l *lab) validator(t testing.TB, aia *trust.AIAFetcher) *trust.Validator {
	t.Helper()
	v, err := trust.NewValidator(l.reg, trust.ValidatorOptions{AIA: aia, Revocation: trust.RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (trust.RevocationStatus, error) {
		st, err := l.rev.Check(ctx, c, i)
		return trust.RevocationStatus(st), err
	})})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var email = []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}

// addr and dom issue an address-bound or domain-bound S/MIME certificate
// (RSA: it encrypts by key transport), valid unless o says otherwise.
func (l *lab) addr(t testing.TB, address string, o trusttest.Opts) *x509.Certificate {
	o.RSA, o.Emails, o.DNSNames, o.EKU = true, []string{address}, []string{}, email
	return l.root.Leaf(t, address, o).Cert
}

func (l *lab) dom(t testing.TB, domain string, o trusttest.Opts) *x509.Certificate {
	o.RSA, o.DNSNames, o.EKU = true, []string{domain}, email
	return l.root.Leaf(t, domain, o).Cert
}

var expired = trusttest.Opts{NotBefore: time.Now().Add(-72 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}

// TestDNSDiscovery rebuilds the DNS cases of DCDT (direct.md §2) against a
// real DNS server: address-bound over domain-bound, expired and revoked
// certificates skipped and reported, nothing valid found with the reason,
// a 4096-bit certificate over TCP, records that are not certificates.
func TestDNSDiscovery(t *testing.T) {
	l := newLab(t)
	z := newZone(t)
	z.NoEDNS = true // as DCDT's server: larger answers need TCP
	// One sub-domain per case, all under test.
	const n = "nurse@"
	d1 := "d1.test" // D1: valid address cert, expired domain cert
	z.Add("nurse.d1.test", 300, certPKIX, l.addr(t, n+d1, trusttest.Opts{}).Raw)
	z.Add(d1, 300, certPKIX, l.dom(t, d1, expired).Raw)
	d2 := "d2.test" // D2: only a valid domain cert
	z.Add(d2, 300, certPKIX, l.dom(t, d2, trusttest.Opts{}).Raw)
	d5 := "d5.test" // D5 (neg): only an expired address cert
	z.Add("nurse.d5.test", 300, certPKIX, l.addr(t, n+d5, expired).Raw)
	d6 := "d6.test" // D6 (neg): only an expired domain cert
	z.Add(d6, 300, certPKIX, l.dom(t, d6, expired).Raw)
	d9 := "d9.test" // D9: two address certs, one expired
	z.Add("nurse.d9.test", 300, certPKIX, l.addr(t, n+d9, expired).Raw)
	good9 := l.addr(t, n+d9, trusttest.Opts{})
	z.Add("nurse.d9.test", 300, certPKIX, good9.Raw)
	d11 := "d11.test" // D11 (neg): no CERT at all
	d14 := "d14.test" // D14: a 4096-bit certificate: over TCP
	big := l.root.Leaf(t, n+d14, trusttest.Opts{RSA: true, Bits: 4096, Emails: []string{n + d14}, DNSNames: []string{}, EKU: email}).Cert
	z.Add("nurse.d14.test", 300, certPKIX, big.Raw)
	d17 := "d17.test" // D17: two revoked address certs and a valid one
	for range 2 {
		c := l.addr(t, n+d17, trusttest.Opts{})
		l.rev.Revoke(c)
		z.Add("nurse.d17.test", 300, certPKIX, c.Raw)
	}
	good17 := l.addr(t, n+d17, trusttest.Opts{})
	z.Add("nurse.d17.test", 300, certPKIX, good17.Raw)
	bad := "bad.test" // not certificates, and a URL record
	z.Add("nurse.bad.test", 300, certPKIX, []byte("not DER"))
	z.Add("nurse.bad.test", 300, certIPKIX, []byte("http://certs.invalid/nurse.cer"))
	z.Add("nurse.bad.test", 300, 7, []byte{1, 2, 3})
	wrong := "wrong.test" // a valid certificate for somebody else
	z.Add("nurse.wrong.test", 300, certPKIX, l.addr(t, "doctor@wrong.test", trusttest.Opts{}).Raw)

	disc := &Discoverer{DNS: &DNS{Server: z.Addr, Timeout: 2 * time.Second}, Validator: l.v}
	for _, c := range []struct {
		name, domain string
		bound        trust.Bound // "": nothing usable
		reasons      []trust.Reason
		want         *x509.Certificate
	}{
		{"D1", d1, trust.BoundAddress, nil, nil},
		{"D2", d2, trust.BoundDomain, nil, nil},
		{"D5", d5, "", []trust.Reason{trust.ReasonExpired}, nil},
		{"D6", d6, "", []trust.Reason{trust.ReasonExpired}, nil},
		{"D9", d9, trust.BoundAddress, []trust.Reason{trust.ReasonExpired}, good9},
		{"D11", d11, "", nil, nil},
		{"D14", d14, trust.BoundAddress, nil, big},
		{"D17", d17, trust.BoundAddress, []trust.Reason{trust.ReasonRevoked, trust.ReasonRevoked}, good17},
		{"wrong-binding", wrong, "", []trust.Reason{trust.ReasonSANMismatch}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			tcp := z.TCP.Load()
			rep, err := disc.Discover(context.Background(), "a.test", n+c.domain, trust.PurposeEncrypt)
			if err != nil {
				t.Fatal(err)
			}
			if c.bound == "" {
				if len(rep.Usable) != 0 {
					t.Fatalf("usable %v; want none (tried %v)", rep.Usable, rep.Tried)
				}
			} else {
				if len(rep.Usable) != 1 || rep.Usable[0].Result.Bound != c.bound {
					for _, cand := range rep.All {
						t.Logf("candidate: %v", cand.Err)
					}
					t.Fatalf("usable %d, tried %v; want one %s-bound", len(rep.Usable), rep.Tried, c.bound)
				}
				if c.want != nil && !rep.Usable[0].Cert.Equal(c.want) {
					t.Errorf("usable certificate %s; want %s", rep.Usable[0].Cert.SerialNumber, c.want.SerialNumber)
				}
			}
			var got []trust.Reason
			for _, cand := range rep.All {
				if !cand.Usable() && cand.Result != nil {
					got = append(got, cand.Result.Reason)
				}
			}
			if strings.Join(reasons(got), ",") != strings.Join(reasons(c.reasons), ",") {
				t.Errorf("refused with %v; want %v", got, c.reasons)
			}
			if c.name == "D11" && (len(rep.Tried) != 2 || !strings.Contains(rep.Tried[1], "no CERT record")) {
				t.Errorf("tried %v; want both names, the domain's with no CERT record", rep.Tried)
			}
			if c.name == "D14" && z.TCP.Load() == tcp {
				t.Error("the 4096-bit certificate came without a TCP query")
			}
		})
	}
	t.Run("bad-records", func(t *testing.T) {
		rep, err := disc.Discover(context.Background(), "a.test", n+bad, trust.PurposeEncrypt)
		if err != nil {
			t.Fatal(err)
		}
		var errs []string
		for _, cand := range rep.All {
			if cand.Cert == nil && cand.Err != nil {
				errs = append(errs, cand.Err.Error())
			}
		}
		all := strings.Join(errs, "; ")
		for _, want := range []string{"not an X.509 certificate", "IPKIX", "type 7 is not PKIX"} {
			if !strings.Contains(all, want) {
				t.Errorf("record errors %q lack %q", all, want)
			}
		}
		if len(rep.Usable) != 0 {
			t.Errorf("usable %v from bad records", rep.Usable)
		}
	})
}

// TestDNSDiscoveryAIA: DCDT D18: the certificate in DNS is issued by an
// intermediate that only its AIA caIssuers URL (HTTP) gives; discovery
// builds the chain through it, and refuses without the fetch.
func TestDNSDiscoveryAIA(t *testing.T) {
	l := newLab(t)
	z := newZone(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/pkix-cert")
		w.Write(l.ia.Cert.Raw)
	}))
	defer srv.Close()
	leaf := l.ia.Leaf(t, "nurse@d18.test", trusttest.Opts{RSA: true, Emails: []string{"nurse@d18.test"}, DNSNames: []string{}, EKU: email, AIA: []string{srv.URL + "/ia.cer"}}).Cert
	z.Add("nurse.d18.test", 300, certPKIX, leaf.Raw)
	res := &DNS{Server: z.Addr}
	with := &Discoverer{DNS: res, Validator: l.validator(t, &trust.AIAFetcher{AllowPrivate: true})}
	rep, err := with.Discover(context.Background(), "a.test", "nurse@d18.test", trust.PurposeEncrypt)
	if err != nil || len(rep.Usable) != 1 || len(rep.Usable[0].Result.Fetched) != 1 {
		t.Fatalf("with AIA: %v, %+v; want the certificate usable through the fetched intermediate", err, rep.Tried)
	}
	without := &Discoverer{DNS: res, Validator: l.v}
	rep, err = without.Discover(context.Background(), "a.test", "nurse@d18.test", trust.PurposeEncrypt)
	if err != nil || len(rep.Usable) != 0 || rep.All[0].Result.Reason != trust.ReasonUntrustedAnchor {
		t.Fatalf("without AIA: %v, usable %d; want untrusted-anchor", err, len(rep.Usable))
	}
}

func reasons(rs []trust.Reason) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = string(r)
	}
	return out
}

// TestDNSCache: answers are kept within their TTL (asked once), asked
// again after it, and a missing name is kept only briefly.
func TestDNSCache(t *testing.T) {
	l := newLab(t)
	z := newZone(t)
	z.Add("nurse.c.test", 60, certPKIX, l.addr(t, "nurse@c.test", trusttest.Opts{}).Raw)
	now := time.Now()
	d := &DNS{Server: z.Addr, now: func() time.Time { return now }}
	ask := func(name string) {
		if _, err := d.Lookup(context.Background(), name); err != nil && err != ErrNoRecords {
			t.Fatal(err)
		}
	}
	ask("nurse.c.test")
	ask("nurse.c.test")
	if n := z.UDP.Load(); n != 1 {
		t.Fatalf("%d queries within the TTL; want 1", n)
	}
	now = now.Add(61 * time.Second)
	ask("nurse.c.test")
	if n := z.UDP.Load(); n != 2 {
		t.Fatalf("%d queries after the TTL; want 2", n)
	}
	ask("none.c.test")
	now = now.Add(31 * time.Second) // the SOA minimum is 30 s
	ask("none.c.test")
	if n := z.UDP.Load(); n != 4 {
		t.Fatalf("%d queries; want the missing name asked again after the SOA minimum", n)
	}
}

// TestDNSErrors: an unreachable resolver and a malformed address are
// errors naming the problem, within the time-out.
func TestDNSErrors(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0") // answers nothing
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	d := &DNS{Server: pc.LocalAddr().String(), Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err = d.Lookup(context.Background(), "nurse.x.test")
	if err == nil || !strings.Contains(err.Error(), "nurse.x.test") || time.Since(start) > 5*time.Second {
		t.Errorf("silent resolver: %v after %s; want an error naming the name within the time-out", err, time.Since(start))
	}
	disc := &Discoverer{DNS: d}
	for _, a := range []string{"nurse", "@x.test", "nurse@"} {
		if _, err := disc.Discover(context.Background(), "a.test", a, trust.PurposeEncrypt); err == nil || !strings.Contains(err.Error(), "not a Direct address") {
			t.Errorf("Discover(%q): %v; want not a Direct address", a, err)
		}
	}
}

// TestDNSDiscoveryBIND: the DNS client against Debian's BIND named serving
// a zone file: an address-bound certificate (DCDT D1), the domain's when
// the address has none (D2), an expired one skipped for the valid one
// beside it (D5), and a 4096-bit certificate, whose answer does not fit the
// 1232-byte UDP answer named sends, so it comes over TCP (D14).
func TestDNSDiscoveryBIND(t *testing.T) {
	l := newLab(t)
	zone := "$TTL 300\n@ IN SOA ns hostmaster 1 3600 600 604800 60\n@ IN NS ns\nns IN A 127.0.0.1\n" +
		dnstest.CERT("nurse", l.addr(t, "nurse@bind.test", trusttest.Opts{}).Raw) +
		dnstest.CERT("@", l.dom(t, "bind.test", trusttest.Opts{}).Raw) +
		dnstest.CERT("two", l.addr(t, "two@bind.test", expired).Raw) +
		dnstest.CERT("two", l.addr(t, "two@bind.test", trusttest.Opts{}).Raw) +
		dnstest.CERT("big", l.addr(t, "big@bind.test", trusttest.Opts{Bits: 4096}).Raw)
	addr := dnstest.Named(t, map[string]string{"bind.test": zone})
	for _, c := range []struct {
		address string
		bound   trust.Bound
		skipped int
	}{
		{"nurse@bind.test", trust.BoundAddress, 0},
		{"clerk@bind.test", trust.BoundDomain, 0},
		{"two@bind.test", trust.BoundAddress, 1},
		{"big@bind.test", trust.BoundAddress, 0},
	} {
		d := New(addr, l.v)
		d.Order = []string{SourceDNS}
		rep, err := d.Discover(context.Background(), "a.test", c.address, trust.PurposeEncrypt)
		if err != nil || len(rep.Usable) != 1 || rep.Usable[0].Result.Bound != c.bound || len(rep.All)-len(rep.Usable) != c.skipped {
			t.Errorf("%s: %v, tried %q, %d usable of %d; want one %s-bound, %d skipped", c.address, err, repTried(rep), usable(rep), all(rep), c.bound, c.skipped)
		}
	}
}

func repTried(r *Report) []string {
	if r == nil {
		return nil
	}
	return r.Tried
}
func usable(r *Report) int {
	if r == nil {
		return 0
	}
	return len(r.Usable)
}
func all(r *Report) int {
	if r == nil {
		return 0
	}
	return len(r.All)
}
