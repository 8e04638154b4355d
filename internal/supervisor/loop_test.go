package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/tend-dev/tend/internal/spec"
)

// The process loop's handlers, one event at a time, on a fake clock and
// with runs that have no process (pid 0: no signal reaches anything).

type loopFixture struct {
	t    *testing.T
	ls   *loopState
	p    *Proc
	clk  *fakeClock
	runs []*run // every run spawned, in order
}

func newLoopFixture(t *testing.T, app spec.App) *loopFixture {
	t.Helper()
	clk := &fakeClock{at: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s := New(Options{Home: t.TempDir(), Now: clk.now})
	if app.Name == "" {
		app.Name = "web"
	}
	f := &loopFixture{t: t, clk: clk, p: newProc(s, 0, 0, app)}
	f.ls = newLoopState(f.p, clk)
	f.ls.spawn = func(app *spec.App, paths [3]string) (*run, error) {
		r := &run{app: app, started: clk.now(), done: make(chan struct{})}
		f.runs = append(f.runs, r)
		return r, nil
	}
	t.Cleanup(func() {
		f.ls.close()
		s.Close()
	})
	return f
}

// do hands a command to the loop's handler; its reply, when there is one
// already, is in the channel.
func (f *loopFixture) do(o op, reason string) (chan error, bool) {
	c := command{op: o, reason: reason, reply: make(chan error, 1)}
	return c.reply, f.ls.onCommand(c)
}

// exit ends run r with code and hands the exit to the loop.
func (f *loopFixture) exit(r *run, code int) bool {
	close(r.done)
	return f.ls.onExit(exitMsg{r: r, exit: Exit{Code: code, Uptime: f.clk.now().Sub(r.started)}})
}

// step waits for the loop's next event (one must be ready) and handles it.
func (f *loopFixture) step() bool {
	f.t.Helper()
	done := make(chan bool, 1)
	go func() { done <- f.ls.next() }()
	select {
	case end := <-done:
		return end
	case <-time.After(10 * time.Second):
		f.t.Fatal("no event for the loop")
		return false
	}
}

func (f *loopFixture) want(status Status) {
	f.t.Helper()
	f.p.mu.Lock()
	got, reason := f.p.status, f.p.reason
	f.p.mu.Unlock()
	if got != status {
		f.t.Fatalf("status %s (%s), want %s", got, reason, status)
	}
}

func (f *loopFixture) start() *run {
	f.t.Helper()
	reply, _ := f.do(opStart, "")
	if err := answer(f.t, reply); err != nil {
		f.t.Fatal(err)
	}
	f.want(Online)
	return f.ls.cur
}

// answer is the reply to a command, which must come.
func answer(t *testing.T, reply chan error) error {
	t.Helper()
	select {
	case err := <-reply:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
		return nil
	}
}

func noReply(t *testing.T, reply chan error) {
	t.Helper()
	select {
	case err := <-reply:
		t.Fatalf("answered before the stop ended: %v", err)
	default:
	}
}

// A command that comes while a stop is under way waits for it; a delete
// then wins over the stop, and start starts nothing.
func TestLoopCommandWhileStopping(t *testing.T) {
	f := newLoopFixture(t, spec.App{})
	r := f.start()
	stop, _ := f.do(opStop, "")
	f.want(Stopping)
	noReply(t, stop)

	start, _ := f.do(opStart, "")
	if err := answer(t, start); err != nil || len(f.runs) != 1 {
		t.Fatalf("start while stopping: %v, %d runs", err, len(f.runs))
	}
	del, _ := f.do(opDelete, "")
	noReply(t, del)
	if f.p.stopThen != opDelete {
		t.Fatalf("what follows the stop: %v, want delete", f.p.stopThen)
	}
	if end := f.exit(r, 130); !end {
		t.Fatal("the loop goes on after the delete")
	}
	for _, reply := range []chan error{stop, del} {
		if err := answer(t, reply); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.runs) != 1 {
		t.Fatalf("%d runs, want 1", len(f.runs))
	}
}

// kill_timeout passing during a stop sends SIGKILL once and polls; the stop
// ends when the run exits, not before.
func TestLoopKillTimeout(t *testing.T) {
	f := newLoopFixture(t, spec.App{KillTimeout: 5 * time.Second})
	r := f.start()
	stop, _ := f.do(opStop, "")
	f.clk.advance(4 * time.Second)
	if f.ls.st.killed {
		t.Fatal("killed before kill_timeout")
	}
	f.clk.advance(time.Second)
	f.step()
	if !f.ls.st.killed || f.ls.st.pollT == nil {
		t.Fatalf("after kill_timeout: killed %v, polling %v", f.ls.st.killed, f.ls.st.pollT != nil)
	}
	f.clk.advance(stopPollEvery)
	f.step() // the poll: the run has not exited yet
	f.want(Stopping)
	noReply(t, stop)
	f.exit(r, 137)
	f.want(Stopped)
	if err := answer(t, stop); err != nil {
		t.Fatal(err)
	}
}

// An exit during a reload: of the new run, the reload fails and the old one
// serves on; of the old run, the new one serves at once.
func TestLoopExitDuringReload(t *testing.T) {
	t.Run("new", func(t *testing.T) {
		f := newLoopFixture(t, spec.App{})
		old := f.start()
		reload, _ := f.do(opReload, "")
		if f.ls.rl == nil || len(f.runs) != 2 {
			t.Fatalf("no reload under way (%d runs)", len(f.runs))
		}
		f.exit(f.runs[1], 1)
		if f.ls.rl != nil || f.ls.cur != old {
			t.Fatal("the old run does not serve after the new one exited")
		}
		f.step() // the new run is retired
		err := answer(t, reload)
		if err == nil || !strings.Contains(err.Error(), "exited with code 1") {
			t.Fatalf("reload: %v", err)
		}
		f.want(Online)
		if f.p.restarts != 0 || !strings.HasPrefix(f.p.lastReload, "failed") {
			t.Fatalf("restarts %d, last reload %q", f.p.restarts, f.p.lastReload)
		}
	})
	t.Run("old", func(t *testing.T) {
		f := newLoopFixture(t, spec.App{})
		old := f.start()
		reload, _ := f.do(opReload, "")
		f.exit(old, 1)
		if err := answer(t, reload); err != nil {
			t.Fatal(err)
		}
		if f.ls.rl != nil || f.ls.cur != f.runs[1] {
			t.Fatal("the new run does not serve after the old one exited")
		}
		f.want(Online)
		if f.p.restarts != 1 || f.p.reason != "reload" {
			t.Fatalf("restarts %d, reason %q", f.p.restarts, f.p.reason)
		}
	})
}

// Liveness failing failure_threshold times in a row restarts the process;
// a pass in between starts the count again.
func TestLoopProbeFailure(t *testing.T) {
	lp := &spec.Probe{Exec: "true", Interval: time.Hour, StartPeriod: time.Hour, FailureThreshold: 3, SuccessThreshold: 1}
	f := newLoopFixture(t, spec.App{Liveness: lp})
	r := f.start()
	fail := probeResult{r: r, kind: livenessProbe, msg: "exit status 1"}
	f.ls.onProbe(fail)
	f.ls.onProbe(fail)
	f.ls.onProbe(probeResult{r: r, kind: livenessProbe, ok: true})
	f.ls.onProbe(fail)
	f.ls.onProbe(fail)
	f.want(Online)
	if f.p.health != HealthHealthy {
		t.Fatalf("health %q after a pass and two failures, want healthy", f.p.health)
	}
	f.ls.onProbe(fail)
	f.want(Stopping)
	if f.p.healthMsg != "liveness: exit status 1" {
		t.Fatalf("health message %q", f.p.healthMsg)
	}
	f.ls.onProbe(fail) // the stopping run's: nothing more
	f.exit(r, 130)
	f.want(Online)
	if len(f.runs) != 2 || f.p.restarts != 1 || f.p.reason != "liveness" {
		t.Fatalf("%d runs, restarts %d, reason %q", len(f.runs), f.p.restarts, f.p.reason)
	}
	f.ls.onProbe(fail) // of the old run
	if f.ls.liveFail != 0 {
		t.Fatalf("a result of the old run counted: %d", f.ls.liveFail)
	}
}

// Readiness makes the process healthy after success_threshold passes and
// unhealthy after failure_threshold failures, without a restart.
func TestLoopReadinessProbe(t *testing.T) {
	rp := &spec.Probe{Exec: "true", Interval: time.Hour, StartPeriod: time.Hour, FailureThreshold: 2, SuccessThreshold: 2}
	f := newLoopFixture(t, spec.App{Readiness: rp})
	r := f.start()
	pass := probeResult{r: r, kind: readinessProbe, ok: true}
	fail := probeResult{r: r, kind: readinessProbe, msg: "connection refused"}
	f.ls.onProbe(pass)
	if f.p.ready {
		t.Fatal("ready after one pass of two")
	}
	f.ls.onProbe(pass)
	if !f.p.ready || f.p.health != HealthHealthy {
		t.Fatalf("ready %v, health %q", f.p.ready, f.p.health)
	}
	f.ls.onProbe(fail)
	f.ls.onProbe(fail)
	if f.p.ready || f.p.health != HealthUnhealthy || f.p.healthMsg != "readiness: connection refused" {
		t.Fatalf("ready %v, health %q, %q", f.p.ready, f.p.health, f.p.healthMsg)
	}
	f.want(Online)
}

// A cron_restart time starts a stopped process (as PM2 does) and arms the
// next one; a time that comes during a stop restarts nothing more.
func TestLoopCronWhileStopped(t *testing.T) {
	f := newLoopFixture(t, spec.App{CronRestart: "*/5 * * * *"})
	f.ls.schedule()
	if want := f.clk.now().Add(5 * time.Minute); !f.p.cronNext.Equal(want) {
		t.Fatalf("next cron %v, want %v", f.p.cronNext, want)
	}
	f.want(Stopped)
	f.clk.advance(5 * time.Minute)
	f.step()
	f.want(Online)
	if len(f.runs) != 1 || f.p.restarts != 1 || f.p.reason != "cron" {
		t.Fatalf("%d runs, restarts %d, reason %q", len(f.runs), f.p.restarts, f.p.reason)
	}
	if want := f.clk.now().Add(5 * time.Minute); !f.p.cronNext.Equal(want) {
		t.Fatalf("next cron %v, want %v", f.p.cronNext, want)
	}
	f.do(opStop, "")
	f.clk.advance(5 * time.Minute)
	f.step() // the cron time and kill_timeout, in either order
	f.step()
	f.want(Stopping)
	if len(f.runs) != 1 {
		t.Fatalf("%d runs", len(f.runs))
	}
}

// restart_delay after a crash: the restart happens when it passes, unless
// a stop came in between.
func TestLoopRestartDelayAfterStop(t *testing.T) {
	app := spec.App{Autorestart: true, MaxRestarts: 15, RestartDelay: 2 * time.Second}
	f := newLoopFixture(t, app)
	f.exit(f.start(), 1)
	f.want(WaitingRestart)
	stop, _ := f.do(opStop, "")
	if err := answer(t, stop); err != nil {
		t.Fatal(err)
	}
	f.want(Stopped)
	f.clk.advance(2 * time.Second)
	if n := f.clk.pending(); n != 0 || f.ls.restartT != nil {
		t.Fatalf("after the stop: %d alarms set, restart pending %v", n, f.ls.restartT != nil)
	}
	f.ls.onRestartDelay() // a tick that was on its way
	f.want(Stopped)
	if len(f.runs) != 1 {
		t.Fatalf("restarted after a stop: %d runs", len(f.runs))
	}

	// Without the stop, the delay passing restarts it.
	f.exit(f.start(), 1)
	f.want(WaitingRestart)
	f.clk.advance(time.Second)
	if len(f.runs) != 2 {
		t.Fatal("restarted before restart_delay")
	}
	f.clk.advance(time.Second)
	f.step()
	f.want(Online)
	if len(f.runs) != 3 || f.p.reason != "crash" {
		t.Fatalf("%d runs, reason %q", len(f.runs), f.p.reason)
	}
}

// wait_ready without the app's signal: listen_timeout makes it ready.
func TestLoopListenTimeout(t *testing.T) {
	f := newLoopFixture(t, spec.App{WaitReady: true, ListenTimeout: 8 * time.Second})
	r := f.start()
	if f.p.ready {
		t.Fatal("ready before its signal")
	}
	f.clk.advance(8 * time.Second)
	f.step()
	if !f.p.ready || f.p.health != HealthHealthy {
		t.Fatalf("after listen_timeout: ready %v, health %q", f.p.ready, f.p.health)
	}
	// The signal of a run that is not the one serving counts for nothing.
	f2 := newLoopFixture(t, spec.App{WaitReady: true})
	f2.start()
	f2.ls.onSignal(runSignal{r: r, kind: sigReady})
	if f2.p.ready {
		t.Fatal("another run's signal made it ready")
	}
	f2.ls.onSignal(runSignal{r: f2.ls.cur, kind: sigReady})
	if !f2.p.ready {
		t.Fatal("its own signal did not make it ready")
	}
}

// reload_timeout passing before the new run is ready gives the reload up:
// the new run is stopped (its own stop sequence, in retire) and the waiters
// hear why once it is gone; the old run serves on.
func TestLoopReloadTimeout(t *testing.T) {
	f := newLoopFixture(t, spec.App{ReloadTimeout: 10 * time.Second, ListenTimeout: time.Hour})
	old := f.start()
	reload, _ := f.do(opReload, "")
	f.clk.advance(10 * time.Second)
	f.step()
	if f.ls.rl != nil || f.ls.cur != old {
		t.Fatal("the reload goes on after reload_timeout")
	}
	noReply(t, reload)
	close(f.runs[1].done) // the new run stops
	f.step()              // and is retired
	if err := answer(t, reload); err == nil || !strings.Contains(err.Error(), "not ready within reload_timeout 10s") {
		t.Fatalf("reload: %v", err)
	}
	f.want(Online)
}

// Detach (tend update) during a stop: the loop ends, the process stays for
// the next daemon, and whoever waited for the stop hears why.
func TestLoopDetachWhileStopping(t *testing.T) {
	f := newLoopFixture(t, spec.App{})
	f.start()
	stop, _ := f.do(opStop, "")
	reply, end := f.do(opDetach, "")
	if err := answer(t, reply); err != nil || !end {
		t.Fatalf("detach: %v, loop ends %v", err, end)
	}
	if err := answer(t, stop); err == nil || !strings.Contains(err.Error(), "the daemon is being replaced") {
		t.Fatalf("the stop's waiter: %v", err)
	}
	if !f.p.detached.Load() || f.p.stopThen != opStop {
		t.Fatalf("detached %v, then %v", f.p.detached.Load(), f.p.stopThen)
	}
}

// A run holds its process's spec, not a copy of it (760 bytes an idle app);
// new options replace the process's spec whole, and the run that started
// with the old ones still sees them.
func TestLoopRunSharesSpec(t *testing.T) {
	f := newLoopFixture(t, spec.App{Args: []string{"first"}})
	r1 := f.start()
	if r1.app != f.p.app {
		t.Fatal("the run has a copy of the spec of its own")
	}
	f.exit(r1, 0)
	f.want(Stopped)
	next := *f.p.app
	next.Args = []string{"second"}
	c := command{op: opStart, app: &next, reply: make(chan error, 1)}
	f.ls.onCommand(c)
	if err := answer(t, c.reply); err != nil {
		t.Fatal(err)
	}
	r2 := f.ls.cur
	if r2 == r1 || r2.app != f.p.app || f.p.app.Args[0] != "second" {
		t.Fatalf("after a start with new options: the run's spec %p, the process's %p (%v)", r2.app, f.p.app, f.p.app.Args)
	}
	if r1.app.Args[0] != "first" {
		t.Fatalf("new options changed the spec an earlier run started with: %v", r1.app.Args)
	}
}

// An app without probes has no channel for their results (~0.4 KB an idle
// app); its first run with probes makes one.
func TestLoopProbeChannelOnlyWithProbes(t *testing.T) {
	f := newLoopFixture(t, spec.App{})
	f.start()
	if f.ls.probes != nil {
		t.Fatal("an app without probes has a channel for their results")
	}
	rp := &spec.Probe{Exec: "true", Interval: time.Hour, StartPeriod: time.Hour, FailureThreshold: 1, SuccessThreshold: 1}
	g := newLoopFixture(t, spec.App{Readiness: rp})
	r := g.start()
	if g.ls.probes == nil {
		t.Fatal("an app with a readiness probe has no channel for its results")
	}
	g.ls.onProbe(probeResult{r: r, kind: readinessProbe, ok: true})
	if !g.p.ready {
		t.Fatal("not ready after its probe passed")
	}
}
