package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// Request is one call: an operation and its string arguments.
type Request struct {
	Op   string            `json:"op"`
	Args map[string]string `json:"args,omitempty"`
}

// Reply answers a Request: Text for a person, or Error.
type Reply struct {
	Text  string `json:"text,omitempty"`
	Error string `json:"error,omitempty"`
}

// Handler runs one operation.
type Handler func(ctx context.Context, args map[string]string) (string, error)

// Limits of one exchange: a request is a line, mostly of a few hundred
// bytes; `tern direct send` carries its files in it.
const (
	maxRequest = 16 << 20
	ioTimeout  = 30 * time.Second
)

// MaxPath is the longest socket path sockaddr_un holds everywhere (108
// bytes with the NUL on Linux, 104 on BSDs).
const MaxPath = 103

// ErrNotRunning: no server answers on the socket.
var ErrNotRunning = errors.New("no tern server answers on the control socket")

// Server dispatches requests to handlers registered by operation name.
type Server struct {
	log      *slog.Logger
	mu       sync.RWMutex
	handlers map[string]Handler
	ctx      context.Context
	wg       sync.WaitGroup
}

// NewServer returns a server whose handlers run under ctx.
func NewServer(ctx context.Context, log *slog.Logger) *Server {
	return &Server{log: log, handlers: map[string]Handler{}, ctx: ctx}
}

// Handle registers fn for op.
func (s *Server) Handle(op string, fn Handler) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handlers[op] = fn
}

// Listen binds the socket at path. A socket that still answers means
// another server runs on this data directory: that is an error. One that
// does not is a leftover of a killed server and is replaced.
func Listen(path string) (net.Listener, error) {
	if fi, err := os.Lstat(path); err == nil {
		if fi.Mode()&os.ModeSocket == 0 {
			return nil, fmt.Errorf("%s exists and is not a socket: move it away, tern keeps its control socket there", path)
		}
		if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
			c.Close()
			return nil, fmt.Errorf("another tern server is running on this data directory (its control socket %s answers): stop it, or give this one another data_dir", path)
		}
		if err := os.Remove(path); err != nil {
			return nil, fmt.Errorf("cannot remove the stale control socket %s: %w", path, err)
		}
	}
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	// The data directory is 0700 already; the mode keeps the socket
	// private even if someone widens the directory.
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket %s: %w", path, err)
	}
	l.(*net.UnixListener).SetUnlinkOnClose(true)
	return l, nil
}

// Serve answers connections until l is closed, then waits for the calls
// in progress.
func (s *Server) Serve(l net.Listener) error {
	defer s.wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			s.serveConn(c)
		}()
	}
}

func (s *Server) serveConn(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(ioTimeout))
	if err := peerAllowed(c); err != nil {
		s.log.Warn("control socket: connection refused", "err", err)
		writeReply(c, Reply{Error: err.Error()})
		return
	}
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if err != nil {
		writeReply(c, Reply{Error: "request: want one JSON line of at most 64 KiB"})
		return
	}
	var req Request
	if err := json.Unmarshal(line, &req); err != nil {
		writeReply(c, Reply{Error: "request: " + err.Error()})
		return
	}
	s.mu.RLock()
	fn := s.handlers[req.Op]
	s.mu.RUnlock()
	if fn == nil {
		writeReply(c, Reply{Error: fmt.Sprintf("unknown operation %q", req.Op)})
		return
	}
	text, err := fn(s.ctx, req.Args)
	if err != nil {
		s.log.Info("control: operation failed", "op", req.Op, "err", err)
		writeReply(c, Reply{Error: err.Error()})
		return
	}
	s.log.Info("control: operation done", "op", req.Op)
	writeReply(c, Reply{Text: text})
}

func writeReply(w io.Writer, r Reply) {
	b, _ := json.Marshal(r)
	_, _ = w.Write(append(b, '\n'))
}

// Call sends one request to the server on path. ErrNotRunning (wrapped)
// means nothing listens there; an error the server returned comes back as
// an error with its text.
func Call(ctx context.Context, path, op string, args map[string]string) (string, error) {
	if len(path) > MaxPath {
		return "", fmt.Errorf("%w (%s is too long for a socket path, so no server listens there)", ErrNotRunning, path)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		if errors.Is(err, syscall.ENOENT) || errors.Is(err, syscall.ECONNREFUSED) {
			return "", fmt.Errorf("%w (%s)", ErrNotRunning, path)
		}
		return "", fmt.Errorf("control socket %s: %w", path, err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(ioTimeout))
	}
	b, err := json.Marshal(Request{Op: op, Args: args})
	if err != nil {
		return "", err
	}
	if _, err := c.Write(append(b, '\n')); err != nil {
		return "", fmt.Errorf("control socket %s: %w", path, err)
	}
	line, err := bufio.NewReader(io.LimitReader(c, maxRequest)).ReadBytes('\n')
	if err != nil {
		return "", fmt.Errorf("control socket %s: no answer: %w", path, err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return "", fmt.Errorf("control socket %s: bad answer: %w", path, err)
	}
	if rep.Error != "" {
		return "", errors.New(rep.Error)
	}
	return rep.Text, nil
}
