// Package peercred reads who is at the other end of a unix socket.
package peercred

import "net"

// Get returns the uid and pid of the process at the other end of c, or -1
// for what the system does not say (the pid on the BSDs) and when c is not a
// unix socket.
func Get(c net.Conn) (uid, pid int) {
	uid, pid = -1, -1
	uc, ok := c.(*net.UnixConn)
	if !ok {
		return
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) { uid, pid = peer(int(fd)) })
	return
}
