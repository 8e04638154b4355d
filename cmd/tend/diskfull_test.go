//go:build linux

package main

import (
	"bytes"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// canMountTmpfs reports whether this process may mount a tmpfs: root, and
// not in a container that denies it (no CAP_SYS_ADMIN).
func canMountTmpfs() bool {
	if os.Geteuid() != 0 {
		return false
	}
	dir, err := os.MkdirTemp("", "tend-tmpfs-probe")
	if err != nil {
		return false
	}
	defer os.Remove(dir)
	if syscall.Mount("tend-test-tmpfs", dir, "tmpfs", 0, "size=64k") != nil {
		return false
	}
	return syscall.Unmount(dir, 0) == nil
}

// tmpfs <dir> <size>: mount a tmpfs of size bytes on dir (root only),
// unmounted when the script ends, however it ends.
func cmdTmpfs(ts *testscript.TestScript, neg bool, args []string) {
	dir := ts.MkAbs(args[0])
	ts.Check(os.MkdirAll(dir, 0o755))
	ts.Check(syscall.Mount("tend-test-tmpfs", dir, "tmpfs", 0, "size="+args[1]))
	ts.Defer(func() {
		for i := 0; i < 100; i++ { // a daemon may still hold a file: lazily then
			if syscall.Unmount(dir, 0) == nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		syscall.Unmount(dir, syscall.MNT_DETACH)
	})
}

var dropMarker = regexp.MustCompile(`^\[tend\] (\d+) lines dropped between \S+ and \S+: .+$`)

// check-drops <file> <name> <more>: the file holds tend-seq's lines, in
// order; each gap in their numbers is exactly as long as the "[tend] N lines
// dropped" line in it says, the gaps add up to what jlist reports for app
// <name>, and at least <more> lines follow the last gap. It prints the
// numbers.
func cmdCheckDrops(ts *testscript.TestScript, neg bool, args []string) {
	more, _ := strconv.Atoi(args[2])
	var written, dropped, after, gaps int
	waitFor(ts, fmt.Sprintf("%d lines after the last drop in %s", more, args[0]), 20*time.Second, func() (bool, string) {
		b, err := os.ReadFile(ts.MkAbs(args[0]))
		ts.Check(err)
		b = b[:bytes.LastIndexByte(b, '\n')+1] // a write may be under way
		written, dropped, after, gaps = 0, 0, 0, 0
		next, pending := 0, -1 // the next seq number; a marker's count waiting for its gap
		for _, line := range strings.Split(string(b), "\n") {
			if m := dropMarker.FindStringSubmatch(line); m != nil {
				if pending >= 0 {
					ts.Fatalf("two drop markers in a row")
				}
				pending, _ = strconv.Atoi(m[1])
				continue
			}
			var n int
			if _, err := fmt.Sscanf(line, "seq %d", &n); err != nil || "seq "+strconv.Itoa(n) != line {
				if strings.TrimSpace(line) == "" {
					continue
				}
				ts.Fatalf("line %q is neither tend-seq's nor a drop marker", line)
			}
			switch {
			case pending >= 0:
				if n-next != pending {
					ts.Fatalf("the marker says %d lines dropped; the numbers jump from %d to %d: %d missing", pending, next-1, n, n-next)
				}
				dropped += pending
				pending, after = -1, 0
				gaps++
			case n != next:
				ts.Fatalf("seq %d follows seq %d with no drop marker: lines lost silently", n, next-1)
			}
			next = n + 1
			written++
			after++
		}
		return gaps > 0 && pending < 0 && after >= more, fmt.Sprintf("%d written, %d dropped in %d gaps, %d since", written, dropped, gaps, after)
	})
	got, _ := jlistValue(ts, args[1], "pm2_env.log_lines_dropped")
	if got != strconv.Itoa(dropped) {
		ts.Fatalf("the file says %d lines were dropped, jlist says %s", dropped, got)
	}
	fmt.Fprintf(ts.Stdout(), "%d lines written, %d dropped and reported (%.0f%%), %d written after\n",
		written, dropped, 100*float64(dropped)/float64(written+dropped), after)
}
