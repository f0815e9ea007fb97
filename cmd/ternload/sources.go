package main

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
)

// maxSources bounds a range so a typo cannot make a huge slice.
const maxSources = 4096

// sourcePool hands out local addresses round-robin, so N connections are
// spread over several source IPs: each gets its own ephemeral port range
// and stays under per-IP connection limits.
type sourcePool struct {
	addrs []*net.TCPAddr
	n     atomic.Uint64
}

// next returns the local address for the next connection, or nil (kernel's
// choice) when no sources were given.
func (p *sourcePool) next() net.Addr {
	if p == nil || len(p.addrs) == 0 {
		return nil
	}
	return p.addrs[(p.n.Add(1)-1)%uint64(len(p.addrs))]
}

// parseSources accepts "", "A-B" (an inclusive IPv4 range) or "a,b,c",
// all within 127.0.0.0/8.
func parseSources(s string) (*sourcePool, error) {
	p := &sourcePool{}
	s = strings.TrimSpace(s)
	if s == "" {
		return p, nil
	}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := netip.ParseAddr(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("-sources %q: %v", part, err)
		}
		b := a
		if isRange {
			if b, err = netip.ParseAddr(strings.TrimSpace(hi)); err != nil {
				return nil, fmt.Errorf("-sources %q: %v", part, err)
			}
		}
		if !a.Is4() || !b.Is4() || !a.IsLoopback() || !b.IsLoopback() {
			return nil, fmt.Errorf("-sources %q: only IPv4 addresses in 127.0.0.0/8 are allowed", part)
		}
		if b.Less(a) {
			return nil, fmt.Errorf("-sources %q: range end is below its start", part)
		}
		for ip := a; ; ip = ip.Next() {
			if len(p.addrs) >= maxSources {
				return nil, fmt.Errorf("-sources: more than %d addresses", maxSources)
			}
			p.addrs = append(p.addrs, &net.TCPAddr{IP: ip.AsSlice()})
			if ip == b {
				break
			}
		}
	}
	return p, nil
}

// checkLoopback refuses any server outside 127.0.0.0/8: this tool only
// loads machines it runs on.
func checkLoopback(hostport string) error {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return fmt.Errorf("-server %q: %v (want host:port)", hostport, err)
	}
	if host == "localhost" {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.Is4() || !ip.IsLoopback() {
		return errors.New("-server must be an IPv4 address in 127.0.0.0/8 (or localhost): this tool only loads the local machine")
	}
	return nil
}
