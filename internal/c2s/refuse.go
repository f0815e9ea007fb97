package c2s

import (
	"crypto/tls"
	"io"
	"net"
	"strconv"
	"time"

	"github.com/tern-xmpp/tern/internal/stream"
	"github.com/tern-xmpp/tern/internal/xml"
)

const (
	maxRefusing    = 16              // refusals being written at once; beyond, connections are just closed
	refuseDeadline = 5 * time.Second // for the whole refusal, TLS handshake included
)

// refuse tells a connection over limits.conns_per_ip why it is closed: our
// header, <policy-violation/> with a text naming the limit, the close (RFC
// 6120 §4.9.1.1: the header comes first even before the client's). On the
// direct-TLS port that needs a handshake, so refusals are bounded: a flood
// of them costs at most maxRefusing handshakes at a time, and the rest are
// closed without a word.
func (s *Server) refuse(c net.Conn, directTLS bool) {
	s.mu.Lock()
	ok := !s.closing && len(s.refusing) < maxRefusing
	if ok {
		s.refusing <- struct{}{}
		s.wg.Add(1)
	}
	s.mu.Unlock()
	if m := s.cfg.Metrics.StreamError; m != nil {
		m("policy-violation")
	}
	if !ok {
		c.Close()
		return
	}
	go func() {
		defer func() { <-s.refusing; s.wg.Done() }()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseDeadline))
		w := c
		if directTLS {
			tc := tls.Server(c, s.cfg.TLS)
			if tc.Handshake() != nil {
				return
			}
			w = tc
		}
		from := "localhost"
		if len(s.cfg.Domains) > 0 {
			from = s.cfg.Domains[0]
		}
		h := stream.Header{NS: xml.NSClient, ID: newID(), Version: "1.0", Lang: "en", From: from}
		se := stream.NewError("policy-violation", "too many connections from your address (limits.conns_per_ip = "+strconv.Itoa(s.cfg.ConnsPerIP)+"); close one and retry")
		b := xml.Append(h.Append(nil), se.Element(), xml.NSClient)
		if _, err := w.Write(append(b, stream.Close...)); err != nil {
			return
		}
		// Half-close and drain, so the client reads the error before the
		// close: closing with its header unread would reset the connection.
		if tc, ok := w.(*tls.Conn); ok {
			_ = tc.CloseWrite()
		} else if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(w, 64<<10))
	}()
}
