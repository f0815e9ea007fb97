package s2s

import (
	"net"
	"strconv"

	"github.com/tern-xmpp/tern/internal/wire/stream"
)

// admit counts an inbound connection from ip, or reports that ip is at
// Config.ConnsPerIP. A peer opens a stream or two per domain pair, so the
// limit only bites a flood.
func (s *Service) admit(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.ConnsPerIP > 0 && s.perIP[ip] >= s.cfg.ConnsPerIP && !s.cfg.Trusted.Contains(ip) {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Service) release(ip string) {
	s.mu.Lock()
	s.releaseLocked(ip)
	s.mu.Unlock()
}

func (s *Service) releaseLocked(ip string) {
	if s.perIP[ip]--; s.perIP[ip] <= 0 {
		delete(s.perIP, ip)
	}
}

// refuse tells a connection over the limit why it is closed (RFC 6120
// §4.9.3.14 policy-violation, after our header).
func (s *Service) refuse(c net.Conn, ip string, directTLS bool) {
	s.log.Warn("s2s connection refused: too many connections from this address (limits.conns_per_ip); raise it or add the network to limits.trusted_networks", "ip", ip, "limit", s.cfg.ConnsPerIP)
	if m := s.cfg.Metrics.StreamError; m != nil {
		m("policy-violation")
	}
	s.refuser.Refuse(c, s.cfg.ServerTLS, directTLS, s.r.Hosts()[0], stream.NewError("policy-violation",
		"too many connections from your address (limits.conns_per_ip = "+strconv.Itoa(s.cfg.ConnsPerIP)+")"))
}
