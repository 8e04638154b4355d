package daemon

import (
	"net/http"
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
		trim = debug.FreeOSMemory
	}
	t.t = time.AfterFunc(trimDelay, trim)
}

// trimAfter serves with h, then schedules a trim.
func (d *Daemon) trimAfter(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h(w, r)
		d.trim.soon()
	}
}
