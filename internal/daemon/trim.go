package daemon

import (
	"net/http"
	"runtime"
	"runtime/debug"
	"sync"
	"time"
)

// trimDelay is how long after the last change the daemon hands its
// garbage back.
const trimDelay = 500 * time.Millisecond

// trimmer hands the heap's garbage back to the kernel once a burst of
// requests is over. Starting or stopping many apps, or listing them, leaves
// garbage in pages that would stay resident until the heap grows into them
// again (with 1,000 apps, tens of MiB: the heap may grow to twice what is
// live before a collection). It runs only after a request (once for a
// burst), never on a clock of its own: an idle daemon does nothing.
type trimmer struct {
	mu   sync.Mutex
	t    *time.Timer
	trim func() // debug.FreeOSMemory; a test's counter
}

// soon runs the trim once no call has come for trimDelay.
func (t *trimmer) soon() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.t != nil {
		t.t.Reset(trimDelay)
		return
	}
	trim := t.trim
	if trim == nil {
		trim = freeMemory
	}
	t.t = time.AfterFunc(trimDelay, trim)
}

// freeMemory collects twice and hands the free pages back. A collection
// halves the stack of each goroutine that uses less than a quarter of it:
// an idle app's loop, which grew its stack (or started with the average
// size the runtime saw) while a burst of starts was handled, is back to
// 2 KiB after two; the second also frees the stacks the first released.
// It then unmaps the pages of the binary that the burst mapped
// (releaseBinaryPages): the next request maps back what it runs.
func freeMemory() {
	runtime.GC()
	debug.FreeOSMemory()
	releaseBinaryPages() // at worst the pages stay mapped, as without it
}

// trimAfter serves with h, then schedules a trim.
func (d *Daemon) trimAfter(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		d.trim.soon()
	}
}
