//go:build !linux

package c2s

import "log/slog"

// poller is Linux-only (epoll); elsewhere sessions keep their goroutine.
type poller struct{}

func newPoller(*slog.Logger) (*poller, error) { return nil, errNoPoller }
func (p *poller) wait(*Session) error         { return errNoPoller }
func (p *poller) forget(*Session)             {}
