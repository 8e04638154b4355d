//go:build linux && !tend_portable

package supervisor

import (
	"net"

	"golang.org/x/sys/unix"
)

// socketpairCloexec is a connected pair of stream sockets, close-on-exec.
func socketpairCloexec() ([2]int, error) {
	return unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
}

// socketCloexec is a new socket, close-on-exec.
func socketCloexec(family, typ int) (int, error) {
	return unix.Socket(family, typ|unix.SOCK_CLOEXEC, 0)
}

// selfExe is the path that runs this binary again: /proc/self/exe, which
// still names the running file after `tend update` replaced the one on disk.
func selfExe() string { return "/proc/self/exe" }

// provable: another process's environment and owner can be read (/proc), so
// a record's live pid is taken over only with a proof that it is tend's
// (notOurs), and the processes of unrecorded runs are found by their marker
// (killStrays).
const provable = true

// notifyAbstract: a run's NOTIFY_SOCKET is an abstract socket ("@tend/…"),
// not a file in $TEND_HOME/run. Creating a file costs an inode, the
// dearest part of a start on a busy ext4 (up to ~1 ms each when many inodes
// were freed lately); the kernel says who sent each datagram instead of the
// folder's permissions keeping others out (notifySender).
const notifyAbstract = true

// passCred has the kernel attach the sender's credentials to every datagram
// c receives.
func passCred(c *net.UnixConn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PASSCRED, 1)
	}); err != nil {
		return err
	}
	return serr
}

// readNotifyNow reads one datagram without waiting (unix.EAGAIN when there
// is none), with its sender's uid (-1 when the kernel did not say).
func readNotifyNow(c *net.UnixConn, buf []byte) (n, uid int, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, -1, err
	}
	var oob [64]byte
	oobn := 0
	cerr := rc.Read(func(fd uintptr) bool {
		for {
			n, oobn, _, _, err = unix.Recvmsg(int(fd), buf, oob[:], unix.MSG_CMSG_CLOEXEC)
			if err != unix.EINTR {
				return true
			}
		}
	})
	if cerr != nil {
		return 0, -1, cerr
	}
	uid = -1
	if msgs, perr := unix.ParseSocketControlMessage(oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if cred, cerr := unix.ParseUnixCredentials(&m); cerr == nil {
				uid = int(cred.Uid)
			}
		}
	}
	return n, uid, err
}
