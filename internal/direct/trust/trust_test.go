package trust

import (
	"context"
	"crypto/x509"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tern-xmpp/tern/internal/direct/trust/trusttest"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// world is a lab PKI: root A (circle "a", domain d1.test), root B (circle
// "b", domain d2.test), d3.test without circle, intermediate IA under A.
type world struct {
	t     *testing.T
	dir   string
	rootA *trusttest.CA
	rootB *trusttest.CA
	ia    *trusttest.CA
	rev   *trusttest.Revocations
	reg   *Registry
	v     *Validator
	cfg   Config
}

func writeFile(t testing.TB, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, dir: t.TempDir(), rev: &trusttest.Revocations{}}
	w.rootA = trusttest.NewRoot(t, "Lab Root A", trusttest.Opts{})
	w.rootB = trusttest.NewRoot(t, "Lab Root B", trusttest.Opts{})
	w.ia = w.rootA.Intermediate(t, "Lab Intermediate A", trusttest.Opts{CRLDP: []string{"http://crl.invalid/roota.crl"}})
	w.cfg = Config{
		Circles: []Circle{
			{Name: "a", Anchors: []string{writeFile(t, w.dir, "rootA.pem", trusttest.PEM(w.rootA.Cert))}},
			{Name: "b", Anchors: []string{writeFile(t, w.dir, "rootB.der", w.rootB.Cert.Raw)}},
		},
		Domains: []Domain{{Name: "d1.test", Circles: []string{"a"}}, {Name: "d2.test", Circles: []string{"b"}}, {Name: "d3.test"}},
	}
	reg, err := NewRegistry(w.cfg, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.reg = reg
	w.v = w.validator(ValidatorOptions{Revocation: adapt(w.rev)})
	return w
}

func (w *world) validator(o ValidatorOptions) *Validator {
	w.t.Helper()
	v, err := NewValidator(w.reg, o)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

func chainOf(l *trusttest.Leaf, cas ...*trusttest.CA) []*x509.Certificate {
	out := []*x509.Certificate{l.Cert}
	for _, c := range cas {
		out = append(out, c.Cert)
	}
	return out
}

// TestValidate covers TIM+ checklist items 5 (expired, revoked, no CRL DP,
// CRL unreachable refused: fail closed), 6 (anchors per local domain, no
// circle = no trust) and the SAN rule of item 2 (exact dNSName), as the
// issue 13 lists them.
func TestValidate(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	good := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	expired := w.ia.Leaf(t, "peer.test", trusttest.Opts{NotBefore: now.Add(-48 * time.Hour), NotAfter: now.Add(-time.Hour)})
	notYet := w.ia.Leaf(t, "peer.test", trusttest.Opts{NotBefore: now.Add(time.Hour), NotAfter: now.Add(48 * time.Hour)})
	revoked := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	w.rev.Revoke(revoked.Cert)
	noDP := w.ia.Leaf(t, "peer.test", trusttest.Opts{NoCRLDP: true})
	wildcard := w.ia.Leaf(t, "peer.test", trusttest.Opts{DNSNames: []string{"*.test"}})
	cnOnly := w.ia.Leaf(t, "peer.test", trusttest.Opts{DNSNames: []string{}, CommonName: "peer.test"})
	fromB := w.rootB.Leaf(t, "peer.test", trusttest.Opts{})
	serverOnly := w.ia.Leaf(t, "peer.test", trusttest.Opts{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}})
	emailOnly := w.ia.Leaf(t, "peer.test", trusttest.Opts{EKU: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection}})
	oldIA := w.rootA.Intermediate(t, "Old Intermediate", trusttest.Opts{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(-time.Minute)})
	underOld := oldIA.Leaf(t, "peer.test", trusttest.Opts{})
	revIA := w.rootA.Intermediate(t, "Revoked Intermediate", trusttest.Opts{CRLDP: []string{"http://crl.invalid/roota.crl"}})
	w.rev.Revoke(revIA.Cert)
	underRevIA := revIA.Leaf(t, "peer.test", trusttest.Opts{})

	for _, tc := range []struct {
		name, local, peer string
		chain             []*x509.Certificate
		want              Reason
		item              string
	}{
		{"trusted peer", "d1.test", "peer.test", chainOf(good, w.ia), ReasonTrusted, "5-6"},
		{"trusted for groupchat. of the local domain", "groupchat.d1.test", "peer.test", chainOf(good, w.ia), ReasonTrusted, "1, 6"},
		{"peer's groupchat. name", "d1.test", "groupchat.peer.test", chainOf(good, w.ia), ReasonTrusted, "2"},
		{"peer domain case and trailing dot", "D1.test.", "PEER.test.", chainOf(good, w.ia), ReasonTrusted, "2"},
		{"serverAuth-only leaf accepted", "d1.test", "peer.test", chainOf(serverOnly, w.ia), ReasonTrusted, "server-pitfalls §4"},
		{"emailProtection-only leaf refused", "d1.test", "peer.test", chainOf(emailOnly, w.ia), ReasonBadUsage, "3"},
		{"expired", "d1.test", "peer.test", chainOf(expired, w.ia), ReasonExpired, "5"},
		{"not yet valid", "d1.test", "peer.test", chainOf(notYet, w.ia), ReasonNotYetValid, "5"},
		{"revoked", "d1.test", "peer.test", chainOf(revoked, w.ia), ReasonRevoked, "5"},
		{"revoked intermediate", "d1.test", "peer.test", chainOf(underRevIA, revIA), ReasonRevoked, "5"},
		{"no CRL distribution point", "d1.test", "peer.test", chainOf(noDP, w.ia), ReasonNoCRLDP, "5"},
		{"wrong SAN", "d1.test", "other.test", chainOf(good, w.ia), ReasonSANMismatch, "2"},
		{"wildcard SAN", "d1.test", "peer.test", chainOf(wildcard, w.ia), ReasonSANMismatch, "2"},
		{"CN only", "d1.test", "peer.test", chainOf(cnOnly, w.ia), ReasonSANMismatch, "2"},
		{"wildcard peer name", "d1.test", "*.test", chainOf(wildcard, w.ia), ReasonSANMismatch, "2"},
		{"anchor of d1 only: d1 accepts", "d1.test", "peer.test", chainOf(good, w.ia), ReasonTrusted, "6"},
		{"anchor of d1 only: d2 refuses", "d2.test", "peer.test", chainOf(good, w.ia), ReasonUntrustedAnchor, "6"},
		{"anchor of d2 only: d1 refuses", "d1.test", "peer.test", chainOf(fromB), ReasonUntrustedAnchor, "6"},
		{"anchor of d2 only: d2 accepts", "d2.test", "peer.test", chainOf(fromB), ReasonTrusted, "6"},
		{"domain without circle", "d3.test", "peer.test", chainOf(good, w.ia), ReasonNoCircle, "6"},
		{"domain not configured", "nowhere.test", "peer.test", chainOf(good, w.ia), ReasonNoCircle, "6"},
		{"intermediate missing, no AIA", "d1.test", "peer.test", chainOf(good), ReasonUntrustedAnchor, "9"},
		{"expired intermediate", "d1.test", "peer.test", chainOf(underOld, oldIA), ReasonChainExpired, "5"},
		{"no certificate", "d1.test", "peer.test", nil, ReasonNoCertificate, "3"},
		{"self-signed peer", "d1.test", "peer.test", chainOf(w.rootA.Leaf(t, "x", trusttest.Opts{}), w.rootA), ReasonSANMismatch, "2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := w.v.Validate(context.Background(), tc.local, tc.peer, tc.chain, now)
			if r.Reason != tc.want || (err == nil) != (tc.want == ReasonTrusted) || r.Trusted != (tc.want == ReasonTrusted) {
				t.Fatalf("checklist %s: got reason %q trusted %v err %v, want %q\n%s", tc.item, r.Reason, r.Trusted, err, tc.want, Explain(r))
			}
			if err != nil {
				var ue *UntrustedError
				if !errors.As(err, &ue) || ue.Reason != tc.want {
					t.Fatalf("error %v is not an UntrustedError with reason %q", err, tc.want)
				}
			}
			if r.Trusted && (r.Anchor == nil || len(r.Chain) < 2 && r.Chain[0] != r.Anchor.Cert) {
				t.Fatalf("trusted without anchor or chain:\n%s", Explain(r))
			}
		})
	}
}

// TestValidateCRLUnavailable: checklist item 5, no obtainable CRL refuses
// (fail closed); the LabNoCRL switch accepts with a warning, and still
// refuses what a CRL says is revoked.
func TestValidateCRLUnavailable(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	good := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	noDP := w.ia.Leaf(t, "peer.test", trusttest.Opts{NoCRLDP: true})
	revoked := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	w.rev.Revoke(revoked.Cert)

	w.rev.SetUnavailable(true)
	r, err := w.v.Validate(context.Background(), "d1.test", "peer.test", chainOf(good, w.ia), now)
	if err == nil || r.Reason != ReasonCRLUnavailable {
		t.Fatalf("CRL unreachable: got %q, %v; want crl-unavailable\n%s", r.Reason, err, Explain(r))
	}
	lab := w.validator(ValidatorOptions{Revocation: adapt(w.rev), LabNoCRL: true})
	r, err = lab.Validate(context.Background(), "d1.test", "peer.test", chainOf(good, w.ia), now)
	if err != nil || len(r.Warnings) == 0 {
		t.Fatalf("LabNoCRL, CRL unreachable: got %v, warnings %q; want trusted with a warning", err, r.Warnings)
	}
	r, err = lab.Validate(context.Background(), "d1.test", "peer.test", chainOf(noDP, w.ia), now)
	if err != nil || len(r.Warnings) == 0 {
		t.Fatalf("LabNoCRL, no CRL DP: got %v, warnings %q; want trusted with a warning", err, r.Warnings)
	}
	w.rev.SetUnavailable(false)
	if r, err := lab.Validate(context.Background(), "d1.test", "peer.test", chainOf(revoked, w.ia), now); r.Reason != ReasonRevoked {
		t.Fatalf("LabNoCRL, revoked: got %q, %v; want revoked", r.Reason, err)
	}
	if _, err := NewValidator(w.reg, ValidatorOptions{}); err == nil {
		t.Fatal("NewValidator without revocation checker and without LabNoCRL succeeded")
	}
}

func TestExplain(t *testing.T) {
	w := newWorld(t)
	good := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	r, _ := w.v.Validate(context.Background(), "groupchat.d1.test", "peer.test", chainOf(good, w.ia), time.Now())
	out := Explain(r)
	for _, want := range []string{"TRUSTED", "circles of d1.test", "[ok  ] circles", "[ok  ] validity", "[ok  ] san", "[ok  ] crl-dp", "[ok  ] path", "Lab Root A", `file `, "[ok  ] revocation", "leaf: not revoked"} {
		if !strings.Contains(out, want) {
			t.Errorf("Explain lacks %q:\n%s", want, out)
		}
	}
	r, _ = w.v.Validate(context.Background(), "d2.test", "peer.test", chainOf(good, w.ia), time.Now())
	out = Explain(r)
	if !strings.Contains(out, "REFUSED (untrusted-anchor)") || !strings.Contains(out, "[FAIL] path") {
		t.Errorf("Explain of a refusal:\n%s", out)
	}
}

func TestExplainPrint(t *testing.T) {
	if os.Getenv("TRUST_PRINT") == "" {
		t.Skip()
	}
	w := newWorld(t)
	good := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	r, _ := w.v.Validate(context.Background(), "groupchat.d1.test", "peer.test", chainOf(good, w.ia), time.Now())
	t.Log("\n" + Explain(r))
	r, _ = w.v.Validate(context.Background(), "d2.test", "peer.test", chainOf(good, w.ia), time.Now())
	t.Log("\n" + Explain(r))
}

func TestDomainProblems(t *testing.T) {
	w := newWorld(t)
	noCircle, unknown := w.reg.DomainProblems([]string{"D1.test", "d3.test", "d4.test"})
	if strings.Join(noCircle, ",") != "d3.test,d4.test" || strings.Join(unknown, ",") != "d2.test" {
		t.Fatalf("noCircle %q, unknown %q", noCircle, unknown)
	}
}

func TestValidateChainLimits(t *testing.T) {
	w := newWorld(t)
	good := w.ia.Leaf(t, "peer.test", trusttest.Opts{})
	long := chainOf(good)
	for range MaxPresentedChain {
		long = append(long, w.ia.Cert)
	}
	for name, chain := range map[string][]*x509.Certificate{"too long": long, "nil intermediate": {good.Cert, nil}} {
		if r, _ := w.v.Validate(context.Background(), "d1.test", "peer.test", chain, time.Now()); r.Reason != ReasonBadChain {
			t.Errorf("%s: %q", name, r.Reason)
		}
	}
}

// adapt is the one-line adapter internal/pki/crl's Checker needs too.
func adapt(r *trusttest.Revocations) Revocation {
	return RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (RevocationStatus, error) {
		st, err := r.Check(ctx, c, i)
		return RevocationStatus(st), err
	})
}

// TestExpiredAnchor: an anchor outside its validity window anchors nothing.
func TestExpiredAnchor(t *testing.T) {
	w := newWorld(t)
	now := time.Now()
	old := trusttest.NewRoot(t, "Old Root", trusttest.Opts{NotBefore: now.Add(-72 * time.Hour), NotAfter: now.Add(time.Hour)})
	leaf := old.Leaf(t, "peer.test", trusttest.Opts{NotAfter: now.Add(48 * time.Hour)})
	cfg := Config{Circles: []Circle{{Name: "old", Anchors: []string{writeFile(t, w.dir, "old.pem", trusttest.PEM(old.Cert))}}},
		Domains: []Domain{{Name: "d1.test", Circles: []string{"old"}}}}
	if err := w.reg.Apply(cfg); err != nil {
		t.Fatal(err)
	}
	if _, err := w.v.Validate(context.Background(), "d1.test", "peer.test", chainOf(leaf), now); err != nil {
		t.Fatal(err)
	}
	if r, _ := w.v.Validate(context.Background(), "d1.test", "peer.test", chainOf(leaf), now.Add(2*time.Hour)); r.Reason != ReasonChainExpired {
		t.Fatalf("expired anchor: %q\n%s", r.Reason, Explain(r))
	}
}
