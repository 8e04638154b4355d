//go:build !linux || tend_portable

package supervisor

import (
	"os"
	"syscall"
)

// idleGoroutines is what an idle app costs the daemon in goroutines: its loop, two pumps, IPC, notify, exit.
const idleGoroutines = 6

// onReadable calls read each time c has something to read (or is at its
// end), until read returns false; read must not block. Here (macOS, the
// BSDs; Linux with -tags tend_portable) a goroutine per descriptor waits in
// the netpoller; closing c ends it, so stop has nothing to do.
func onReadable(c syscall.Conn, read func() bool) (stop func()) {
	go func() {
		for waitReadable(c) == nil && read() {
		}
	}()
	return func() {}
}

// onExit calls fn once the process of pidfd has exited, then closes pidfd.
func onExit(pidfd *os.File, fn func()) {
	go func() {
		waitPidfd(pidfd)
		pidfd.Close()
		fn()
	}()
}
