package stream

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"io"
	"net"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

const (
	maxRefusing    = 16              // refusals being written at once; beyond, connections are just closed
	refuseDeadline = 5 * time.Second // for one whole refusal, TLS handshake included
)

// Refuser tells a connection that is over a limit (connections per
// address) why it is closed: our header, the stream error, the close (RFC
// 6120 §4.9.1.1: the header comes first even before the peer's). On a
// direct-TLS port that needs a handshake, so refusals are bounded: a flood
// costs at most maxRefusing handshakes at a time, and the rest are closed
// without a word. The zero value is ready; NS is the content namespace.
type Refuser struct {
	NS string // jabber:client or jabber:server

	mu      sync.Mutex
	active  int
	closing bool
	wg      sync.WaitGroup
}

// Refuse sends err on c (after a TLS handshake with cfg when directTLS)
// and closes c, in the background. from is our header's 'from'.
func (r *Refuser) Refuse(c net.Conn, cfg *tls.Config, directTLS bool, from string, err *Error) {
	r.mu.Lock()
	ok := !r.closing && r.active < maxRefusing && (!directTLS || cfg != nil)
	if ok {
		r.active++
		r.wg.Add(1)
	}
	r.mu.Unlock()
	if !ok {
		c.Close()
		return
	}
	go func() {
		defer func() {
			r.mu.Lock()
			r.active--
			r.mu.Unlock()
			r.wg.Done()
		}()
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(refuseDeadline))
		w := c
		if directTLS {
			tc := tls.Server(c, cfg)
			if tc.Handshake() != nil {
				return
			}
			w = tc
		}
		h := Header{NS: r.NS, ID: newRefusalID(), Version: "1.0", Lang: "en", From: from}
		b := xml.Append(h.Append(nil), err.Element(), r.NS)
		if _, werr := w.Write(append(b, Close...)); werr != nil {
			return
		}
		// Half-close and drain, so the peer reads the error before the
		// close: closing with its header unread would reset the connection.
		if tc, ok := w.(*tls.Conn); ok {
			_ = tc.CloseWrite()
		} else if tcp, ok := c.(*net.TCPConn); ok {
			_ = tcp.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(w, 64<<10))
	}()
}

// Close refuses nothing more and waits for the refusals under way.
func (r *Refuser) Close() {
	r.mu.Lock()
	r.closing = true
	r.mu.Unlock()
	r.wg.Wait()
}

func newRefusalID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
