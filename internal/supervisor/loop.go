package supervisor

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// loopState is what a process's loop owns between two events: the run that
// serves, a stop or a reload in progress, the timers, the file watcher. The
// loop waits for one event at a time (next) and hands it to the on* method
// for its kind; each reports whether the loop ends. Nothing else touches
// these fields, so a handler needs no lock for them (Proc's fields that
// readers see are still set under p.mu).
type loopState struct {
	p   *Proc
	clk clock
	in  received // the value of the event being handled
	// spawn starts a run of app without making it serve (Proc.spawn in
	// the daemon; tests give runs with no process).
	spawn func(app *spec.App, paths [3]string) (*run, error)

	cur *run       // the run that serves; nil when none
	st  *stopping  // a stop in progress (cur is its run)
	rl  *reloading // a reload in progress (cur serves meanwhile)

	exits    chan exitMsg
	sigs     chan runSignal
	probes   chan probeResult
	retired  chan retireMsg // runs retire stopped
	loopExit chan struct{}  // closed when the loop ends
	retiring sync.WaitGroup

	restartT *alarm // restart_delay after a crash (waiting restart)
	cronT    *alarm // the next cron_restart
	crons    cronSchedule
	watch    *watcher

	waiting    bool   // depends_on not met yet
	waitReason string // the launch reason to use once they are
	depC       <-chan struct{}

	wrT   *alarm // wait_ready at start: PM2 counts the app ready after listen_timeout
	wrRun *run

	readyOK, readyFail, liveFail int // probe results in a row of cur
}

// stopping is a stop of the serving run in progress, and what follows it.
type stopping struct {
	*stopRun
	then    op // opStop, opRestart or opDelete
	reason  string
	waiters []chan error
}

func newLoopState(p *Proc, clk clock) *loopState {
	ls := &loopState{p: p, clk: clk,
		exits: make(chan exitMsg, 1), sigs: make(chan runSignal, 8), // probes: made by startRunProbes
		retired: make(chan retireMsg), loopExit: make(chan struct{})}
	ls.spawn = func(app *spec.App, paths [3]string) (*run, error) {
		return p.spawn(app, paths, ls.exits, ls.sigs)
	}
	return ls
}

// loop owns the process: commands, exits, probes, timers, the cron schedule
// and the file watcher.
func (p *Proc) loop() {
	defer close(p.done)
	ls := newLoopState(p, supClock{p.sup})
	defer ls.close()
	if onOwnStack(ls.resume) {
		return
	}
	for !ls.next() {
	}
}

// close ends what the loop started: timers, the watcher, the runs a reload
// replaced or gave up (waited for), the spare cgroup.
func (ls *loopState) close() {
	ls.cronT.Stop()
	ls.restartT.Stop()
	ls.wrT.Stop()
	ls.stopWatch()
	close(ls.loopExit)
	ls.retiring.Wait()
	if p := ls.p; p.spare != nil {
		p.spare.Discard()
		p.spare = nil
	}
}

// next waits for one event and handles it. It reports whether the loop
// ends.
func (ls *loopState) next() bool {
	ev := ls.wait()
	return onOwnStack(func() bool { return ls.handle(ev) })
}

// event is what the loop waits for; the value that came with it is in
// loopState.in.
type event int

const (
	evCommand event = iota
	evExit
	evRestartDelay
	evCron
	evDeps
	evProbe
	evSignal
	evListenTimeout
	evReloadPoll
	evReloadFallback
	evReloadTimeout
	evRetired
	evStopPoll
	evKillTimeout
)

// received holds the value of the last event (one of them).
type received struct {
	cmd     command
	exit    exitMsg
	probe   probeResult
	sig     runSignal
	retired retireMsg
}

// wait waits for one event. It is all the loop's own goroutine does, so
// its stack stays small for as long as the app lives (handle runs on
// another, onOwnStack).
func (ls *loopState) wait() event {
	var stopKillC, stopPollC, rlAbortC, rlFallC, rlPollC <-chan time.Time
	if ls.st != nil {
		stopKillC, stopPollC = ls.st.alarms()
	}
	if ls.rl != nil {
		rlAbortC, rlFallC, rlPollC = ls.rl.channels()
	}
	in := &ls.in
	select {
	case in.cmd = <-ls.p.cmds:
		return evCommand
	case in.exit = <-ls.exits:
		return evExit
	case <-ls.restartT.C():
		return evRestartDelay
	case <-ls.cronT.C():
		return evCron
	case <-ls.depC:
		return evDeps
	case in.probe = <-ls.probes:
		return evProbe
	case in.sig = <-ls.sigs:
		return evSignal
	case <-ls.wrT.C():
		return evListenTimeout
	case <-rlPollC:
		return evReloadPoll
	case <-rlFallC:
		return evReloadFallback
	case <-rlAbortC:
		return evReloadTimeout
	case in.retired = <-ls.retired:
		return evRetired
	case <-stopPollC:
		return evStopPoll
	case <-stopKillC:
		return evKillTimeout
	}
}

// handle hands an event to its method.
func (ls *loopState) handle(ev event) bool {
	in := ls.in
	ls.in = received{} // no reference kept while idle
	switch ev {
	case evCommand:
		return ls.onCommand(in.cmd)
	case evExit:
		return ls.onExit(in.exit)
	case evRestartDelay:
		ls.onRestartDelay()
	case evCron:
		ls.onCron()
	case evDeps:
		ls.onDeps()
	case evProbe:
		ls.onProbe(in.probe)
	case evSignal:
		ls.onSignal(in.sig)
	case evListenTimeout:
		ls.onListenTimeout()
	case evReloadPoll:
		ls.onReloadPoll()
	case evReloadFallback:
		ls.onReloadFallback()
	case evReloadTimeout:
		ls.onReloadTimeout()
	case evRetired:
		ls.onRetired(in.retired)
	case evStopPoll:
		return ls.onStopPoll()
	case evKillTimeout:
		ls.onKillTimeout()
	}
	return false
}

// onOwnStack runs a handler in a goroutine of its own and waits for it.
// What a handler needs in stack (starting a process, JSON, state files:
// 8–16 KiB) grows that goroutine's stack, which goes when it ends; the
// loop's own stays at its first 2 KiB, however long the app lives. The
// loop's state is only ever touched by one of them at a time.
func onOwnStack(handle func() bool) bool {
	ch := make(chan bool, 1)
	go func() { ch <- handle() }()
	return <-ch
}

func (ls *loopState) logErr(err error) {
	if err != nil {
		ls.p.sup.logf("app %s (id %d): %v", ls.p.app.Name, ls.p.id, err)
	}
}

// --- commands ---

// onCommand handles a command of the API (start, stop, restart, reload,
// delete, reset, unwatch, detach).
func (ls *loopState) onCommand(c command) bool {
	p := ls.p
	if c.op == opReload {
		switch {
		case ls.rl != nil:
			ls.rl.waiters = append(ls.rl.waiters, c.reply)
			return false
		case ls.cur != nil && ls.st == nil && !ls.cur.exited:
			ls.beginReload(c)
			return false
		}
		// Not running (or stopping): a reload starts it.
		c.op, c.reason = opRestart, "reload"
		if ls.cur == nil {
			p.noteReload("started: it was not running")
		}
	}
	if ls.rl != nil && (c.op == opStop || c.op == opRestart || c.op == opDelete) {
		ls.abortReload("interrupted by " + opName(c.op, c.reason))
	}
	if c.app != nil {
		ls.setApp(c.app)
	}
	if c.reason == "" && c.op == opRestart {
		c.reason = "manual"
	}
	switch c.op {
	case opSend:
		p.sendMessage(ls.cur, c)
	case opReset:
		p.mu.Lock()
		p.restarts, p.counters = 0, Counters{}
		p.mu.Unlock()
		p.save()
		c.reply <- nil
	case opDetach:
		ls.detach(c)
		return true
	case opUnwatch:
		p.watchOff = true
		ls.stopWatch()
		p.save()
		c.reply <- nil
	case opStart:
		p.watchOff = false
		if ls.cur != nil || ls.st != nil {
			c.reply <- nil
			return false
		}
		c.reply <- ls.launch("")
	case opStop, opRestart, opDelete:
		return ls.onStopCommand(c)
	}
	return false
}

// onStopCommand handles stop, restart and delete: a running process is
// stopped first (beginStop), one that does not run is done at once.
func (ls *loopState) onStopCommand(c command) bool {
	p := ls.p
	if c.op == opRestart && c.reason == "watch" && ls.watch != nil && ls.watch.looping(ls.cur) {
		w := ls.watch
		p.watchOff = true
		ls.stopWatch()
		w.sayStopped()
		c.reply <- nil
		return false
	}
	if ls.cur != nil {
		ls.beginStop(c)
		return false
	}
	ls.cancelRestart()
	ls.waiting, ls.depC = false, nil
	p.setStatus(Stopped, "") // an errored app too (PM2)
	switch {
	case c.op == opRestart && c.reason == reasonStart:
		c.reply <- ls.launch("") // started again with new options: not a restart (PM2)
		return false
	}
	switch c.op {
	case opRestart:
		c.reply <- ls.relaunch(c.reason)
	case opDelete:
		p.sup.forget(p.id)
		c.reply <- nil
		return true
	default:
		ls.stopWatch()
		c.reply <- nil
	}
	return false
}

// detach leaves the process to the next daemon (tend update): the loop
// ends, the serving run keeps running with its record.
func (ls *loopState) detach(c command) {
	p := ls.p
	p.detached.Store(true)
	gone := fmt.Errorf("app %s (id %d): the daemon is being replaced (tend update); the next one takes over", p.app.Name, p.id)
	if rl := ls.rl; rl != nil { // the new instance of a reload does not serve yet: it goes
		rl.stop()
		rl.next.kill(rl.next.tree(procstat.Take()))
		for _, w := range rl.waiters {
			w <- gone
		}
		ls.rl = nil
	}
	if ls.st != nil { // the record says what the stop was for: the next daemon goes on
		for _, w := range ls.st.waiters {
			w <- gone
		}
	}
	if ls.cur != nil {
		ls.cur.detach()
	}
	c.reply <- nil
}

// --- starting ---

// launch starts the app, or has it wait for its dependencies.
func (ls *loopState) launch(reason string) error {
	p := ls.p
	ls.cancelRestart()
	ls.waiting, ls.depC = false, nil
	if len(p.app.DependsOn) > 0 {
		ch := p.sup.changed() // before the check, so no change is missed
		d := p.sup.depsOf(*p.app)
		if !d.met {
			p.mu.Lock()
			p.waitingFor = d.reason()
			p.reason = d.reason()
			p.mu.Unlock()
			if len(d.failed) > 0 {
				p.setStatus(Errored, d.reason())
				return nil
			}
			ls.waiting, ls.waitReason, ls.depC = true, reason, ch
			p.setStatus(Waiting, d.reason())
			for _, n := range d.stopped {
				go p.sup.startByName(n)
			}
			return nil
		}
		p.mu.Lock()
		p.waitingFor = ""
		p.mu.Unlock()
	}
	// The watcher runs before the app does, so a change the app makes
	// as it starts is seen.
	ls.rewatch()
	r, err := ls.startRun(reason)
	if err != nil {
		return err
	}
	ls.cur = r
	ls.readyOK, ls.readyFail, ls.liveFail = 0, 0, 0
	switch {
	case p.app.Readiness != nil:
		p.setHealth(false, HealthStarting, "")
	case p.app.WaitReady:
		p.setHealth(false, HealthStarting, "") // until process.send('ready') or READY=1
		ls.wrT.Stop()
		lt := p.app.ListenTimeout
		if lt <= 0 {
			lt = spec.DefaultListenTimeout
		}
		ls.wrT, ls.wrRun = ls.clk.timer(lt), r
	case p.app.Liveness != nil:
		p.setHealth(true, HealthStarting, "")
	default:
		p.setHealth(true, HealthNone, "")
	}
	ls.startRunProbes(r)
	return nil
}

// relaunch is launch counted as a restart.
func (ls *loopState) relaunch(reason string) error {
	p := ls.p
	p.mu.Lock()
	p.restarts++
	p.mu.Unlock()
	return ls.launch(reason)
}

// startRun starts one run of the process and makes it the one that serves.
func (ls *loopState) startRun(reason string) (*run, error) {
	p := ls.p
	p.setStatus(Launching, reason)
	p.mu.Lock()
	app := p.app
	paths := p.logPaths
	p.mu.Unlock()
	r, err := ls.spawn(app, paths)
	if err != nil {
		err = fmt.Errorf("app %s (id %d): %w", app.Name, p.id, err)
		p.writeErrLog(paths, err.Error())
		p.setStatus(Errored, err.Error())
		return nil, err
	}
	p.adopt(r)
	p.setStatus(Online, "")
	return r, nil
}

// onDeps handles a change of the other processes while this one waits for
// its dependencies: it tries again.
func (ls *loopState) onDeps() {
	ls.depC = nil
	if ls.waiting && ls.cur == nil && ls.st == nil {
		ls.logErr(ls.launch(ls.waitReason))
	}
}

// --- exits and restarts ---

// onExit handles the exit of a run: the serving one (a crash, or the end of
// a stop), the new one of a reload, or a retired one (nothing to do).
func (ls *loopState) onExit(m exitMsg) bool {
	p := ls.p
	if ls.rl != nil && m.r == ls.rl.next {
		m.r.exited, m.r.exit = true, m.exit
		ls.abortReload(fmt.Sprintf("the new instance (pid %d) exited with %s after %v, before it was ready",
			m.r.pid, exitText(m.exit), m.exit.Uptime.Round(time.Millisecond)))
		return false
	}
	cur := ls.cur
	if m.r != cur {
		return false // a retired run
	}
	cur.exited, cur.exit = true, m.exit
	p.recordExit(m.exit)
	if ls.st != nil {
		return ls.checkStopped()
	}
	p.onCrash(cur, m.exit)
	if ls.rl != nil {
		// The old instance died during the reload: the new one takes over
		// now.
		cur.release()
		ls.cur = nil
		ls.promote("the old instance exited")
		return false
	}
	d := p.decide(m.exit)
	p.afterRun(cur)
	ls.cur = nil
	switch {
	case !d.Restart:
		p.setStatus(d.Status, d.Reason)
		if d.Status == Errored {
			p.sup.logf("app %s (id %d) errored: %s", p.app.Name, p.id, d.Reason)
		}
	case d.Delay <= 0:
		ls.logErr(ls.relaunch("crash"))
	default:
		p.setStatus(WaitingRestart, "crash")
		ls.restartT = ls.clk.timer(d.Delay)
	}
	return false
}

// onRestartDelay handles the end of restart_delay after a crash.
func (ls *loopState) onRestartDelay() {
	if ls.restartT == nil {
		return // cancelled meanwhile
	}
	ls.restartT = nil
	ls.logErr(ls.relaunch("crash"))
}

func (ls *loopState) cancelRestart() {
	ls.restartT.Stop()
	ls.restartT = nil
}

// --- stopping ---

// beginStop stops cur (kill_signal, then SIGKILL after kill_timeout); what
// follows once it is gone is c.op: stop, restart or delete. A stop already
// under way takes the later of the two (delete over restart over stop).
func (ls *loopState) beginStop(c command) {
	p := ls.p
	if ls.rl != nil {
		ls.abortReload("interrupted by " + opName(c.op, c.reason))
	}
	if st := ls.st; st != nil {
		if c.op > st.then {
			st.then, st.reason = c.op, c.reason
			p.mu.Lock()
			p.stopThen, p.stopReason = c.op, c.reason
			p.mu.Unlock()
			p.save()
		}
		st.waiters = append(st.waiters, c.reply)
		return
	}
	st := &stopping{then: c.op, reason: c.reason, waiters: []chan error{c.reply}}
	ls.st = st
	p.mu.Lock()
	p.stopThen, p.stopReason = c.op, c.reason
	p.mu.Unlock()
	p.setStatus(Stopping, "")
	snap := c.snap
	if snap == nil {
		snap = p.sup.recentSnapshot()
	}
	st.stopRun = newStopRun(ls.cur, *p.app, false, snap, ls.clk)
}

// onKillTimeout handles kill_timeout passing during a stop.
func (ls *loopState) onKillTimeout() {
	if ls.st != nil && ls.st.kill() {
		ls.p.sup.logf("app %s (id %d) did not stop within %v: sent SIGKILL to its process tree", ls.p.app.Name, ls.p.id, ls.st.timeout)
	}
}

// onStopPoll looks again whether what is left of a stopped run is gone.
func (ls *loopState) onStopPoll() bool {
	return ls.checkStopped()
}

// checkStopped ends the stop once cur has exited and its tree is gone.
func (ls *loopState) checkStopped() bool {
	if ls.st == nil || ls.cur == nil || !ls.st.gone(ls.cur.exited) {
		return false
	}
	return ls.finishStop()
}

// finishStop does what the stop was for (stopped, restarted or deleted) and
// answers its waiters.
func (ls *loopState) finishStop() (exitLoop bool) {
	p := ls.p
	s := ls.st
	ls.st = nil
	s.end()
	p.afterRun(ls.cur)
	ls.cur = nil
	p.setStatus(Stopped, "")
	var err error
	switch s.then {
	case opRestart:
		err = ls.relaunch(s.reason)
	case opDelete:
		exitLoop = true
		p.sup.forget(p.id) // gone from the list before anyone hears "deleted"
	default:
		ls.stopWatch()
	}
	for _, w := range s.waiters {
		w <- err
	}
	return exitLoop
}

// --- probes and readiness signals ---

// onProbe handles a probe result: readiness makes the process healthy or
// unhealthy, liveness failing failure_threshold times in a row restarts it.
func (ls *loopState) onProbe(res probeResult) {
	p := ls.p
	if rl := ls.rl; rl != nil && res.r == rl.next {
		if res.kind == readinessProbe && rl.probeResult(res.ok, p.app.Readiness) {
			ls.promote("its readiness probe passes")
		}
		return
	}
	if ls.cur == nil || res.r != ls.cur || ls.st != nil {
		return
	}
	if res.kind == readinessProbe {
		ls.onReadiness(res)
		return
	}
	if res.ok {
		ls.liveFail = 0
		if p.app.Readiness == nil {
			p.setHealth(true, HealthHealthy, "")
		}
		return
	}
	ls.liveFail++
	if ls.liveFail < p.app.Liveness.FailureThreshold {
		return
	}
	msg := fmt.Sprintf("liveness: %d checks in a row failed (%s): restarting", ls.liveFail, res.msg)
	p.sup.logf("app %s (id %d): %s", p.app.Name, p.id, msg)
	p.writeErrLog(p.logPaths, msg)
	p.setHealth(false, HealthUnhealthy, "liveness: "+res.msg)
	ls.beginStop(command{op: opRestart, reason: "liveness", reply: make(chan error, 1)})
}

func (ls *loopState) onReadiness(res probeResult) {
	pr := ls.p.app.Readiness
	if res.ok {
		ls.readyOK, ls.readyFail = ls.readyOK+1, 0
		if ls.readyOK >= pr.SuccessThreshold {
			ls.p.setHealth(true, HealthHealthy, "")
		}
		return
	}
	ls.readyOK, ls.readyFail = 0, ls.readyFail+1
	if ls.readyFail >= pr.FailureThreshold {
		ls.p.setHealth(false, HealthUnhealthy, "readiness: "+res.msg)
	}
}

// onSignal handles what a run says on its IPC channel or NOTIFY_SOCKET.
func (ls *loopState) onSignal(s runSignal) {
	p := ls.p
	if rl := ls.rl; rl != nil && s.r == rl.next {
		if rl.accepts(s.kind) {
			ls.promote(s.how)
		}
		return
	}
	if s.r == ls.cur && ls.st == nil && s.kind == sigReady && p.app.WaitReady && p.app.Readiness == nil {
		p.setHealth(true, HealthHealthy, "")
	}
}

// onListenTimeout handles listen_timeout passing after a start with
// wait_ready: without its signal, the app counts as ready (as in PM2).
func (ls *loopState) onListenTimeout() {
	p := ls.p
	ls.wrT = nil
	if ls.cur == nil || ls.cur != ls.wrRun || ls.st != nil {
		return
	}
	p.mu.Lock()
	ready := p.ready
	p.mu.Unlock()
	if !ready {
		p.sup.logf("app %s (id %d): no ready signal within listen_timeout (wait_ready): counted as ready, as PM2 does", p.app.Name, p.id)
		p.setHealth(true, HealthHealthy, "")
	}
}

// --- cron and watch ---

// onCron handles a cron_restart time: PM2 restarts the app, and starts one
// that is stopped.
func (ls *loopState) onCron() {
	p := ls.p
	ls.cronT = nil
	ls.schedule()
	if ls.st != nil || ls.rl != nil {
		return
	}
	p.sup.logf("app %s (id %d): cron_restart %q fired", p.app.Name, p.id, p.app.CronRestart)
	if ls.cur != nil {
		ls.beginStop(command{op: opRestart, reason: "cron", reply: make(chan error, 1)})
		return
	}
	ls.cancelRestart()
	ls.logErr(ls.relaunch("cron"))
}

// schedule arms the cron timer for the next run of cron_restart.
func (ls *loopState) schedule() {
	p := ls.p
	ls.cronT.Stop()
	ls.cronT = nil
	now := ls.clk.now()
	next, ok := ls.crons.next(p.app.CronRestart, now)
	p.mu.Lock()
	p.cronNext = next
	p.mu.Unlock()
	if ok {
		ls.cronT = ls.clk.timer(next.Sub(now))
	}
}

// setApp takes new options for the next runs (start, restart, reload),
// or puts back those a failed reload replaced. a is the process's from now
// on and shared with its runs: nobody changes it in place (a change of
// options is a new spec).
func (ls *loopState) setApp(a *spec.App) {
	p := ls.p
	p.mu.Lock()
	p.app = a
	p.setPaths()
	p.mu.Unlock()
	ls.schedule()
}

// rewatch starts or stops the watcher to match the app's options.
func (ls *loopState) rewatch() {
	p := ls.p
	want := p.app.WatchEnabled && !p.watchOff
	if ls.watch != nil && (!want || !ls.watch.same(*p.app)) {
		ls.stopWatch()
	}
	if want && ls.watch == nil {
		w, err := newWatcher(p, *p.app)
		if err != nil {
			p.sup.logf("app %s (id %d): watch: %v", p.app.Name, p.id, err)
			return
		}
		ls.watch = w
		p.watching.Store(true)
	}
}

func (ls *loopState) stopWatch() {
	ls.watch.close()
	ls.watch = nil
	ls.p.watching.Store(false)
}

// --- resuming a run of an earlier daemon ---

// resume takes over what Restore found for this process: a run of an
// earlier daemon to watch again (resumeRun), or a start to make at once. It
// reports whether the loop ends (the process was being deleted).
func (ls *loopState) resume() bool {
	p := ls.p
	ls.schedule()
	if sr := p.resume; sr != nil {
		p.resume = nil
		if ls.resumeRun(*sr) {
			return true
		}
	}
	switch reason := p.resumeStart; reason {
	case "":
	case "start": // it was waiting for its dependencies: no restart to count
		p.resumeStart = ""
		ls.logErr(ls.launch(""))
	default:
		p.resumeStart = ""
		ls.logErr(ls.relaunch(reason))
	}
	return false
}

// resumeRun watches again a run of an earlier daemon, and carries on the
// stop that daemon had begun. When the run cannot be watched, what is left
// of it is killed and the process is started again, unless it was being
// stopped or deleted.
func (ls *loopState) resumeRun(sr savedRun) bool {
	p := ls.p
	r, err := p.reattach(sr, ls.exits)
	if err != nil {
		// Never two copies: what still runs of the earlier run goes.
		if !errors.Is(err, errGone) {
			p.killSaved(sr)
		}
		p.mu.Lock()
		then, was := p.stopThen, p.status
		p.status, p.pid = Stopped, 0
		p.mu.Unlock()
		switch {
		case was == Stopping && then == opDelete:
			p.sup.logf("app %s (id %d): pid %d of the earlier daemon: %v; it was being deleted", p.app.Name, p.id, sr.PID, err)
			p.sup.forget(p.id)
			return true
		case was == Stopping && then == opStop:
			p.sup.logf("app %s (id %d): pid %d of the earlier daemon: %v; it was being stopped", p.app.Name, p.id, sr.PID, err)
			p.save() // stopped now (the status was set above, without a record)
		default:
			p.sup.logf("app %s (id %d): pid %d of the earlier daemon: %v: starting it again", p.app.Name, p.id, sr.PID, err)
			p.resumeStart = "crash"
		}
		return false
	}
	p.mu.Lock()
	stopping, then, why := p.status == Stopping, p.stopThen, p.stopReason
	if p.status != Online {
		p.status = Launching
	}
	p.mu.Unlock()
	ls.rewatch()
	p.adopt(r)
	p.setStatus(Online, "")
	p.save() // this daemon's record now
	ls.cur = r
	p.sup.logf("app %s (id %d): pid %d, started by an earlier daemon, is watched again", p.app.Name, p.id, r.pid)
	switch {
	case p.app.Readiness != nil:
		p.setHealth(false, HealthStarting, "")
	case p.app.Liveness != nil:
		p.setHealth(true, HealthStarting, "")
	default:
		p.setHealth(true, HealthNone, "")
	}
	ls.startRunProbes(r)
	if stopping { // the earlier daemon was stopping it: carry on
		ls.beginStop(command{op: then, reason: why, reply: make(chan error, 1)})
	}
	return false
}

// --- reload ---

// beginReload starts the new run of a reload next to cur, or falls back to
// a restart when the two could not run side by side.
func (ls *loopState) beginReload(c command) {
	p := ls.p
	prev := p.app
	if c.app != nil {
		ls.setApp(c.app)
	}
	app := p.app
	plan := planReload(ls.cur, *app, p.sup.socks.shared(app.Name))
	if plan.restart != "" {
		p.noteReload("restart: " + plan.restart)
		p.sup.logf("app %s (id %d): reload by restart: %s", app.Name, p.id, plan.restart)
		ls.beginStop(command{op: opRestart, reason: "reload", reply: c.reply})
		return
	}
	p.mu.Lock()
	paths := p.logPaths
	oldPid := p.pid
	p.mu.Unlock()
	r, err := ls.spawn(app, paths)
	if err != nil {
		ls.setApp(prev) // the options the reload brought go
		err = fmt.Errorf("reload of %s (id %d) failed: %w; the old instance (pid %d) still serves", app.Name, p.id, err, oldPid)
		p.sup.logf("%v", err)
		p.writeErrLog(paths, err.Error())
		p.noteReload("failed: " + err.Error())
		c.reply <- err
		return
	}
	ls.startRunProbes(r)
	ls.rl = newReloading(r, prev, plan, app, ls.clk)
	ls.rl.waiters = append(ls.rl.waiters, c.reply)
	p.sup.logf("app %s (id %d): reload (%s): started pid %d next to pid %d; waiting until %s", app.Name, p.id, plan.mode, r.pid, oldPid, ls.rl.waitingFor())
}

// onReloadPoll looks whether the new run of a reload serves yet.
func (ls *loopState) onReloadPoll() {
	if how, ok := ls.rl.poll(); ok {
		ls.promote(how)
	}
}

// onReloadFallback handles listen_timeout passing with the new run of a
// reload still running: it serves.
func (ls *loopState) onReloadFallback() {
	ls.promote(fmt.Sprintf("still running after listen_timeout %v", ls.rl.fallback))
}

// onReloadTimeout handles reload_timeout passing before the new run was
// ready: the reload is given up.
func (ls *loopState) onReloadTimeout() {
	ls.abortReload(fmt.Sprintf("the new instance (pid %d) was not ready within reload_timeout %v (%s)",
		ls.rl.next.pid, ls.rl.timeout, ls.rl.waitingFor()))
}

// onRetired handles a retired run being gone: its waiters hear.
func (ls *loopState) onRetired(m retireMsg) {
	m.r.release()
	for _, w := range m.waiters {
		w <- m.err
	}
}

// retire stops a run that no longer serves (the old one after a reload, or
// a new one that failed) with its own stop sequence, in a goroutine; m
// comes back on retired when it is gone.
func (ls *loopState) retire(r *run, hard bool, m retireMsg) {
	m.r = r
	ls.retiring.Add(1)
	go ls.p.retire(r, hard, m, ls.retired, ls.loopExit, &ls.retiring, ls.clk)
}

// abortReload gives up the reload in progress: the new run is stopped, the
// old one keeps serving with its options, and the waiters hear err once the
// new run is gone.
func (ls *loopState) abortReload(why string) error {
	p := ls.p
	rl := ls.rl
	p.mu.Lock()
	oldPid := p.pid
	p.mu.Unlock()
	ls.setApp(rl.prevApp)
	err := fmt.Errorf("reload of %s (id %d) failed: %s; the old instance (pid %d) still serves", p.app.Name, p.id, why, oldPid)
	p.sup.logf("%v", err)
	p.writeErrLog(p.logPaths, err.Error())
	p.noteReload("failed: " + why)
	rl.stop()
	ls.retire(rl.next, rl.next.exited, retireMsg{err: err, waiters: rl.waiters})
	ls.rl = nil
	return err
}

// promote makes the new run of a reload the one that serves, and retires
// the old one (nil when it already exited); the waiters hear once the old
// one is gone.
func (ls *loopState) promote(how string) {
	p := ls.p
	rl := ls.rl
	next, old := rl.next, ls.cur
	rl.stop()
	ls.cur = next
	ls.readyOK, ls.readyFail, ls.liveFail = 0, 0, 0
	p.mu.Lock()
	p.restarts++
	p.reason = "reload"
	name := p.app.Name
	p.mu.Unlock()
	p.adopt(next)
	p.save() // the new pid, cgroup and pipes, with no change of status
	switch {
	case p.app.Readiness != nil && rl.readyOK >= p.app.Readiness.SuccessThreshold:
		p.setHealth(true, HealthHealthy, "")
	case p.app.Readiness != nil:
		p.setHealth(false, HealthStarting, "")
	case p.app.WaitReady && old != nil:
		p.setHealth(true, HealthHealthy, "")
	case p.app.WaitReady:
		p.setHealth(false, HealthStarting, "")
	case p.app.Liveness != nil:
		p.setHealth(true, HealthStarting, "")
	default:
		p.setHealth(true, HealthNone, "")
	}
	p.noteReload(rl.mode)
	p.sup.notify()
	p.sup.Bus.Publish(api.Event{Type: api.EventProcess, Time: p.sup.now().UnixMilli(), PMID: p.id, Name: name, Status: string(Online), Reason: "reload"})
	waiters := rl.waiters
	ls.rl = nil
	if old == nil {
		p.sup.logf("app %s (id %d): reload: pid %d serves (%s)", name, p.id, next.pid, how)
		for _, w := range waiters {
			w <- nil
		}
		return
	}
	p.sup.logf("app %s (id %d): reload: pid %d is ready (%s); stopping pid %d", name, p.id, next.pid, how, old.pid)
	ls.retire(old, false, retireMsg{waiters: waiters})
}
