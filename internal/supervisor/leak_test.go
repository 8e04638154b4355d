package supervisor

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/spec"
)

// checkGoroutines fails the test if goroutines started during it are still
// running once it ends (allowing them a moment to unwind).
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Fatalf("%d goroutines leaked:\n%s", n-before, buf)
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

func testApp(t *testing.T, name string, script string, mod func(*spec.App)) spec.App {
	dir := t.TempDir()
	a := spec.App{
		Name: name, Namespace: "default", Script: "/bin/sh", ScriptPath: "/bin/sh",
		Args: []string{"-c", script}, Interpreter: "none", Cwd: dir, Instances: 1, ExecMode: "fork_mode",
		Env: map[string]string{"PATH": "/usr/bin:/bin"}, InstanceVar: "NODE_APP_INSTANCE",
		Autorestart: true, Autostart: true, MaxRestarts: 16, MinUptime: time.Second,
		KillTimeout: 500 * time.Millisecond, KillSignal: "SIGINT", Treekill: true,
		OutFile: filepath.Join(dir, "out.log"), ErrorFile: filepath.Join(dir, "err.log"), MergeLogs: true,
	}
	if mod != nil {
		mod(&a)
	}
	return a
}

// A whole life — start, crash and restart, watch, probes, stop, delete,
// shutdown — leaves no goroutine behind.
func TestNoGoroutineLeaks(t *testing.T) {
	checkGoroutines(t)
	s := New(Options{Home: t.TempDir(), SampleInterval: 50 * time.Millisecond})
	ctx := context.Background()
	apps := []spec.App{
		testApp(t, "sleeper", "exec sleep 9301", func(a *spec.App) { a.MaxMemoryRestart = 1 << 30 }),
		testApp(t, "crasher", "exit 3", func(a *spec.App) { a.MaxRestarts = 3 }),
		testApp(t, "watched", "exec sleep 9302", func(a *spec.App) {
			a.WatchEnabled = true
			a.Readiness = &spec.Probe{Exec: "true", Interval: 20 * time.Millisecond, Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 1}
			a.Liveness = &spec.Probe{Exec: "true", Interval: 20 * time.Millisecond, Timeout: time.Second, FailureThreshold: 3, SuccessThreshold: 1}
		}),
		testApp(t, "dependent", "exec sleep 9303", func(a *spec.App) {
			a.DependsOn = []spec.Dependency{{Name: "watched", Condition: spec.CondHealthy}}
		}),
	}
	if _, err := s.Start(ctx, apps); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool {
		st := statuses(s)
		return st["crasher"] == "errored" && st["dependent"] == "online" && st["sleeper"] == "online"
	})
	if _, err := s.Act(ctx, api.ActionRequest{Action: api.ActionRestart, Target: api.Target{Names: []string{"all"}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Act(ctx, api.ActionRequest{Action: api.ActionStop, Target: api.Target{Names: []string{"sleeper"}}}); err != nil {
		t.Fatal(err)
	}
	s.Shutdown(ctx)
	if n := len(s.List()); n != 0 {
		t.Fatalf("%d processes left after shutdown", n)
	}
}

func statuses(s *Supervisor) map[string]string {
	out := map[string]string{}
	for _, p := range s.List() {
		out[p.Name] = p.PM2Env.Status
	}
	return out
}

func waitUntil(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met in 15 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
