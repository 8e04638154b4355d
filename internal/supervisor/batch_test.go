//go:build linux

package supervisor

import (
	"context"
	"fmt"
	"testing"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/spec"
)

// A stop sent to many apps at once walks /proc once for all of them, not
// once per loop that comes late (stop all of 1,000 apps walked /proc a dozen
// times, a third of the daemon's CPU for the stop).
func TestStopAllWalksProcOnce(t *testing.T) {
	const n = 60
	s := New(Options{Home: t.TempDir()})
	ctx := context.Background()
	// Shutdown waits for the loops and pumps: nothing of this test is left
	// to free while the next one measures the heap (TestIdleAppCost).
	t.Cleanup(func() { s.Shutdown(ctx) })
	startOnline(t, s, n, "batch", "exec sleep 9343")
	before := s.walks.Load()
	if _, err := s.Act(ctx, api.ActionRequest{Action: api.ActionStop, Target: api.Target{Names: []string{"all"}}}); err != nil {
		t.Fatal(err)
	}
	for name, st := range statuses(s) {
		if st != api.StatusStopped {
			t.Errorf("%s is %s after stop all", name, st)
		}
	}
	if w := s.walks.Load() - before; w != 1 {
		t.Errorf("stop all of %d apps walked /proc %d times, want 1", n, w)
	}
}

// startOnline starts n apps named prefix0… that run cmd, and waits until
// every app of s is online.
func startOnline(t *testing.T, s *Supervisor, n int, prefix, cmd string) {
	t.Helper()
	apps := make([]spec.App, n)
	for i := range apps {
		apps[i] = testApp(t, fmt.Sprintf("%s%d", prefix, i), cmd, nil)
	}
	if _, err := s.Start(context.Background(), apps); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		for _, st := range statuses(s) {
			if st != api.StatusOnline {
				return false
			}
		}
		return true
	})
}
