//go:build linux

package supervisor

import (
	"errors"
	"os"
	"strconv"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
)

// writeStdin writes line to the standard input of pid, only if that is
// still a pipe of the daemon's: an anonymous pipe (on pipefs) that the
// daemon's user made. The descriptor is looked at through an O_PATH
// handle, which opens nothing, and reopened for writing only then — so an
// app (perhaps running as another user) that put a file, a device or a named
// FIFO of someone else's as its fd 0 never gets a line written into it with
// the daemon's rights, nor a device opened.
func writeStdin(pid int, line string) error {
	path, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/fd/0", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		return api.BadInputf("its standard input cannot be opened (%v)", err)
	}
	defer unix.Close(path)
	var st unix.Stat_t
	if err := unix.Fstat(path, &st); err != nil {
		return err
	}
	dev, err := pipefsDev()
	if err != nil {
		return err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO || st.Dev != dev || int(st.Uid) != os.Geteuid() {
		return api.BadInputf("its standard input is not a pipe of tend's (the app replaced it, or it was started before tend had them): restart it first")
	}
	fd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(path), unix.O_WRONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return api.BadInputf("its standard input cannot be opened (%v)", err)
	}
	defer unix.Close(fd)
	n, err := unix.Write(fd, []byte(line))
	if errors.Is(err, syscall.EAGAIN) || (err == nil && n < len(line)) {
		return api.BadInputf("its standard input is full: the app does not read it")
	}
	return err
}

var (
	pipefsOnce sync.Once
	pipefs     uint64
	pipefsErr  error
)

// pipefsDev is the device number of the kernel's pipe filesystem, where
// every anonymous pipe lives.
func pipefsDev() (uint64, error) {
	pipefsOnce.Do(func() {
		var p [2]int
		if pipefsErr = unix.Pipe2(p[:], unix.O_CLOEXEC); pipefsErr != nil {
			return
		}
		var st unix.Stat_t
		pipefsErr = unix.Fstat(p[0], &st)
		pipefs = st.Dev
		unix.Close(p[0])
		unix.Close(p[1])
	})
	return pipefs, pipefsErr
}
