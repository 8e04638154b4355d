//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tend-dev/tend/internal/logs"
)

// log-bounded <file> <maxbytes> <lines>: the log file and its rotated
// copies together hold exactly <lines> lines, and none of them passed
// maxbytes (a rotated copy may pass it only by its last line).
func cmdLogBounded(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 3 {
		ts.Fatalf("usage: log-bounded file maxbytes lines")
	}
	path := ts.MkAbs(args[0])
	maxBytes, err := strconv.ParseInt(args[1], 10, 64)
	ts.Check(err)
	want, err := strconv.Atoi(args[2])
	ts.Check(err)
	rotated := logs.Rotated(path)
	total := 0
	for _, name := range append(rotated, path) {
		b, err := os.ReadFile(name)
		ts.Check(err)
		body := bytes.TrimSuffix(b, []byte("\n"))
		if n := int64(bytes.LastIndexByte(body, '\n') + 1); n > maxBytes {
			ts.Fatalf("%s is %d bytes (%d before its last line), more than log_max_size %d", name, len(b), n, maxBytes)
		}
		total += bytes.Count(b, []byte("\n"))
	}
	if total != want {
		ts.Fatalf("%d lines in %s and its %d rotated copies, want %d", total, args[0], len(rotated), want)
	}
	fmt.Fprintf(ts.Stdout(), "%d lines in %d rotated files and the current one\n", total, len(rotated))
}

// wait-glob <pattern> [timeout]: a file matches pattern.
func cmdWaitGlob(ts *testscript.TestScript, neg bool, args []string) {
	pattern := ts.MkAbs(args[0])
	waitFor(ts, "a file matching "+args[0], timeoutArg(ts, args, 1), func() (bool, string) {
		m, err := filepath.Glob(pattern)
		ts.Check(err)
		return len(m) > 0, "none"
	})
}
