//go:build linux && !tend_portable

package supervisor

import (
	"os"
	"syscall"

	"github.com/tend-dev/tend/internal/poller"
)

// idleGoroutines is what an idle app costs the daemon in goroutines: its loop.
const idleGoroutines = 1

// onReadable calls read each time c has something to read (or is at its
// end), until read returns false; read must not block (it reads what is
// there and returns). Every descriptor waits on the daemon's one poller, so
// an idle app's IPC channel, notify socket and exit cost no goroutine; read
// runs in a goroutine that lives only while there is something to read.
// stop ends the watch (before c is closed); a read already started may
// still run and sees c closed.
func onReadable(c syscall.Conn, read func() bool) (stop func()) {
	pl, err := poller.Default()
	fd := rawFd(c)
	var w *poller.Watch
	if err == nil && fd >= 0 {
		w, _ = pl.Add(fd, func(w *poller.Watch) { // nil on error: a goroutine waits
			if !read() || w.Arm() != nil {
				w.Remove()
			}
		})
	}
	if w == nil { // no epoll here: a goroutine waits
		go func() {
			for waitReadable(c) == nil && read() {
			}
		}()
		return func() {}
	}
	return w.Remove
}

// onExit calls fn once the process of pidfd has exited, then closes pidfd.
func onExit(pidfd *os.File, fn func()) {
	fd := rawFd(pidfd)
	pl, err := poller.Default()
	if err == nil && fd >= 0 {
		_, err = pl.Add(fd, func(w *poller.Watch) {
			w.Remove() // before the close: the number may be reused
			pidfd.Close()
			fn()
		})
		if err == nil {
			return
		}
	}
	go func() {
		waitPidfd(pidfd)
		pidfd.Close()
		fn()
	}()
}

// rawFd is c's descriptor (-1 if it has none), read without making it
// blocking as os.File.Fd would.
func rawFd(c syscall.Conn) int {
	fd := -1
	if rc, err := c.SyscallConn(); err == nil {
		rc.Control(func(u uintptr) { fd = int(u) })
	}
	return fd
}
