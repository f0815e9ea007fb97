package s2s

import (
	"context"
	"crypto/rand"
	"errors"
	"math/big"
	"net"
	"slices"
	"strconv"
	"strings"
)

// Resolver is the part of *net.Resolver used to find peers.
type Resolver interface {
	LookupSRV(ctx context.Context, service, proto, name string) (string, []*net.SRV, error)
}

// NewResolver returns the system resolver, or one asking server
// (host:port) for everything when server is set (tests, split DNS).
func NewResolver(server string) *net.Resolver {
	if server == "" {
		return net.DefaultResolver
	}
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, server)
	}}
}

// target is one place to try: host:port, and whether TLS starts at once.
type target struct {
	addr   string
	direct bool
}

// targets lists where to reach domain, in order (RFC 6120 §3.2.1,
// XEP-0368 §3): a static route; else the SRV records of both services
// merged by priority, weighted-random within a priority (RFC 2782); else,
// when there are none, the domain itself on 5269 (§3.2.2). A single "."
// target means the service is decidedly not offered.
func targets(ctx context.Context, r Resolver, route, domain string) ([]target, error) {
	if route != "" {
		return []target{{addr: route}}, nil
	}
	ascii := asciiDomain(domain)
	type rec struct {
		srv    *net.SRV
		direct bool
	}
	var recs []rec
	denied := 0
	var lookupErr error
	for _, svc := range []struct {
		name   string
		direct bool
	}{{"xmpps-server", true}, {"xmpp-server", false}} {
		_, addrs, err := r.LookupSRV(ctx, svc.name, "tcp", ascii)
		if err != nil {
			var de *net.DNSError
			if !errors.As(err, &de) || !de.IsNotFound {
				lookupErr = err
			}
			continue
		}
		if len(addrs) == 1 && (addrs[0].Target == "." || addrs[0].Target == "") {
			denied++
			continue
		}
		for _, a := range addrs {
			recs = append(recs, rec{a, svc.direct})
		}
	}
	if len(recs) == 0 {
		if denied == 2 {
			return nil, errors.New(domain + " declares it offers no XMPP server service (SRV target \".\")")
		}
		if lookupErr != nil && ctx.Err() != nil {
			return nil, lookupErr
		}
		return []target{{addr: net.JoinHostPort(ascii, "5269")}}, nil
	}
	slices.SortStableFunc(recs, func(a, b rec) int { return int(a.srv.Priority) - int(b.srv.Priority) })
	var out []target
	for i := 0; i < len(recs); {
		j := i
		for j < len(recs) && recs[j].srv.Priority == recs[i].srv.Priority {
			j++
		}
		group := recs[i:j]
		// RFC 2782: pick by running weight sum; zero weights first get a small chance.
		for len(group) > 0 {
			total := 0
			for _, g := range group {
				total += int(g.srv.Weight)
			}
			k := 0
			if total > 0 {
				n, _ := rand.Int(rand.Reader, big.NewInt(int64(total)+1))
				pick, sum := int(n.Int64()), 0
				for k = range group {
					sum += int(group[k].srv.Weight)
					if sum >= pick {
						break
					}
				}
			}
			g := group[k]
			out = append(out, target{addr: net.JoinHostPort(strings.TrimSuffix(g.srv.Target, "."), strconv.Itoa(int(g.srv.Port))), direct: g.direct})
			group = append(group[:k:k], group[k+1:]...)
		}
		i = j
	}
	return out, nil
}
