//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"slices"
	"strings"

	"github.com/rogpeppe/go-internal/testscript"
)

// unit-verify <unit file> [allowed...]: systemd-analyze verify accepts the
// unit without a word (it only warns, exit status 0, about an assignment it
// cannot parse, so any output fails) but lines that contain one of the
// allowed strings. Without systemd-analyze it says so and checks nothing
// (.ci/run installs it).
func cmdUnitVerify(ts *testscript.TestScript, neg bool, args []string) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		fmt.Fprintf(ts.Stdout(), "systemd-analyze is not installed (Debian package systemd): %s not verified\n", args[0])
		return
	}
	cmd := exec.Command("systemd-analyze", "verify", ts.MkAbs(args[0]))
	cmd.Dir = ts.MkAbs(".")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var said []string
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if line != "" && !slices.ContainsFunc(args[1:], func(a string) bool { return strings.Contains(line, a) }) {
			said = append(said, line)
		}
	}
	if err != nil || len(said) > 0 {
		ts.Fatalf("systemd-analyze verify %s: %v\n%s", args[0], err, strings.Join(said, "\n"))
	}
}
