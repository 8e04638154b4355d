//go:build darwin || freebsd || netbsd || openbsd || dragonfly

package supervisor

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// readBootID names this boot of the machine by its boot time: a record of
// an earlier boot holds no live process.
func readBootID() string {
	tv, err := unix.SysctlTimeval("kern.boottime")
	if err != nil {
		return ""
	}
	return fmt.Sprintf("boot-%d.%06d", tv.Sec, tv.Usec)
}

// openPidfd returns a kqueue that reports pid's exit (EVFILT_PROC,
// NOTE_EXIT), the BSD counterpart of a pidfd: a process that is not this
// daemon's child is watched without polling. An error wrapping ESRCH: pid
// is gone.
func openPidfd(pid int) (*os.File, error) {
	kq, err := unix.Kqueue()
	if err != nil {
		return nil, fmt.Errorf("kqueue: %w", err)
	}
	unix.CloseOnExec(kq)
	ev := unix.Kevent_t{}
	unix.SetKevent(&ev, pid, unix.EVFILT_PROC, unix.EV_ADD|unix.EV_ONESHOT)
	ev.Fflags = unix.NOTE_EXIT
	if _, err := unix.Kevent(kq, []unix.Kevent_t{ev}, nil, nil); err != nil {
		unix.Close(kq)
		return nil, fmt.Errorf("kevent EVFILT_PROC: %w", err)
	}
	return os.NewFile(uintptr(kq), "kqueue-proc"), nil
}

// waitPidfd returns once the process watched by kqueue f has exited. It
// blocks one thread per re-attached app (the netpoller does not take a
// foreign kqueue).
func waitPidfd(f *os.File) error {
	out := make([]unix.Kevent_t, 1)
	for {
		n, err := unix.Kevent(int(f.Fd()), nil, out, nil)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return err
		}
		if n > 0 {
			return nil
		}
	}
}
