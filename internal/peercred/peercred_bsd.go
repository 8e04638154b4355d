//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package peercred

import "golang.org/x/sys/unix"

// peer reads LOCAL_PEERCRED (what getpeereid(3) reads); it has no pid.
func peer(fd int) (uid, pid int) {
	cred, err := unix.GetsockoptXucred(fd, unix.SOL_LOCAL, unix.LOCAL_PEERCRED)
	if err != nil {
		return -1, -1
	}
	return int(cred.Uid), -1
}
