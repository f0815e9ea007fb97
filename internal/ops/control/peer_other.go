//go:build !linux

package control

import "net"

// peerAllowed relies on the socket's mode (0600) where SO_PEERCRED is not
// available.
func peerAllowed(net.Conn) error { return nil }
