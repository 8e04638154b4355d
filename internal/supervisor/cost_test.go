//go:build linux

package supervisor

import (
	"context"
	"os"
	"reflect"
	"runtime"
	"testing"

	"github.com/tend-dev/tend/internal/api"
)

// An idle app costs the daemon no thread (its exit is watched through a
// pidfd, not by a thread blocked in wait), no read buffer (its pipes, IPC
// channel and notify socket hold none while quiet), and one goroutine, its
// loop: its pipes, IPC channel, notify socket and pidfd wait on the
// daemon's one poller (idleGoroutines: six where each waits in a goroutine).
func TestIdleAppCost(t *testing.T) {
	const n = 100
	s := New(Options{Home: t.TempDir()})
	ctx := context.Background()
	t.Cleanup(func() {
		s.Act(ctx, api.ActionRequest{Action: api.ActionDelete, Target: api.Target{Names: []string{"all"}}})
		s.Close()
	})
	threads := func() int {
		ts, err := os.ReadDir("/proc/self/task")
		if err != nil {
			t.Fatal(err)
		}
		return len(ts)
	}
	heap := func() uint64 {
		var ms runtime.MemStats
		// Twice: what an earlier test left in a sync.Pool survives one
		// collection (the victim cache) and would be freed between the
		// two measures.
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	t0, g0, h0 := threads(), runtime.NumGoroutine(), heap()
	startOnline(t, s, n, "idle", "exec sleep 9341")
	t1, g1, h1 := threads(), runtime.NumGoroutine(), heap()
	t.Logf("%d idle apps: +%d threads, +%d goroutines, +%d KiB of heap (%d KiB an app)", n, t1-t0, g1-g0, (h1-h0)>>10, (h1-h0)>>10/n)
	if t1-t0 >= n/2 {
		t.Errorf("%d idle apps took %d more threads: a thread per app", n, t1-t0)
	}
	if g1-g0 > idleGoroutines*n+n/10 {
		t.Errorf("%d idle apps run %d more goroutines: more than %d an app", n, g1-g0, idleGoroutines)
	}
	if per := (h1 - h0) / n; per > 32<<10 {
		t.Errorf("an idle app holds %d KiB of heap, more than 32 KiB", per>>10)
	}
}

// Idle apps started with one environment share one map of it, and an app
// that has settled keeps no JSON of its options for its next record.
func TestIdleAppsShareWhatTheyCan(t *testing.T) {
	s := New(Options{Home: t.TempDir()})
	ctx := context.Background()
	t.Cleanup(func() {
		s.Act(ctx, api.ActionRequest{Action: api.ActionDelete, Target: api.Target{Names: []string{"all"}}})
		s.Close()
	})
	startOnline(t, s, 3, "share", "exec sleep 9343")
	ps := s.sorted()
	if len(ps) != 3 {
		t.Fatalf("%d processes, want 3", len(ps))
	}
	env := func(p *Proc) uintptr {
		p.mu.Lock()
		defer p.mu.Unlock()
		return reflect.ValueOf(p.app.Env).Pointer()
	}
	for _, p := range ps {
		if env(p) != env(ps[0]) {
			t.Errorf("app %d has a map of its own for the same environment", p.id)
		}
		p.saveMu.Lock()
		p.mu.Lock()
		kept := len(p.appJSON)
		p.mu.Unlock()
		p.saveMu.Unlock()
		if kept > 0 {
			t.Errorf("app %d, online, keeps %d bytes of JSON of its options", p.id, kept)
		}
	}
}
