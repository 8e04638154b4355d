//go:build !linux || tend_portable

package supervisor

import (
	"net"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// socketpairCloexec is a connected pair of stream sockets, close-on-exec:
// made under the fork lock where the kernel has no SOCK_CLOEXEC, so no
// child started meanwhile inherits them.
func socketpairCloexec() ([2]int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	return fds, err
}

// socketCloexec is a new socket, close-on-exec.
func socketCloexec(family, typ int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, typ, 0)
	if err == nil {
		unix.CloseOnExec(fd)
	}
	return fd, err
}

// selfExe is the path that runs this binary again.
func selfExe() string {
	if p, err := os.Executable(); err == nil {
		return p
	}
	return os.Args[0]
}

// provable is false: without /proc a process's environment cannot be read,
// so a record's pid is taken over on its start time alone, as before run
// markers, and unrecorded runs are not looked for.
const provable = false

// notifyAbstract: a run's NOTIFY_SOCKET is a file in $TEND_HOME/run, whose
// folder keeps other users out (abstract sockets are Linux's).
const notifyAbstract = false

// passCred does nothing here: the socket is a file in a private folder.
func passCred(c *net.UnixConn) error { return nil }

// readNotifyNow reads one datagram without waiting; the sender is not
// known (-1).
func readNotifyNow(c *net.UnixConn, buf []byte) (n, uid int, err error) {
	n, err = readNow(c, buf)
	return n, -1, err
}
