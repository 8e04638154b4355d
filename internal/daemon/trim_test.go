package daemon

import (
	"sync/atomic"
	"testing"
	"time"
)

// A burst of changes is trimmed once, after the last of them.
func TestTrimOnceAfterBurst(t *testing.T) {
	var n atomic.Int32
	done := make(chan struct{}, 4)
	tr := trimmer{trim: func() { n.Add(1); done <- struct{}{} }}
	start := time.Now()
	for range 5 {
		tr.soon()
	}
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no trim within 10 s of the last change")
	}
	if time.Since(start) < trimDelay {
		t.Fatalf("trimmed %v after the burst, before trimDelay %v", time.Since(start), trimDelay)
	}
	tr.soon() // a later change: one more
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("no trim after a later change")
	}
	if got := n.Load(); got != 2 {
		t.Fatalf("%d trims for two bursts", got)
	}
}
