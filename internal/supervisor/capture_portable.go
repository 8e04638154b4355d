//go:build !linux || tend_portable

package supervisor

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// outputPipe makes the pipe that one of an app's output streams goes into.
// Here (macOS, the BSDs; Linux with -tags tend_portable) the app's end is a
// plain write end: these systems cannot open a pipe again through /proc, so
// a daemon started later cannot read what the app writes
// (docs/architecture.md, platforms). ino is 0.
func outputPipe() (r, child *os.File, ino uint64, err error) {
	var fds [2]int
	syscall.ForkLock.RLock()
	err = unix.Pipe(fds[:])
	if err == nil {
		unix.CloseOnExec(fds[0])
		unix.CloseOnExec(fds[1])
	}
	syscall.ForkLock.RUnlock()
	if err != nil {
		return nil, nil, 0, fmt.Errorf("pipe: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, 0, err
	}
	return os.NewFile(uintptr(fds[0]), "output"), os.NewFile(uintptr(fds[1]), "app-output"), 0, nil
}

// errNoPipe means the output pipe of a run cannot be read again.
var errNoPipe = errors.New("an app's output pipe cannot be opened again on this system")

// reopenOutput cannot open another process's pipe on these systems.
func reopenOutput(pids []int, n int, ino uint64) (*os.File, error) {
	return nil, errNoPipe
}
