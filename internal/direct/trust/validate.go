package trust

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"time"
)

// RevocationStatus is what a revocation check found. Its fields are those
// of internal/pki/crl.Status, so that one converts with a plain type
// conversion: trust.RevocationStatus(st).
type RevocationStatus struct {
	Revoked    bool
	RevokedAt  time.Time
	Reason     int // RFC 5280 §5.3.1 CRLReason
	URL        string
	ThisUpdate time.Time
	NextUpdate time.Time
}

// Revocation tells whether cert, issued by issuer, is revoked. An error
// means no valid answer could be had (no CRL obtainable): the Validator
// then refuses, unless LabNoCRL is set. It is called only once the chain
// to an anchor is verified. internal/pki/crl's Checker fits through
// RevocationFunc:
//
//	trust.RevocationFunc(func(ctx context.Context, c, i *x509.Certificate) (trust.RevocationStatus, error) {
//		st, err := checker.Check(ctx, c, i)
//		return trust.RevocationStatus(st), err
//	})
type Revocation interface {
	Check(ctx context.Context, cert, issuer *x509.Certificate) (RevocationStatus, error)
}

// RevocationFunc adapts a function to Revocation.
type RevocationFunc func(ctx context.Context, cert, issuer *x509.Certificate) (RevocationStatus, error)

func (f RevocationFunc) Check(ctx context.Context, cert, issuer *x509.Certificate) (RevocationStatus, error) {
	return f(ctx, cert, issuer)
}

// Reason is the short code of a refusal, for logs and metrics labels.
type Reason string

const (
	ReasonTrusted         Reason = ""
	ReasonNoCircle        Reason = "no-circle"
	ReasonNoCertificate   Reason = "no-certificate"
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not-yet-valid"
	ReasonSANMismatch     Reason = "san-mismatch"
	ReasonNoCRLDP         Reason = "no-crl-dp"
	ReasonUntrustedAnchor Reason = "untrusted-anchor"
	ReasonChainExpired    Reason = "chain-expired"
	ReasonBadUsage        Reason = "bad-key-usage"
	ReasonBadChain        Reason = "bad-chain"
	ReasonCRLUnavailable  Reason = "crl-unavailable"
	ReasonRevoked         Reason = "revoked"
)

// Step is one check of a validation, in order, for explanations.
type Step struct {
	Name   string // circles, certificate, validity, san, crl-dp, path, revocation
	OK     bool
	Detail string
}

// Result is the outcome of a validation, every step recorded.
type Result struct {
	Local      string // as asked
	Domain     string // the domain whose circles were used (groupchat. stripped)
	Peer       string
	Time       time.Time
	Generation uint64 // registry state used
	Trusted    bool
	Reason     Reason
	Anchor     *Anchor               // the anchor the chain ends at
	Chain      []*x509.Certificate   // leaf ... anchor, when a path was built
	Steps      []Step                // in order; the last failed one is the reason
	Warnings   []string              // e.g. the LabNoCRL switch skipped a check
	Fetched    []*x509.Certificate   // intermediates fetched through AIA
	Recheck    bool                  // a re-validation round (Recheck), not a handshake
	Bound      Bound                 // ValidateFor: how the leaf is bound to the address
	chains     [][]*x509.Certificate // all chains built
}

// UntrustedError is returned with a Result that is not trusted.
type UntrustedError struct {
	Local, Peer string
	Reason      Reason
	Detail      string
}

func (e *UntrustedError) Error() string {
	return fmt.Sprintf("direct trust: peer %s is not trusted by %s: %s: %s", e.Peer, e.Local, e.Reason, e.Detail)
}

// ValidatorOptions configure a Validator.
type ValidatorOptions struct {
	// Revocation checks certificates against their CRLs. Required unless
	// LabNoCRL.
	Revocation Revocation
	// LabNoCRL accepts a peer whose certificate has no CRL distribution
	// point or whose CRL cannot be obtained, with a warning in the Result.
	// A CRL that says "revoked" still refuses. A violation of TIM+: labs
	// only.
	LabNoCRL bool
	// AIA fetches missing intermediates from caIssuers; nil: no fetch.
	AIA *AIAFetcher
	// KeyUsages the leaf's EKU must allow one of (default serverAuth or
	// clientAuth: a connecting server presents its server certificate as
	// client certificate, and serverAuth-only certificates are common).
	KeyUsages []x509.ExtKeyUsage
	// Observe, if set, is called after every validation (metrics).
	Observe func(r *Result, took time.Duration)
	// Timeout bounds one validation, all its network steps (AIA, CRL)
	// together; default 30 s. Each step has its own, shorter, time-out.
	Timeout time.Duration
}

// DefaultValidateTimeout bounds one validation.
const DefaultValidateTimeout = 30 * time.Second

// MaxPresentedChain is the most certificates a peer may present.
const MaxPresentedChain = 10

// Validator decides whether a peer domain's certificate chain is trusted
// by a local domain, against the registry's current state.
type Validator struct {
	reg  *Registry
	opts ValidatorOptions
}

// NewValidator refuses a configuration without revocation checking unless
// LabNoCRL says so.
func NewValidator(reg *Registry, opts ValidatorOptions) (*Validator, error) {
	if reg == nil {
		return nil, errors.New("trust: NewValidator needs a registry")
	}
	if opts.Revocation == nil && !opts.LabNoCRL {
		return nil, errors.New("trust: no revocation checker configured; peers would all be refused (set one, or LabNoCRL for a lab)")
	}
	if len(opts.KeyUsages) == 0 {
		opts.KeyUsages = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	}
	return &Validator{reg: reg, opts: opts}, nil
}

// Validate checks chain (the peer's certificates as presented: leaf first,
// then any intermediates) for peerDomain against the circles of local,
// at now, in this order (RFC 5280 §6, TIM+ §4.3):
//
//  1. circles: local (or its parent for groupchat./ftproxystream.) has a
//     circle; a domain without one trusts nobody;
//  2. validity: the leaf is inside its validity window;
//  3. san: a SAN dNSName equals peerDomain exactly (no CN, no wildcard);
//  4. crl-dp: the leaf has a CRL distribution point;
//  5. path: a chain to an anchor of the local domain's circles, with
//     intermediates from the presented chain or, if missing, AIA caIssuers;
//     every certificate valid at now, EKU serverAuth or clientAuth;
//  6. revocation: the leaf and each intermediate with a CRL DP are not
//     revoked; no obtainable CRL refuses (fail closed).
//
// The error is nil exactly when the Result is trusted.
func (v *Validator) Validate(ctx context.Context, local, peerDomain string, chain []*x509.Certificate, now time.Time) (*Result, error) {
	return v.run(ctx, local, peerDomain, chain, now, false)
}

// VerifyPeer is Validate at the current time returning only the error (an
// *UntrustedError), in plain types for the s2s transport's hook; log the
// refusal with the error's Reason.
func (v *Validator) VerifyPeer(ctx context.Context, local, peerDomain string, chain []*x509.Certificate) error {
	_, err := v.Validate(ctx, local, peerDomain, chain, time.Now())
	return err
}

// Recheck is Validate for re-validation rounds: the same checks, but the
// steps that pass carry no detail (the failing one does), which keeps a
// round over many sessions cheap.
func (v *Validator) Recheck(ctx context.Context, local, peerDomain string, chain []*x509.Certificate, now time.Time) (*Result, error) {
	return v.run(ctx, local, peerDomain, chain, now, true)
}

func (v *Validator) run(ctx context.Context, local, peerDomain string, chain []*x509.Certificate, now time.Time, quiet bool) (*Result, error) {
	return v.runFor(ctx, local, binding{domain: peerDomain, eku: v.opts.KeyUsages}, chain, now, quiet)
}

// binding is what a leaf must be bound to: a peer server's domain (s2s),
// or a Direct address or its domain for a purpose (discovery).
type binding struct {
	domain  string             // SAN dNSName, exactly
	address string             // SAN rfc822Name, if set: the domain-bound form is the fallback
	purpose Purpose            // "" (s2s: no key-usage step)
	eku     []x509.ExtKeyUsage // for the path
}

func (b binding) subject() string {
	if b.address != "" {
		return b.address
	}
	return b.domain
}

func (v *Validator) runFor(ctx context.Context, local string, b binding, chain []*x509.Certificate, now time.Time, quiet bool) (*Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, orDefault(v.opts.Timeout, DefaultValidateTimeout))
	defer cancel()
	r := &Result{Recheck: quiet}
	v.validate(ctx, r, local, b, chain, now)
	if v.opts.Observe != nil {
		v.opts.Observe(r, time.Since(start))
	}
	if r.Trusted {
		return r, nil
	}
	detail := ""
	if n := len(r.Steps); n > 0 {
		detail = r.Steps[n-1].Detail
	}
	return r, &UntrustedError{Local: local, Peer: b.subject(), Reason: r.Reason, Detail: detail}
}

func (r *Result) ok(name, format string, args ...any) {
	if r.Recheck {
		r.Steps = append(r.Steps, Step{Name: name, OK: true})
		return
	}
	r.Steps = append(r.Steps, Step{Name: name, OK: true, Detail: fmt.Sprintf(format, args...)})
}

func (r *Result) fail(reason Reason, name, format string, args ...any) *Result {
	r.Steps = append(r.Steps, Step{Name: name, OK: false, Detail: fmt.Sprintf(format, args...)})
	r.Reason = reason
	r.Trusted = false
	return r
}

const day = "2006-01-02 15:04:05Z"

func (v *Validator) validate(ctx context.Context, r *Result, local string, b binding, chain []*x509.Certificate, now time.Time) *Result {
	s := v.reg.state.Load()
	peerDomain := b.domain
	peer := NormalizeDomain(peerDomain)
	r.Local, r.Peer, r.Time, r.Generation = local, peer, now, s.gen
	if b.address != "" {
		r.Peer = b.address
	}

	dt, d := s.lookup(local)
	r.Domain = d
	switch {
	case dt == nil:
		return r.fail(ReasonNoCircle, "circles", "local domain %q is not a Direct domain of the trust configuration: it trusts nobody", d)
	case len(dt.circles) == 0:
		return r.fail(ReasonNoCircle, "circles", "local domain %q has no trust circle: it trusts nobody", d)
	case dt.count == 0:
		return r.fail(ReasonUntrustedAnchor, "circles", "the circles of %q (%s) hold no anchor (bundles not loaded?): it trusts nobody", d, strings.Join(dt.circles, ", "))
	}
	r.ok("circles", "%q uses circles %s with %d anchors (generation %d)", d, lazy(func() string { return strings.Join(dt.circles, ", ") }), dt.count, s.gen)

	if len(chain) == 0 || chain[0] == nil {
		return r.fail(ReasonNoCertificate, "certificate", "the peer presented no certificate")
	}
	if len(chain) > MaxPresentedChain {
		return r.fail(ReasonBadChain, "certificate", "the peer presented %d certificates, more than %d", len(chain), MaxPresentedChain)
	}
	for i, c := range chain {
		if c == nil {
			return r.fail(ReasonBadChain, "certificate", "certificate %d of the chain is missing", i+1)
		}
	}
	leaf := chain[0]
	r.ok("certificate", "leaf %q, serial %s, issuer %q, %d certificate(s) presented", leaf.Subject, leaf.SerialNumber, leaf.Issuer, len(chain))

	switch {
	case now.Before(leaf.NotBefore):
		return r.fail(ReasonNotYetValid, "validity", "not valid before %s (now %s)", leaf.NotBefore.UTC().Format(day), now.UTC().Format(day))
	case now.After(leaf.NotAfter):
		return r.fail(ReasonExpired, "validity", "expired %s (now %s)", leaf.NotAfter.UTC().Format(day), now.UTC().Format(day))
	}
	r.ok("validity", "valid %s to %s", leaf.NotBefore.UTC().Format(day), leaf.NotAfter.UTC().Format(day))

	if peer == "" || strings.ContainsAny(peer, "*?") {
		return r.fail(ReasonSANMismatch, "san", "peer domain %q is not a host name", peerDomain)
	}
	if b.address != "" && hasEmail(leaf, b.address) {
		r.Bound = BoundAddress
		r.ok("san", "SAN rfc822Name %q (address-bound)", b.address)
	} else if hasDNSName(leaf, peer) {
		if b.address != "" {
			r.Bound = BoundDomain
			r.ok("san", "SAN dNSName %q (domain-bound)", peer)
		} else {
			r.ok("san", "SAN dNSName %q", peer)
		}
	} else if b.address != "" {
		return r.fail(ReasonSANMismatch, "san", "bound to neither %q (SAN rfc822Names: %s) nor %q (SAN dNSNames: %s)", b.address, listOrNone(leaf.EmailAddresses), peer, listOrNone(leaf.DNSNames))
	} else {
		return r.fail(ReasonSANMismatch, "san", "no SAN dNSName equals %q exactly (SAN dNSNames: %s; CN and wildcards are not used)", peer, listOrNone(leaf.DNSNames))
	}
	if b.purpose != "" {
		detail, ok := b.purpose.allows(leaf)
		if !ok {
			return r.fail(ReasonBadUsage, "key-usage", "%s", detail)
		}
		r.ok("key-usage", "%s", detail)
	}

	if len(leaf.CRLDistributionPoints) == 0 {
		if !v.opts.LabNoCRL {
			return r.fail(ReasonNoCRLDP, "crl-dp", "the leaf has no CRL distribution point (TIM+ requires one)")
		}
		r.Warnings = append(r.Warnings, "LabNoCRL: the leaf has no CRL distribution point; accepted for a lab only")
		r.ok("crl-dp", "none (LabNoCRL)")
	} else {
		r.ok("crl-dp", "%s", strings.Join(leaf.CRLDistributionPoints, ", "))
	}

	if reason, detail := v.buildPath(ctx, r, dt, chain, b.eku, now); reason != ReasonTrusted {
		return r.fail(reason, "path", "%s", detail)
	}

	var lastReason Reason
	var lastDetail string
	for i, c := range r.chains {
		reason, detail, warns := v.checkRevocation(ctx, c)
		if reason == ReasonTrusted {
			r.setChain(dt, c)
			r.Warnings = append(r.Warnings, warns...)
			r.ok("path", "%s", lazy(func() string { return describeChain(r) }))
			r.ok("revocation", "%s", detail)
			r.Trusted, r.Reason = true, ReasonTrusted
			return r
		}
		if i == 0 || reason == ReasonRevoked {
			lastReason, lastDetail = reason, detail
			r.setChain(dt, c)
		}
	}
	r.ok("path", "%s", lazy(func() string { return describeChain(r) }))
	return r.fail(lastReason, "revocation", "%s", lastDetail)
}

func (r *Result) setChain(dt *domainTrust, c []*x509.Certificate) {
	r.Chain = c
	r.Anchor = nil
	if as := dt.anchors[sha256.Sum256(c[len(c)-1].Raw)]; len(as) > 0 {
		a := as[0]
		r.Anchor = &a
	}
}

func describeChain(r *Result) string {
	var b strings.Builder
	for i, c := range r.Chain {
		if i > 0 {
			b.WriteString(" -> ")
		}
		fmt.Fprintf(&b, "%q", c.Subject.String())
	}
	if r.Anchor != nil {
		fmt.Fprintf(&b, "; anchor %s", r.Anchor)
	}
	if len(r.Fetched) > 0 {
		fmt.Fprintf(&b, "; %d intermediate(s) fetched via AIA", len(r.Fetched))
	}
	return b.String()
}

// lazy defers a costly detail to when it is formatted.
type lazy func() string

func (l lazy) String() string { return l() }

func listOrNone(l []string) string {
	if len(l) == 0 {
		return "none"
	}
	return strings.Join(l, ", ")
}

// buildPath fills r.chains or returns why no path exists.
func (v *Validator) buildPath(ctx context.Context, r *Result, dt *domainTrust, chain []*x509.Certificate, eku []x509.ExtKeyUsage, now time.Time) (Reason, string) {
	key := chainKey(chain, eku)
	if cp := dt.paths.get(key); cp != nil {
		for _, c := range cp.chains {
			if inWindow(c, now) {
				r.chains = append(r.chains, c)
			}
		}
		if len(r.chains) > 0 {
			return ReasonTrusted, ""
		}
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	opts := x509.VerifyOptions{Roots: dt.roots, Intermediates: inter, CurrentTime: now, KeyUsages: eku}
	chains, err := chain[0].Verify(opts)
	if err != nil && v.opts.AIA != nil && isUnknownAuthority(err) {
		chains, err = v.viaAIA(ctx, r, chain, opts)
	}
	if err != nil {
		return classifyVerify(err)
	}
	r.chains = chains
	if len(r.Fetched) == 0 { // AIA-built paths depend on the fetch cache; keep them out
		dt.paths.put(key, &cachedPath{chains: chains})
	}
	return ReasonTrusted, ""
}

// viaAIA fetches caIssuers of the certificates at hand, in rounds, until a
// path exists or the fetch budget is spent.
func (v *Validator) viaAIA(ctx context.Context, r *Result, chain []*x509.Certificate, opts x509.VerifyOptions) ([][]*x509.Certificate, error) {
	tried := map[string]bool{}
	frontier := append([]*x509.Certificate(nil), chain...)
	var lastErr error
	var fetchErrs []string
	for round := 0; round < 3 && len(frontier) > 0; round++ {
		var next []*x509.Certificate
		for _, c := range frontier {
			for _, u := range c.IssuingCertificateURL {
				if tried[u] || len(tried) >= maxAIAFetches {
					continue
				}
				tried[u] = true
				certs, err := v.opts.AIA.Fetch(ctx, u)
				if err != nil {
					fetchErrs = append(fetchErrs, err.Error())
					continue
				}
				for _, fc := range certs {
					opts.Intermediates.AddCert(fc)
					r.Fetched = append(r.Fetched, fc)
				}
				next = append(next, certs...)
			}
		}
		if len(next) == 0 {
			break
		}
		chains, err := chain[0].Verify(opts)
		if err == nil {
			return chains, nil
		}
		lastErr = err
		frontier = next
	}
	if lastErr == nil {
		lastErr = x509.UnknownAuthorityError{Cert: chain[0]}
	}
	if len(tried) == 0 {
		return nil, fmt.Errorf("%w; no caIssuers URL to fetch a missing intermediate from", lastErr)
	}
	if len(fetchErrs) > 0 {
		return nil, fmt.Errorf("%w; AIA: %s", lastErr, strings.Join(fetchErrs, "; "))
	}
	return nil, lastErr
}

func isUnknownAuthority(err error) bool {
	var ua x509.UnknownAuthorityError
	return errors.As(err, &ua)
}

func classifyVerify(err error) (Reason, string) {
	var ci x509.CertificateInvalidError
	if errors.As(err, &ci) {
		switch ci.Reason {
		case x509.Expired:
			return ReasonChainExpired, fmt.Sprintf("a certificate of the chain is outside its validity window: %v", err)
		case x509.IncompatibleUsage:
			return ReasonBadUsage, fmt.Sprintf("the chain does not allow serverAuth or clientAuth: %v", err)
		}
		return ReasonBadChain, err.Error()
	}
	if isUnknownAuthority(err) {
		return ReasonUntrustedAnchor, fmt.Sprintf("no chain to an anchor of the local domain's circles: %v", err)
	}
	return ReasonBadChain, err.Error()
}

func inWindow(chain []*x509.Certificate, now time.Time) bool {
	for _, c := range chain {
		if now.Before(c.NotBefore) || now.After(c.NotAfter) {
			return false
		}
	}
	return true
}

// checkRevocation checks every certificate of chain but the anchor.
func (v *Validator) checkRevocation(ctx context.Context, chain []*x509.Certificate) (Reason, string, []string) {
	var notes, warns []string
	for i := 0; i+1 < len(chain); i++ {
		c, issuer := chain[i], chain[i+1]
		what := "leaf"
		if i > 0 {
			what = fmt.Sprintf("intermediate %q", c.Subject.String())
		}
		if len(c.CRLDistributionPoints) == 0 {
			if i == 0 { // only with LabNoCRL: checked in step crl-dp
				notes = append(notes, "leaf: not checked (no CRL DP, LabNoCRL)")
				continue
			}
			notes = append(notes, what+": no CRL DP, not checked")
			continue
		}
		if v.opts.Revocation == nil {
			warns = append(warns, "LabNoCRL: no revocation checker, "+what+" not checked")
			notes = append(notes, what+": not checked (LabNoCRL)")
			continue
		}
		st, err := v.opts.Revocation.Check(ctx, c, issuer)
		switch {
		case st.Revoked:
			return ReasonRevoked, fmt.Sprintf("%s serial %s is revoked%s by the CRL of %q%s", what, c.SerialNumber, revokedAt(st), issuer.Subject.String(), crlSource(st)), nil
		case err != nil && v.opts.LabNoCRL:
			warns = append(warns, fmt.Sprintf("LabNoCRL: no CRL for %s (%v); accepted for a lab only", what, err))
			notes = append(notes, what+": CRL unavailable (LabNoCRL)")
		case err != nil:
			return ReasonCRLUnavailable, fmt.Sprintf("no valid CRL for %s from %s: %v (fail closed)", what, strings.Join(c.CRLDistributionPoints, ", "), err), nil
		default:
			notes = append(notes, what+": not revoked"+crlSource(st))
		}
	}
	if len(notes) == 0 {
		notes = append(notes, "the chain is the anchor alone")
	}
	return ReasonTrusted, strings.Join(notes, "; "), warns
}

func revokedAt(st RevocationStatus) string {
	out := ""
	if !st.RevokedAt.IsZero() {
		out = " since " + st.RevokedAt.UTC().Format(time.RFC3339)
	}
	if st.Reason != 0 {
		out += fmt.Sprintf(" (reason %d)", st.Reason)
	}
	return out
}

func crlSource(st RevocationStatus) string {
	if st.URL == "" {
		return ""
	}
	s := " (CRL " + st.URL
	if !st.ThisUpdate.IsZero() {
		s += ", issued " + st.ThisUpdate.UTC().Format(time.RFC3339)
	}
	if !st.NextUpdate.IsZero() {
		s += ", next " + st.NextUpdate.UTC().Format(time.RFC3339)
	}
	return s + ")"
}

// Explain renders a Result step by step, for `tern direct trust check`.
func Explain(r *Result) string {
	var b strings.Builder
	verdict := "TRUSTED"
	if !r.Trusted {
		verdict = "REFUSED (" + string(r.Reason) + ")"
	}
	local := r.Local
	if NormalizeDomain(r.Local) != r.Domain {
		local = fmt.Sprintf("%s (circles of %s)", r.Local, r.Domain)
	}
	fmt.Fprintf(&b, "peer %s for local domain %s at %s: %s\n", r.Peer, local, r.Time.UTC().Format(time.RFC3339), verdict)
	for i, s := range r.Steps {
		mark := "ok  "
		if !s.OK {
			mark = "FAIL"
		}
		fmt.Fprintf(&b, "  %d. [%s] %-10s %s\n", i+1, mark, s.Name, s.Detail)
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(&b, "  warning: %s\n", w)
	}
	return b.String()
}
