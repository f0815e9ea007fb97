package ratelimit

import (
	"fmt"
	"net/netip"
)

// Networks are addresses exempt from per-address limits: a clinic behind
// one NAT address, a load balancer, a monitoring host. Per-account limits
// still apply to them.
type Networks []netip.Prefix

// ParseNetworks reads CIDR prefixes ("10.0.0.0/8") and single addresses.
func ParseNetworks(ss []string) (Networks, error) {
	var n Networks
	for _, s := range ss {
		if p, err := netip.ParsePrefix(s); err == nil {
			if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
				// Addresses are compared unmapped: so are prefixes.
				p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
			}
			n = append(n, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a CIDR prefix (e.g. 192.0.2.7 or 10.1.0.0/16)", s)
		}
		n = append(n, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return n, nil
}

// Contains reports whether ip (as net.Conn addresses print it) is in n.
func (n Networks) Contains(ip string) bool {
	if len(n) == 0 {
		return false
	}
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return false
	}
	a = a.Unmap().WithZone("")
	for _, p := range n {
		if p.Contains(a) {
			return true
		}
	}
	return false
}
