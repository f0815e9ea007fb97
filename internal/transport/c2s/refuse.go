package c2s

import (
	"net"
	"strconv"

	"github.com/tern-xmpp/tern/internal/wire/stream"
)

// refuse tells a connection over limits.conns_per_ip why it is closed:
// <policy-violation/> with a text naming the limit (stream.Refuser).
func (s *Server) refuse(c net.Conn, directTLS bool) {
	if m := s.cfg.Metrics.StreamError; m != nil {
		m("policy-violation")
	}
	from := "localhost"
	if len(s.cfg.Domains) > 0 {
		from = s.cfg.Domains[0]
	}
	s.refuser.Refuse(c, s.cfg.TLS, directTLS, from, stream.NewError("policy-violation",
		"too many connections from your address (limits.conns_per_ip = "+strconv.Itoa(s.cfg.ConnsPerIP)+"); close one and retry"))
}
