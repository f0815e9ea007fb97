package s2s

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// dial opens an authenticated stream for rt.p, trying each target in turn.
func (s *Service) dial(ctx context.Context, rt *route) (*conn, error) {
	route, _ := s.route(rt.p.remote)
	ts, err := targets(ctx, s.cfg.Resolver, route, rt.p.remote)
	if err != nil {
		return nil, fmt.Errorf("finding %s: %w", rt.p.remote, err)
	}
	var errs []error
	for _, t := range ts {
		c, err := s.dialTarget(ctx, rt, t)
		if err == nil {
			return c, nil
		}
		errs = append(errs, fmt.Errorf("%s: %w", t.addr, err))
		if ctx.Err() != nil {
			errs = append(errs, ctx.Err())
			break
		}
	}
	return nil, errors.Join(errs...)
}

func (s *Service) dialTarget(ctx context.Context, rt *route, t target) (*conn, error) {
	d := s.cfg.Dial
	if d == nil {
		var nd net.Dialer
		d = nd.DialContext
	}
	nc, err := d(ctx, "tcp", t.addr)
	if err != nil {
		return nil, err
	}
	c := newConn(s, nc, true, t.direct)
	c.local, c.remote = rt.p.local, rt.p.remote
	if dl, ok := ctx.Deadline(); ok {
		c.rd.setDeadline(dl)
	}
	if !s.track(c) {
		nc.Close()
		return nil, errors.New("the server is shutting down")
	}
	s.mu.Lock()
	rt.pending = c
	s.mu.Unlock()
	go func() {
		defer s.untrack(c)
		c.run()
	}()
	select {
	case <-c.ready:
		c.mu.Lock()
		err := c.readyErr
		c.mu.Unlock()
		if err != nil {
			c.close(nil)
			return nil, err
		}
		return c, nil
	case <-ctx.Done():
		c.close(nil)
		_ = c.raw.SetDeadline(time.Now())
		return nil, ctx.Err()
	}
}
