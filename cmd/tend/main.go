// Command tend is a process manager and a drop-in replacement for PM2.
package main

import (
	"os"
	"runtime"

	"github.com/tend-dev/tend/internal/cli"
)

// The main goroutine keeps the main thread for itself, so no other goroutine
// runs on it: on cgroup v1 the daemon moves the thread that forks an app into
// the app's group, and the main thread is the one whose group the kernel
// charges the daemon's memory to (and it can never end).
func init() { runtime.LockOSThread() }

func main() {
	os.Exit(cli.Main(os.Args[1:]))
}
