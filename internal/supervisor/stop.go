package supervisor

import (
	"syscall"
	"time"

	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// stopPoll is how often a stop looks whether what is left of a run's tree
// has gone, once its own process has exited.
const stopPollEvery = 10 * time.Millisecond

// stopRun is the stop sequence of one run, the same for stop, restart and
// delete (the loop), the old or failed run of a reload (retire) and a run an
// earlier daemon was stopping (re-attach): the app's kill_signal to the
// run's process tree, SIGKILL to the tree (walked again) after kill_timeout,
// and done once the run's process has exited and nothing of its tree or
// cgroup runs.
type stopRun struct {
	r       *run
	clk     clock
	members []member
	timeout time.Duration // kill_timeout
	killT   *alarm
	pollT   *alarm
	killed  bool
}

// killTimeout is the app's kill_timeout, or its default.
func killTimeout(app spec.App) time.Duration {
	if app.KillTimeout > 0 {
		return app.KillTimeout
	}
	return spec.DefaultKillTimeout
}

// newStopRun begins the stop of r with app's kill_signal (SIGKILL at once
// when hard) to its process tree as snap shows it, and arms kill_timeout.
func newStopRun(r *run, app spec.App, hard bool, snap *procstat.Snapshot, clk clock) *stopRun {
	sig, err := ParseSignal(app.KillSignal)
	if err != nil {
		sig = syscall.SIGINT
	}
	if hard {
		sig = syscall.SIGKILL
	}
	s := &stopRun{r: r, clk: clk, timeout: killTimeout(app)}
	s.members = r.tree(snap)
	signalTree(r.pgid, s.members, sig)
	s.killT = clk.timer(s.timeout)
	return s
}

// alarms are the channels the owner of the stop selects on: kill_timeout,
// and the poll once the run's process has exited or was killed.
func (s *stopRun) alarms() (kill, poll <-chan time.Time) {
	return s.killT.C(), s.pollT.C()
}

// kill is kill_timeout passing: SIGKILL to the tree, walked again. It
// reports whether it sent it (only the first time).
func (s *stopRun) kill() bool {
	if s.killed {
		return false
	}
	s.killed = true
	s.members = mergeMembers(s.members, s.r.tree(procstat.Take()))
	s.r.kill(s.members)
	s.poll()
	return true
}

// gone reports whether the run has stopped: its process has exited and
// nothing of its tree runs. While something does, the stop polls.
func (s *stopRun) gone(exited bool) bool {
	if !exited {
		return false
	}
	if s.r.alive(s.members) {
		s.poll()
		return false
	}
	return true
}

func (s *stopRun) poll() {
	if s.pollT == nil {
		s.pollT = s.clk.ticker(stopPollEvery)
	}
}

// end stops the stop's timers.
func (s *stopRun) end() {
	s.killT.Stop()
	s.pollT.Stop()
}
