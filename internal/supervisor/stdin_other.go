//go:build !linux

package supervisor

import "github.com/tend-dev/tend/internal/api"

// writeStdin needs /proc to reach an app's standard input; elsewhere apps
// read /dev/null (stdinPipe) and send is refused.
func writeStdin(pid int, line string) error {
	return api.BadInputf("sending a line to an app's standard input needs Linux's /proc")
}
