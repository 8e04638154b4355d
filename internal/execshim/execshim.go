// Package execshim is the tiny first step of an app that receives listening
// sockets: systemd's socket-activation protocol wants LISTEN_PID to be the
// app's own pid, which the daemon cannot know before the fork. The daemon
// runs `tend __exec <path> <argv...>` instead of the app; this sets
// LISTEN_PID to its own pid and execs the app, which keeps that pid and the
// inherited descriptors.
//
// It imports only os, strconv and syscall, and cli.Main calls it before
// anything else, so the detour costs one exec.
package execshim

import (
	"os"
	"strconv"
	"syscall"
)

// Arg is the hidden first argument that selects the shim.
const Arg = "__exec"

// Run execs args[0] with argv args[1:] and never returns: on failure it
// prints why and exits with status 127, as a shell does.
func Run(args []string) {
	if len(args) < 2 {
		os.Stderr.WriteString("tend __exec: usage: tend __exec <path> <argv0> [args...]\n")
		os.Exit(127)
	}
	if os.Getenv("LISTEN_FDS") != "" {
		os.Setenv("LISTEN_PID", strconv.Itoa(os.Getpid()))
	}
	err := syscall.Exec(args[0], args[1:], os.Environ())
	os.Stderr.WriteString("tend: exec " + args[0] + ": " + err.Error() + "\n")
	os.Exit(127)
}
