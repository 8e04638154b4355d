//go:build linux && !tend_portable

package supervisor

import "golang.org/x/sys/unix"

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
