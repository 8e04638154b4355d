package supervisor

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// Zero-downtime reload (docs/reload.md). The process loop starts the new
// run next to the one that serves (cur), waits until the new one is ready,
// makes it cur, and stops the old one with its normal stop sequence. If the
// new run exits or is not ready within reload_timeout, it is stopped and
// the old one keeps serving.
//
// When is a new run ready? The first of these the app uses says so:
//  1. with wait_ready, only the app's own signal: process.send('ready') on
//     the IPC channel, or READY=1 on NOTIFY_SOCKET;
//  2. READY=1 (or process.send('ready')) from any app that sends it;
//  3. the readiness probe, when the app has one;
//  4. tend's Node preload saying a server listens on a passed socket;
//  5. the app listens on the same addresses as the old instance
//     (SO_REUSEPORT), or waits for connections on a passed socket (epoll);
//  6. otherwise: it still runs after listen_timeout (PM2's, 3 s). Not for
//     5's SO_REUSEPORT case: a socket that takes connections nobody accepts
//     would lose them when it closes, so tend waits for the port.

// reloadPlan is how a reload replaces an instance.
type reloadPlan struct {
	mode    string           // for the output: how old and new overlap
	ports   []netip.AddrPort // SO_REUSEPORT: the new run must listen on these
	restart string           // non-empty: the two cannot overlap; why
}

// planReload looks at what the serving run listens on; shared are the
// addresses a cluster-mode app's instances asked tend for.
func planReload(cur *run, app spec.App, shared []string) reloadPlan {
	addrs := shared
	if !app.ListenFromPort {
		addrs = append(slices.Clone(app.Listen), shared...)
	}
	if len(addrs) > 0 {
		if cur.adopted {
			return reloadPlan{restart: "it was started by an earlier daemon, which held its listening sockets; they were not carried over"}
		}
		return reloadPlan{mode: "zero-downtime: shared sockets " + strings.Join(addrs, ", ")}
	}
	ls := listeningOf(memberPids(cur.tree(procstat.Take())), cur.inodes)
	if len(ls) == 0 {
		return reloadPlan{mode: "zero-downtime: new instance first (it listens on no TCP port)"}
	}
	var ports []netip.AddrPort
	var blocked []string
	for ap := range ls {
		ports = append(ports, ap)
		if !canBindAlongside(ap) {
			blocked = append(blocked, ap.String())
		}
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	sort.Strings(blocked)
	if len(blocked) > 0 {
		return reloadPlan{restart: fmt.Sprintf("it listens on %s without SO_REUSEPORT, so a new instance could not bind next to it; "+
			"declare the address in listen (e.g. listen: ['%s']) for a zero-downtime reload", strings.Join(blocked, ", "), blocked[0])}
	}
	s := make([]string, len(ports))
	for i, ap := range ports {
		s[i] = ap.String()
	}
	return reloadPlan{mode: "zero-downtime: SO_REUSEPORT on " + strings.Join(s, ", "), ports: ports}
}

func memberPids(ms []member) []int {
	out := make([]int, len(ms))
	for i, m := range ms {
		out[i] = m.pid
	}
	return out
}

// reloading is a reload in progress.
type reloading struct {
	next     *run
	prevApp  *spec.App // restored when the reload fails
	mode     string
	ports    []netip.AddrPort
	waiters  []chan error
	signals  bool // wait_ready: only the app's own signal counts
	probe    bool // a readiness probe decides
	readyOK  int
	timeout  time.Duration
	fallback time.Duration // listen_timeout, 0 when it does not apply
	abortT   *alarm
	fallT    *alarm
	pollT    *alarm
}

func newReloading(next *run, prev *spec.App, plan reloadPlan, app *spec.App, clk clock) *reloading {
	rl := &reloading{next: next, prevApp: prev, mode: plan.mode, ports: plan.ports, timeout: app.ReloadTimeout}
	if rl.timeout <= 0 {
		rl.timeout = spec.DefaultReloadTimeout
	}
	rl.abortT = clk.timer(rl.timeout)
	switch {
	case app.WaitReady:
		rl.signals = true
	case app.Readiness != nil:
		rl.probe = true
	case len(plan.ports) > 0:
		rl.pollT = clk.ticker(20 * time.Millisecond)
	default:
		if len(next.inodes) > 0 {
			rl.pollT = clk.ticker(20 * time.Millisecond)
		}
		rl.fallback = app.ListenTimeout
		if rl.fallback <= 0 {
			rl.fallback = spec.DefaultListenTimeout
		}
		rl.fallT = clk.timer(rl.fallback)
	}
	return rl
}

// channels returns the timers the loop selects on (nil when unused).
func (rl *reloading) channels() (abort, fallback, poll <-chan time.Time) {
	return rl.abortT.C(), rl.fallT.C(), rl.pollT.C()
}

func (rl *reloading) stop() {
	rl.abortT.Stop()
	rl.fallT.Stop()
	rl.pollT.Stop()
}

// accepts reports whether a signal from the new run makes it ready.
func (rl *reloading) accepts(k signalKind) bool {
	return k == sigReady || (k == sigListening && !rl.signals && !rl.probe)
}

// probeResult counts a readiness result of the new run and reports whether
// it is ready.
func (rl *reloading) probeResult(ok bool, pr *spec.Probe) bool {
	if !rl.probe || pr == nil {
		return false
	}
	if !ok {
		rl.readyOK = 0
		return false
	}
	rl.readyOK++
	return rl.readyOK >= pr.SuccessThreshold
}

// poll looks in /proc whether the new run serves yet.
func (rl *reloading) poll() (string, bool) {
	r := rl.next
	pids := memberPids(r.tree(procstat.Take()))
	if len(rl.ports) > 0 {
		have := listeningOf(pids, r.inodes)
		for _, ap := range rl.ports {
			if !have[ap] {
				return "", false
			}
		}
		return "it listens on the same addresses", true
	}
	if pollsAny(pids, r.inodes) {
		return "it accepts on the passed socket", true
	}
	return "", false
}

// waitingFor says what the reload waits for, for messages.
func (rl *reloading) waitingFor() string {
	switch {
	case rl.signals:
		return "it sends process.send('ready') or READY=1 to NOTIFY_SOCKET (wait_ready)"
	case rl.probe:
		return "its readiness probe passes"
	case len(rl.ports) > 0:
		s := make([]string, len(rl.ports))
		for i, ap := range rl.ports {
			s[i] = ap.String()
		}
		return "it listens on " + strings.Join(s, ", ")
	case len(rl.next.inodes) > 0:
		return fmt.Sprintf("it accepts on the passed sockets, says READY=1, or runs for listen_timeout %v", rl.fallback)
	}
	return fmt.Sprintf("it says READY=1 or runs for listen_timeout %v", rl.fallback)
}

// retireMsg comes back to the loop when a retired run is gone.
type retireMsg struct {
	r       *run
	err     error // what the waiters hear
	waiters []chan error
}

// retire stops a run that no longer serves, with the app's stop sequence
// (kill_signal to its process tree, SIGKILL after kill_timeout), or with
// SIGKILL at once when hard (a run that already exited leaves nothing worth
// waiting for). It runs in its own goroutine; the loop keeps serving.
func (p *Proc) retire(r *run, hard bool, m retireMsg, out chan<- retireMsg, loopExit <-chan struct{}, wg *sync.WaitGroup, clk clock) {
	defer wg.Done()
	s := newStopRun(r, *r.app, hard, procstat.Take(), clk)
	defer s.end()
	done := r.done
	for !s.gone(done == nil) {
		kill, poll := s.alarms()
		select {
		case <-done:
			done = nil
		case <-poll:
		case <-kill:
			if s.kill() {
				p.sup.logf("app %s (id %d): pid %d did not stop within %v: sent SIGKILL to its process tree", r.app.Name, p.id, r.pid, s.timeout)
			}
		}
	}
	select {
	case out <- m:
	case <-loopExit:
		r.release()
		for _, w := range m.waiters {
			w <- m.err
		}
	}
}

// startRunProbes starts the probes of a run, stopped by its release.
func (ls *loopState) startRunProbes(r *run) {
	if r.app.Readiness == nil && r.app.Liveness == nil {
		return
	}
	if ls.probes == nil { // made for the first run with probes: most apps have none
		ls.probes = make(chan probeResult, 8)
	}
	out := ls.probes
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	startProbes(ctx, r, *r.app, r.env, out)
}

// noteReload records how the last reload went.
func (p *Proc) noteReload(s string) {
	p.mu.Lock()
	p.lastReload = s
	p.mu.Unlock()
}

func opName(o op, reason string) string {
	switch o {
	case opStop:
		return "stop"
	case opDelete:
		return "delete"
	case opRestart:
		if reason != "" && reason != "manual" {
			return "restart (" + reason + ")"
		}
		return "restart"
	}
	return "another command"
}

func exitText(e Exit) string {
	if e.Signal != "" {
		return "signal " + e.Signal
	}
	return fmt.Sprintf("code %d", e.Code)
}
