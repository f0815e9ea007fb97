package config

import (
	"github.com/tern-xmpp/tern/internal/direct/trust"
)

// TrustConfig is [trust] and the Direct domains' circles in the form
// internal/direct/trust applies (NewRegistry, Apply).
func (c *Config) TrustConfig() trust.Config {
	tc := trust.Config{
		FetchTimeout:  c.Trust.FetchTimeout.Duration,
		MaxBundleSize: int64(c.Trust.MaxBundleSize),
		AllowHTTP:     c.Trust.AllowHTTP,
	}
	for _, ci := range c.Trust.Circles {
		out := trust.Circle{Name: ci.Name, Anchors: append([]string(nil), ci.Anchors...)}
		for _, b := range ci.Bundles {
			out.Bundles = append(out.Bundles, trust.Bundle{Name: b.Name, URL: b.URL, Path: b.Path, SigningCert: b.SigningCert, Refresh: b.Refresh.Duration})
		}
		tc.Circles = append(tc.Circles, out)
	}
	for _, d := range c.Domains {
		if d.Direct {
			tc.Domains = append(tc.Domains, trust.Domain{Name: d.Name, Circles: append([]string(nil), d.Circles...)})
		}
	}
	return tc
}
