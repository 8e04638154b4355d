//go:build linux

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"golang.org/x/sys/unix"
)

// readBootID names this boot of the machine: a record of an earlier boot
// holds no live process.
func readBootID() string {
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	return strings.TrimSpace(string(b))
}

// openPidfd returns a file that polls readable once pid has exited: a
// pidfd, so a process that is not this daemon's child is watched without a
// thread and without polling. An error wrapping ESRCH: pid is gone.
func openPidfd(pid int) (*os.File, error) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if errors.Is(err, unix.EINVAL) { // PIDFD_NONBLOCK is Linux 5.10
		if fd, err = unix.PidfdOpen(pid, 0); err == nil {
			unix.SetNonblock(fd, true)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("pidfd_open: %w", err)
	}
	return os.NewFile(uintptr(fd), "pidfd"), nil
}

// waitPidfd returns once the process of pidfd f has exited (the pidfd polls
// readable), without a thread blocked on it.
func waitPidfd(f *os.File) error { return waitReadable(f) }
