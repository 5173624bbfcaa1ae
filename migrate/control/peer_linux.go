package control

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// peerUID is the uid of the process at the other end of c (SO_PEERCRED:
// for a server's connection the client, for a client's the server as it
// was when it listened).
func peerUID(c net.Conn) (uint32, error) {
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return 0, fmt.Errorf("peer credentials: %T is not a unix socket", c)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *syscall.Ucred
	var serr error
	if err := raw.Control(func(fd uintptr) {
		cred, serr = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	}); err != nil {
		return 0, fmt.Errorf("peer credentials: %w", err)
	}
	if serr != nil {
		return 0, fmt.Errorf("peer credentials: SO_PEERCRED: %w", serr)
	}
	return cred.Uid, nil
}

// checkPeer says why the process at the other end of c may not be
// trusted (nil: it runs as us or as root).
func checkPeer(c net.Conn) error {
	uid, err := peerUID(c)
	if err != nil {
		return err
	}
	return checkPeerUID(uid, uint32(os.Getuid()))
}
