package c2s

import (
	"log/slog"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// poller waits for readability of parked sessions' sockets with one epoll
// instance and one goroutine for the whole server. Registrations are
// level-triggered and one-shot: data already buffered in the kernel wakes
// the session at once, and a woken session is not reported again until it
// parks anew.
type poller struct {
	epfd int
	mu   sync.Mutex
	fds  map[int32]*Session
	log  *slog.Logger
}

func newPoller(log *slog.Logger) (*poller, error) {
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, err
	}
	p := &poller{epfd: fd, fds: map[int32]*Session{}, log: log}
	go p.run()
	return p, nil
}

func (p *poller) wait(s *Session) error {
	sc, ok := s.raw.(syscall.Conn)
	if !ok {
		return errNoPoller
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var ctlErr error
	err = rc.Control(func(fd uintptr) {
		ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT, Fd: int32(fd)}
		p.mu.Lock()
		p.fds[int32(fd)] = s
		s.pfd = int32(fd)
		p.mu.Unlock()
		ctlErr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_MOD, int(fd), &ev)
		if ctlErr == unix.ENOENT {
			ctlErr = unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, int(fd), &ev)
		}
	})
	if err == nil {
		err = ctlErr
	}
	return err
}

func (p *poller) run() {
	events := make([]unix.EpollEvent, 128)
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err == unix.EINTR {
				continue
			}
			p.log.Error("session poller stopped; parked sessions will not resume", "err", err)
			return
		}
		for i := 0; i < n; i++ {
			p.mu.Lock()
			s := p.fds[events[i].Fd]
			p.mu.Unlock()
			if s != nil {
				s.unpark()
			}
		}
	}
}

// forget drops a resumed session from the map, so a closed session is
// not kept alive by its old file descriptor number.
func (p *poller) forget(s *Session) {
	if p == nil {
		return
	}
	p.mu.Lock()
	if p.fds[s.pfd] == s {
		delete(p.fds, s.pfd)
	}
	p.mu.Unlock()
}
