//go:build linux && !tend_portable

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// outputPipe makes the pipe that one of an app's output streams goes into.
// The app's end is opened read-write (through /proc/self/fd), so the app
// itself counts as a reader: while no daemon is alive a write never fails
// with EPIPE, it waits in the pipe (back-pressure, not loss), and a daemon
// started later opens the same pipe again from /proc/<pid>/fd/<n>. ino names
// the pipe for that. The daemon's end is non-blocking (read through the
// netpoller); it sees the end of the stream when the app and everything that
// inherited its end have exited, as with a plain pipe.
func outputPipe() (r, child *os.File, ino uint64, err error) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		return nil, nil, 0, fmt.Errorf("pipe: %w", err)
	}
	defer unix.Close(fds[1])
	cfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fds[1]), unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		unix.Close(fds[0])
		return nil, nil, 0, fmt.Errorf("reopen pipe: %w", err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != nil {
		unix.Close(fds[0])
		unix.Close(cfd)
		return nil, nil, 0, err
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(cfd)
		return nil, nil, 0, err
	}
	return os.NewFile(uintptr(fds[0]), "output"), os.NewFile(uintptr(cfd), "app-output"), st.Ino, nil
}

// errNoPipe means no process of a run still has the output pipe on its fd.
var errNoPipe = errors.New("no process has its output pipe any more")

// reopenOutput opens for reading the pipe ino that one of pids has on fd n.
func reopenOutput(pids []int, n int, ino uint64) (*os.File, error) {
	for _, pid := range pids {
		path := "/proc/" + strconv.Itoa(pid) + "/fd/" + strconv.Itoa(n)
		var st unix.Stat_t
		if unix.Stat(path, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Ino != ino {
			continue
		}
		fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			continue
		}
		// The pid may have been replaced between the two calls: check again.
		if unix.Fstat(fd, &st) != nil || st.Ino != ino {
			unix.Close(fd)
			continue
		}
		return os.NewFile(uintptr(fd), "output"), nil
	}
	return nil, errNoPipe
}
