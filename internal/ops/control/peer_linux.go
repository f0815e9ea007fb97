package control

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// peerAllowed admits the server's own user and root (SO_PEERCRED): the
// socket's mode already says so; this holds even if the mode is changed.
func peerAllowed(c net.Conn) error {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return nil
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return err
	}
	var cred *syscall.Ucred
	var cerr error
	if err := raw.Control(func(fd uintptr) {
		cred, cerr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return err
	}
	if cerr != nil {
		return cerr
	}
	if uid := uint32(os.Getuid()); cred.Uid != uid && cred.Uid != 0 {
		return fmt.Errorf("uid %d may not administer a server run by uid %d", cred.Uid, uid)
	}
	return nil
}
