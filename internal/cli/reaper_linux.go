package cli

import "golang.org/x/sys/unix"

// becomeSubreaper makes this process the parent of every orphan among its
// descendants (PR_SET_CHILD_SUBREAPER), as PID 1 is of every orphan.
func becomeSubreaper() error { return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) }
