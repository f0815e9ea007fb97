package stream

import (
	"io"
	"net"
	"sync"
	"time"

	"github.com/tern-xmpp/tern/internal/wire/xml"
)

// DefaultWriteTimeout bounds one write to a peer that stopped reading.
const DefaultWriteTimeout = 30 * time.Second

// OutputConfig is what the streams of one kind share (one value per
// listener, not per stream: idle streams are counted by the thousand).
type OutputConfig struct {
	NS           string        // content namespace (jabber:client, jabber:server): stream errors are written in it
	Framing      Framing       // nil: TCP
	MaxQueued    int           // bytes queued for a peer that does not read; beyond, the stream closes (0: no bound)
	WriteTimeout time.Duration // per write; 0: DefaultWriteTimeout
}

// Conn is where output is written: a net.Conn, or a transport's own.
type Conn interface {
	Write(p []byte) (int, error)
	SetWriteDeadline(t time.Time) error
}

// OutputEvents lets a stream's owner act on what happens to its output.
// Both run with the output's lock held: they must not block nor call
// Output methods other than those named ...Locked.
type OutputEvents interface {
	// WriteFailed: a write to the current connection failed. keep
	// detaches the connection and keeps the stream (XEP-0198
	// hibernation) instead of closing it.
	WriteFailed(closing bool) (keep bool)
	// Closing: a close was queued (Close, or the bound was exceeded).
	Closing()
}

// Output is a stream's way out, shared by every transport. Any goroutine
// may queue; a flusher goroutine, which exists only while there is
// output, writes in order. Idle, it keeps no goroutine and no buffer.
// Methods named ...Locked expect Lock held, so that an owner can keep
// its own state (XEP-0198 counters) in step with the queue.
type Output struct {
	cfg     *OutputConfig
	ev      OutputEvents
	mu      sync.Mutex
	w       Conn       // nil: no connection (lost, the stream kept: detached)
	c       io.Closer  // closed after the final flush (the socket under TLS)
	gen     uint32     // bumped by SetConnLocked: a late error of a replaced connection is ignored
	buf     *[]byte    // the queue, a pooled buffer; nil when empty
	t       *transient // nil most of the time: an idle stream keeps 8 bytes, not 32
	writing bool
	closing bool // a close is queued: nothing more is sent
	closed  bool // nothing more is written
}

// Init sets the output up on w; c is closed after the final flush. ev may be nil.
func (o *Output) Init(cfg *OutputConfig, w Conn, c io.Closer, ev OutputEvents) {
	o.cfg, o.w, o.c, o.ev = cfg, w, c, ev
}

func (o *Output) Lock()   { o.mu.Lock() }
func (o *Output) Unlock() { o.mu.Unlock() }

// Send queues a stanza written relative to parent. False if the stream is
// closing or detached, or if the stanza would take the queue over
// MaxQueued: the stream then closes with <policy-violation/>.
func (o *Output) Send(el *xml.Element, parent string) bool {
	o.mu.Lock()
	_, ok := o.SendLocked(el, parent)
	o.mu.Unlock()
	return ok
}

// SendLocked is Send with the lock held; it also returns how many bytes
// the stanza took in the queue.
func (o *Output) SendLocked(el *xml.Element, parent string) (int, bool) {
	if o.closing || o.w == nil {
		return 0, false
	}
	n := o.queued()
	size := o.appendEl(el, parent)
	if m := o.cfg.MaxQueued; m > 0 && n+size > m {
		*o.buf = (*o.buf)[:n] // checked with the stanza in: it must not pass the bound
		o.CloseLocked(NewError("policy-violation", "too much unread output"))
		return 0, false
	}
	o.kick()
	return size, true
}

// Append queues an element of the stream's own (not bounded: a nonza, or
// what a resumption sends again).
func (o *Output) Append(el *xml.Element, parent string) {
	o.mu.Lock()
	o.AppendLocked(el, parent)
	o.mu.Unlock()
}

// AppendLocked is Append with the lock held.
func (o *Output) AppendLocked(el *xml.Element, parent string) {
	if o.closing || o.w == nil {
		return
	}
	o.appendEl(el, parent)
	o.kick()
}

// AppendUnflushed queues an element without starting the flusher: it
// goes out with the next output queued, or at Flush. (c2s queues the bind
// result so, and binds, then flushes: the client cannot act on its
// resource before the server has it.)
func (o *Output) AppendUnflushed(el *xml.Element, parent string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.closing && o.w != nil {
		o.appendEl(el, parent)
	}
}

// Flush starts writing what is queued.
func (o *Output) Flush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.queued() > 0 {
		o.kick()
	}
}

// AppendHeader queues our stream header.
func (o *Output) AppendHeader(h *Header) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing || o.w == nil {
		return
	}
	o.setOwed(nil)
	b := o.alloc()
	*b = o.framing().AppendHeader(*b, h)
	o.kick()
}

func (o *Output) appendEl(el *xml.Element, parent string) int {
	b := o.alloc()
	n := len(*b)
	if f := o.cfg.Framing; f != nil {
		*b = f.AppendElement(*b, el, parent)
	} else {
		*b = xml.Append(*b, el, parent)
	}
	return len(*b) - n
}

// alloc returns the queue, taking a pooled buffer if there is none.
func (o *Output) alloc() *[]byte {
	if o.buf == nil {
		o.buf = getBuf()
	}
	return o.buf
}

func (o *Output) queued() int {
	if o.buf == nil {
		return 0
	}
	return len(*o.buf)
}

func (o *Output) framing() Framing {
	if o.cfg != nil && o.cfg.Framing != nil {
		return o.cfg.Framing
	}
	return TCP{}
}

// WriteNow writes an element at once, bypassing the queue: for
// negotiation, from the reading goroutine, while nothing else writes (a
// TLS switch must not race a flusher).
func (o *Output) WriteNow(el *xml.Element, parent string) error {
	b := getBuf()
	*b = o.framing().AppendElement(*b, el, parent)
	err := o.writeNow(*b)
	putBuf(b)
	return err
}

// WriteHeaderNow writes our stream header at once, as WriteNow.
func (o *Output) WriteHeaderNow(h *Header) error {
	o.mu.Lock()
	o.setOwed(nil)
	o.mu.Unlock()
	b := getBuf()
	*b = o.framing().AppendHeader(*b, h)
	err := o.writeNow(*b)
	putBuf(b)
	return err
}

func (o *Output) writeNow(b []byte) error {
	o.mu.Lock()
	w := o.w
	o.mu.Unlock()
	if w == nil {
		return net.ErrClosed
	}
	_ = w.SetWriteDeadline(time.Now().Add(o.timeout()))
	_, err := w.Write(b)
	return err
}

// OweHeader records that a new stream began and our header for it has
// not gone out: a Close with an error sends h first (RFC 6120 §4.9.1.1).
func (o *Output) OweHeader(h *Header) {
	o.mu.Lock()
	o.setOwed(h)
	o.mu.Unlock()
}

// Close ends the stream: the optional error, then the close, then the
// connection once they are written.
func (o *Output) Close(err *Error) {
	o.mu.Lock()
	o.CloseLocked(err)
	o.mu.Unlock()
}

// CloseLocked is Close with the lock held. Detached, nothing is written.
func (o *Output) CloseLocked(err *Error) {
	if o.closing {
		return
	}
	o.closing = true
	if o.w == nil {
		o.closed = true
	} else {
		f, b := o.framing(), o.alloc()
		owed := o.owed()
		if err != nil {
			if owed != nil {
				*b = f.AppendHeader(*b, owed)
			}
			*b = f.AppendElement(*b, err.Element(), o.cfg.NS)
		}
		if err != nil || owed == nil {
			*b = f.AppendClose(*b) // not for a stream we never opened: TCP just closes
		}
		o.kick()
	}
	o.setOwed(nil)
	if o.ev != nil {
		o.ev.Closing()
	}
}

// Closing reports whether a close was queued.
func (o *Output) Closing() bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.closing
}

func (o *Output) ClosingLocked() bool { return o.closing }

// DetachedLocked reports whether the stream has no connection.
func (o *Output) DetachedLocked() bool { return o.w == nil }

// DetachLocked lets the connection go while the stream lives on: the
// queue is dropped and nothing is written until SetConnLocked.
func (o *Output) DetachLocked() {
	putBuf(o.buf)
	o.buf = nil
	o.w, o.c = nil, nil
}

// SetConn moves the stream onto w (a TLS upgrade), as SetConnLocked.
func (o *Output) SetConn(w Conn, c io.Closer) {
	o.mu.Lock()
	o.SetConnLocked(w, c)
	o.mu.Unlock()
}

// SetConnLocked moves the stream onto w and c (a TLS upgrade, or a
// resumption on a new connection).
func (o *Output) SetConnLocked(w Conn, c io.Closer) {
	o.w, o.c = w, c
	o.gen++
	if o.queued() > 0 {
		o.kick()
	}
}

// Backlog is the number of bytes queued and not yet being written, or -1
// once the stream is closing.
func (o *Output) Backlog() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.closing {
		return -1
	}
	return o.queued()
}

func (o *Output) timeout() time.Duration {
	if o.cfg != nil && o.cfg.WriteTimeout > 0 {
		return o.cfg.WriteTimeout
	}
	return DefaultWriteTimeout
}
