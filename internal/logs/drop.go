package logs

import (
	"bytes"
	"fmt"
	"time"
)

// lineCount counts the lines of a stream that were dropped, each once,
// whether it was dropped whole or in pieces (a partial line written after a
// quiet spell, then its end).
type lineCount struct {
	mid     bool // the last block did not end a line
	dropped bool // ... and that line has been counted as dropped
}

// drop returns how many lines not counted yet block touches, and notes it
// was dropped.
func (c *lineCount) drop(block []byte) int64 {
	if len(block) == 0 {
		return 0
	}
	n := int64(bytes.Count(block, []byte{'\n'}))
	ends := block[len(block)-1] == '\n'
	if !ends {
		n++ // the line it starts or continues, not finished yet
	}
	if c.mid && c.dropped {
		n-- // the first piece belongs to a line already counted
	}
	c.mid, c.dropped = !ends, !ends
	return n
}

// keep notes that block was written.
func (c *lineCount) keep(block []byte) {
	if len(block) == 0 {
		return
	}
	if bytes.IndexByte(block, '\n') >= 0 {
		c.dropped = false // the line counted before ended in this block
	}
	c.mid = block[len(block)-1] != '\n'
}

// dropping is what a File remembers while writes fail: lines are dropped
// (the app is never blocked) and, once a write succeeds again, a line saying
// how many comes first.
type dropping struct {
	count lineCount
	lines int64     // dropped since the last write that succeeded
	since time.Time // the first of them
	last  time.Time
	err   error // the first error
}

// marker is the line written where the dropped lines were.
func (d *dropping) marker(midLine bool) []byte {
	var b []byte
	if midLine {
		b = append(b, '\n') // the line cut short ends here
	}
	return fmt.Appendf(b, "[tend] %d lines dropped between %s and %s: %v\n",
		d.lines, d.since.Format(time.RFC3339), d.last.Format(time.RFC3339), d.err)
}
