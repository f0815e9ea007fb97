package stream

import (
	"errors"
	"io"
	"net"
	"os"
	"time"
)

// Reader reads from a connection with the time-outs a server needs: an
// absolute deadline (time to authenticate), and an idle time after which
// OnIdle runs once (send a ping) before Grace more is allowed. A read that
// returns data resets the idle clock.
type Reader struct {
	Conn     net.Conn // where deadlines are set (the TLS conn once upgraded)
	R        io.Reader
	Deadline time.Time
	Idle     time.Duration
	Grace    time.Duration
	OnIdle   func()
	// Pending is returned before anything is read from R (a byte read
	// ahead while deciding whether a connection is idle).
	Pending []byte
}

func (r *Reader) Read(p []byte) (int, error) {
	if len(r.Pending) > 0 {
		n := copy(p, r.Pending)
		r.Pending = r.Pending[n:]
		return n, nil
	}
	pinged := false
	for {
		var dl time.Time
		switch {
		case !r.Deadline.IsZero():
			dl = r.Deadline
		case r.Idle > 0 && pinged:
			dl = time.Now().Add(r.Grace)
		case r.Idle > 0:
			dl = time.Now().Add(r.Idle)
		}
		_ = r.Conn.SetReadDeadline(dl)
		n, err := r.R.Read(p)
		if n > 0 || err == nil {
			return n, err
		}
		if errors.Is(err, os.ErrDeadlineExceeded) && r.Deadline.IsZero() && !pinged && r.OnIdle != nil {
			pinged = true
			r.OnIdle()
			continue
		}
		return n, err
	}
}

// IsTimeout reports whether err is a read deadline expiry.
func IsTimeout(err error) bool { return errors.Is(err, os.ErrDeadlineExceeded) }
