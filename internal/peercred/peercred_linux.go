//go:build linux

package peercred

import "golang.org/x/sys/unix"

// peer reads SO_PEERCRED.
func peer(fd int) (uid, pid int) {
	cred, err := unix.GetsockoptUcred(fd, unix.SOL_SOCKET, unix.SO_PEERCRED)
	if err != nil {
		return -1, -1
	}
	return int(cred.Uid), int(cred.Pid)
}
