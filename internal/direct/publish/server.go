package publish

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/miekg/dns"

	"github.com/tern-xmpp/tern/internal/auth/ratelimit"
)

// Server answers DNS queries for a Zone over UDP and TCP on one address.
type Server struct {
	zone atomic.Pointer[Zone]
	log  *slog.Logger
	udp  *dns.Server
	tcp  *dns.Server
	// Queries counts answered queries by outcome, if set (metrics).
	Queries func(outcome string)
	// PerIP bounds the UDP queries answered per source address (nil: no
	// bound). Past it, every other query gets an empty truncated answer,
	// so a real resolver retries over TCP (not limited: no spoofing
	// there), and the rest get none: a spoofed flood is not reflected.
	PerIP *ratelimit.Window

	slip atomic.Uint32
}

// NewServer serves z; SetZone swaps it.
func NewServer(z *Zone, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{log: log}
	s.zone.Store(z)
	return s
}

// SetZone makes z the zone answered from the next query on.
func (s *Server) SetZone(z *Zone) { s.zone.Store(z) }

// Limits of a query's handling: a client's EDNS0 size is honoured up to
// maxUDP; a TCP connection stays open for a few queries, briefly.
const (
	maxUDP     = 4096
	tcpIdle    = 10 * time.Second
	tcpQueries = 128
)

// Listen binds addr (host:port) for UDP and TCP and serves until Close.
func (s *Server) Listen(addr string) (net.Addr, error) {
	pc, err := net.ListenPacket("udp", addr)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", pc.LocalAddr().String())
	if err != nil {
		pc.Close()
		return nil, err
	}
	h := dns.HandlerFunc(s.serve)
	s.udp = &dns.Server{PacketConn: pc, Handler: h}
	s.tcp = &dns.Server{Listener: ln, Handler: h, IdleTimeout: func() time.Duration { return tcpIdle }, MaxTCPQueries: tcpQueries,
		ReadTimeout: 2 * time.Second, WriteTimeout: 2 * time.Second}
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		go func() {
			if err := srv.ActivateAndServe(); err != nil && !errors.Is(err, net.ErrClosed) {
				s.log.Error("DNS responder stopped", "err", err)
			}
		}()
	}
	return pc.LocalAddr(), nil
}

// Close stops both listeners.
func (s *Server) Close(ctx context.Context) {
	for _, srv := range []*dns.Server{s.udp, s.tcp} {
		if srv != nil {
			_ = srv.ShutdownContext(ctx)
		}
	}
}

func (s *Server) serve(w dns.ResponseWriter, req *dns.Msg) {
	udp := w.LocalAddr().Network() == "udp"
	if udp && s.PerIP != nil {
		ip, _, _ := net.SplitHostPort(w.RemoteAddr().String())
		if !s.PerIP.Add(ip) {
			if s.Queries != nil {
				s.Queries("limited")
			}
			if s.slip.Add(1)%2 == 0 && !req.Response && len(req.Question) == 1 {
				m := new(dns.Msg)
				m.SetReply(req)
				m.Truncated = true
				_ = w.WriteMsg(m)
			}
			return
		}
	}
	m := new(dns.Msg)
	outcome := "answer"
	switch {
	case req.Response || req.Opcode != dns.OpcodeQuery:
		m.SetRcode(req, dns.RcodeNotImplemented)
		outcome = "refused"
	case len(req.Question) != 1:
		m.SetRcode(req, dns.RcodeFormatError)
		outcome = "refused"
	default:
		m.SetReply(req)
		if !s.zone.Load().Answer(req.Question[0], m) {
			outcome = "refused"
		} else if m.Rcode == dns.RcodeNameError {
			outcome = "nxdomain"
		}
	}
	size := dns.MinMsgSize
	if o := req.IsEdns0(); o != nil {
		size = min(max(int(o.UDPSize()), dns.MinMsgSize), maxUDP)
		m.SetEdns0(uint16(size), false)
	}
	if udp {
		m.Truncate(size) // the client asks again over TCP
	}
	if s.Queries != nil {
		s.Queries(outcome)
	}
	_ = w.WriteMsg(m)
}
