package check

import (
	"context"
	"fmt"

	"github.com/tern-xmpp/tern/internal/direct/trust"
	"github.com/tern-xmpp/tern/internal/ops/config"
	"github.com/tern-xmpp/tern/internal/pki/keypair"
)

// directCert checks the certificate of a Direct domain against the
// Direct domain certificate profile (keypair.CheckDirectDomain: SAN
// dNSName, EKU, key usage, CRL distribution point, validity, key files'
// modes), and loads that of a plain domain configured with PKCS#12.
func directCert(cfg *config.Config, d config.Domain, c *Checker) []Result {
	name := "cert " + d.Name
	src := keypair.Source{CertFile: d.Cert, KeyFile: d.Key, PKCS12File: d.PKCS12, PasswordFile: d.PasswordFile}
	if !d.Direct {
		p, err := src.Load(c.now())
		if err != nil {
			return []Result{{Error, name, err.Error()}}
		}
		return []Result{{OK, name, fmt.Sprintf("%s: key matches, subject %q, issuer %q", d.PKCS12, p.Leaf().Subject.CommonName, p.Leaf().Issuer.CommonName)}}
	}
	ps := keypair.CheckDirectDomain(src, d.Name, c.services(cfg), c.now())
	var rs []Result
	for _, p := range ps {
		sev := Warning
		if p.Severity == keypair.Error {
			sev = Error
		}
		rs = append(rs, Result{sev, name, "Direct certificate: " + p.Text})
	}
	if len(rs) == 0 {
		rs = append(rs, Result{OK, name, "fits the Direct domain certificate profile (SAN, EKU, key usage, CRL distribution point, validity)"})
	}
	return rs
}

// services are the TIM+ service names a Direct domain's certificate must
// carry besides the domain: the file proxy's (module bytestreams, e.g.
// ftproxystream.<domain>) when its listener is on. (Group chat, when it
// comes, adds groupchat.)
func (c *Checker) services(cfg *config.Config) []string {
	if cfg == nil {
		return nil
	}
	proxy := struct {
		Name   string `toml:"name"`
		Listen string `toml:"listen"`
	}{Name: "ftproxystream"}
	if err := cfg.DecodeSection("bytestreams", &proxy); err != nil || proxy.Listen == "" || proxy.Name == "" {
		return nil
	}
	for _, m := range cfg.ModulesDisabled {
		if m == "bytestreams" {
			return nil
		}
	}
	return []string{proxy.Name}
}

// Trust checks the Direct trust configuration: lab-only switches, Direct
// domains without a circle, and every circle's bundles and anchors,
// fetched now (trust.Status.Problems).
func (c *Checker) Trust(ctx context.Context, cfg *config.Config) []Result {
	direct := cfg.DirectDomains()
	if len(direct) == 0 && len(cfg.Trust.Circles) == 0 {
		return nil
	}
	var rs []Result
	if cfg.Trust.LabNoCRL {
		rs = append(rs, Result{Warning, "trust", "lab_no_crl = true: peers without an obtainable CRL are accepted, which violates TIM+; remove it outside a lab"})
	}
	if cfg.Trust.AllowHTTP {
		rs = append(rs, Result{Warning, "trust", "allow_http = true: plain-http bundles can be replaced by anyone on the path; use https outside a lab"})
	}
	if len(direct) > 0 && cfg.S2S.Dialback {
		rs = append(rs, Result{Info, "trust", "s2s.dialback = true applies to plain domains only: Direct domains never use dialback"})
	}
	for _, d := range cfg.Domains {
		if d.Direct && len(d.Circles) == 0 {
			rs = append(rs, Result{Warning, "trust " + d.Name, "Direct domain with no circle: it trusts nobody and no peer can reach it; set circles = [\"...\"]"})
		}
	}
	reg, err := trust.NewRegistry(cfg.TrustConfig(), trust.Options{CacheDir: cfg.TrustCacheDir()})
	if err != nil {
		return append(rs, Result{Error, "trust", err.Error()})
	}
	rctx, cancel := context.WithTimeout(ctx, cfg.Trust.FetchTimeout.Duration+c.timeout())
	defer cancel()
	_ = reg.RefreshAll(rctx) // failures are in Status
	st := reg.Status()
	probs := st.Problems()
	for _, p := range probs {
		rs = append(rs, Result{Warning, "trust", p})
	}
	for _, d := range st.Domains {
		if d.Anchors > 0 {
			rs = append(rs, Result{OK, "trust " + d.Name, fmt.Sprintf("trusts %d anchors from circles %v", d.Anchors, d.Circles)})
		}
	}
	return rs
}

// Keys checks the sealing key of the Direct private keys ([keys]).
func (c *Checker) Keys(cfg *config.Config) []Result {
	k, err := cfg.SealingKey()
	switch {
	case err != nil:
		return []Result{{Error, "keys", err.Error()}}
	case k != nil && cfg.Keys.File != "":
		return []Result{{OK, "keys", "Direct private keys sealed with the key in " + cfg.Keys.File}}
	case k != nil:
		return []Result{{OK, "keys", "Direct private keys sealed with the key in $" + cfg.Keys.Env}}
	case len(cfg.DirectDomains()) > 0:
		return []Result{{Info, "keys", "Direct private keys sealed with <data_dir>/secret: a copy of the data directory opens them; set [keys] file or env to keep the key apart"}}
	}
	return nil
}
