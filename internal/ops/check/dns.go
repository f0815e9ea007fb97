package check

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tern-xmpp/tern/internal/ops/config"
)

// srvService is one SRV record kind and the listeners it points to.
type srvService struct {
	service string // "xmpp-client"
	ports   []int  // configured listener ports
	needed  bool   // absence is a warning rather than info
	why     string // what its absence means
	example int    // port for the example record
}

// DNS checks, for each domain, the SRV records of RFC 6120 §3.2.1 and
// XEP-0368 and the domain's A/AAAA records.
func (c *Checker) DNS(ctx context.Context, cfg *config.Config) []Result {
	var rs []Result
	for _, d := range cfg.Domains {
		rs = append(rs, c.dnsDomain(ctx, cfg, d.Name)...)
	}
	return rs
}

func (c *Checker) dnsDomain(ctx context.Context, cfg *config.Config, domain string) []Result {
	name := "dns " + domain
	if isLocal(domain) {
		return []Result{{Info, name, "local name: no DNS needed (only clients on this machine can connect)"}}
	}
	ascii := asciiDomain(domain)
	r := c.resolver()
	federates := len(cfg.S2S.Listen)+len(cfg.S2S.ListenTLS) > 0
	services := []srvService{
		{"xmpp-client", ports(cfg.C2S.Listen), true, "clients will try " + domain + ":5222", 5222},
		{"xmpps-client", ports(cfg.C2S.ListenTLS), false, "clients will not find direct TLS (XEP-0368, optional)", 5223},
		{"xmpp-server", ports(cfg.S2S.Listen), federates, "servers will try " + domain + ":5269", 5269},
		{"xmpps-server", ports(cfg.S2S.ListenTLS), false, "servers will not find direct TLS (XEP-0368, optional)", 5270},
	}
	var rs []Result
	clientSRV := false
	for _, s := range services {
		rctx, cancel := context.WithTimeout(ctx, c.timeout())
		_, addrs, err := r.LookupSRV(rctx, s.service, "tcp", ascii)
		cancel()
		rec := fmt.Sprintf("_%s._tcp.%s", s.service, ascii)
		if err != nil {
			var de *net.DNSError
			if !errors.As(err, &de) || !de.IsNotFound {
				rs = append(rs, Result{Warning, name, fmt.Sprintf("%s: lookup failed: %v (check the resolver, or run with --no-dns)", rec, err)})
				continue
			}
			sev := Info
			if s.needed {
				sev = Warning
			}
			if strings.HasPrefix(s.service, "xmpp") && strings.HasSuffix(s.service, "server") && !federates {
				rs = append(rs, Result{Info, name, fmt.Sprintf("%s: none (fine: federation is off, s2s.listen is empty)", rec)})
				continue
			}
			rs = append(rs, Result{sev, name, fmt.Sprintf("%s: none: %s; add e.g. \"%s. 3600 IN SRV 0 5 %d xmpp.%s.\"", rec, s.why, rec, s.example, ascii)})
			continue
		}
		if len(addrs) == 1 && addrs[0].Target == "." {
			rs = append(rs, Result{Info, name, rec + ": \".\": the service is declared unavailable (RFC 2782)"})
			continue
		}
		if s.service == "xmpp-client" || s.service == "xmpps-client" {
			clientSRV = true
		}
		var found []string
		for _, a := range addrs {
			found = append(found, fmt.Sprintf("%s:%d", strings.TrimSuffix(a.Target, "."), a.Port))
			tctx, cancel := context.WithTimeout(ctx, c.timeout())
			ips, err := r.LookupIPAddr(tctx, a.Target)
			cancel()
			if err != nil || len(ips) == 0 {
				rs = append(rs, Result{Error, name, fmt.Sprintf("%s points to %s, which has no A/AAAA record: add one", rec, a.Target)})
			}
			if len(s.ports) > 0 && !slices.Contains(s.ports, int(a.Port)) {
				rs = append(rs, Result{Warning, name, fmt.Sprintf("%s points to port %d but tern listens on %v: fix the record or the listener", rec, a.Port, s.ports)})
			}
		}
		rs = append(rs, Result{OK, name, fmt.Sprintf("%s -> %s", rec, strings.Join(found, ", "))})
	}
	ictx, cancel := context.WithTimeout(ctx, c.timeout())
	ips, err := r.LookupIPAddr(ictx, ascii)
	cancel()
	switch {
	case err == nil && len(ips) > 0:
		var s []string
		for _, ip := range ips {
			s = append(s, ip.String())
		}
		rs = append(rs, Result{OK, name, fmt.Sprintf("%s has address %s", ascii, strings.Join(s, ", "))})
	case clientSRV:
		rs = append(rs, Result{Info, name, fmt.Sprintf("%s has no A/AAAA record (fine: the SRV records point elsewhere)", ascii)})
	default:
		rs = append(rs, Result{Error, name, fmt.Sprintf("%s has neither SRV nor A/AAAA records: clients cannot find the server; add an A record or the SRV records above", ascii)})
	}
	return rs
}

// isLocal reports names no public DNS serves: localhost (RFC 6761), IP
// literals, .local (mDNS), .test and .invalid.
func isLocal(d string) bool {
	if d == "localhost" || strings.HasSuffix(d, ".localhost") || strings.HasPrefix(d, "[") {
		return true
	}
	if _, err := netip.ParseAddr(d); err == nil {
		return true
	}
	for _, tld := range []string{".local", ".test", ".invalid"} {
		if strings.HasSuffix(d, tld) {
			return true
		}
	}
	return false
}

func ports(addrs []string) []int {
	var out []int
	for _, a := range addrs {
		if _, p, err := net.SplitHostPort(a); err == nil {
			if n, err := strconv.Atoi(p); err == nil && n != 0 {
				out = append(out, n)
			}
		}
	}
	return out
}
