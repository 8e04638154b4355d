package supervisor

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/cgroup"
	"github.com/tend-dev/tend/internal/homedir"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// Options configure a Supervisor.
type Options struct {
	// Home is TEND_HOME (pid files default to Home/pids).
	Home string
	// Logf writes to the daemon's own log; nil discards.
	Logf func(format string, args ...any)
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SampleInterval is how often CPU and memory are sampled for every app in
	// one walk of /proc and max_memory_restart is enforced; 0 means 1 s. No
	// walk happens while no running app has a memory limit.
	SampleInterval time.Duration
	// Shim is the tend binary that starts apps which receive listening
	// sockets (`tend __exec`, see package execshim); "" means the running
	// binary (/proc/self/exe).
	Shim string
	// Cgroup gives each run a cgroup of its own when it has a version
	// (package cgroup); nil or version None means /proc walks.
	Cgroup *cgroup.Manager
	// LogRotation is the rotation of every app's log files ($TEND_HOME/
	// tend.json); an app's own log_* options win (AppRotation).
	LogRotation logs.Rotation
	// HomeDir is Home, opened and checked (package homedir): everything the
	// supervisor writes inside the home goes through it, so no link planted
	// there is followed. nil: New opens Home itself.
	HomeDir *homedir.Dir
}

// Supervisor owns every process.
type Supervisor struct {
	opts Options
	Bus  Bus

	files logs.Files
	rotMu sync.Mutex // guards opts.LogRotation, which SetLogRotation changes
	// spawning bounds how many runs are being started at once (spawn):
	// each blocks a thread in system calls (new files, fork, the wait for
	// the child's exec), and the runtime keeps every thread it made — with
	// 1,000 apps started at once, up to hundreds, ~48 KiB of stacks each.
	spawning chan struct{}
	sampler  procstat.Sampler
	socks    socketTable // listening sockets tend opened, by app

	mu     sync.Mutex
	procs  map[int]*Proc
	nextID int
	wg     sync.WaitGroup
	user   string
	quit   chan struct{}
	bgwg   sync.WaitGroup

	chMu sync.Mutex
	ch   chan struct{} // closed at the next state change

	snapMu sync.Mutex
	snap   *procstat.Snapshot
	walks  atomic.Int64 // walks of /proc for stops (tests count them)

	sampleWake chan struct{}

	homeErr error // why Home could not be opened; every write inside it fails with it

	outputs sync.WaitGroup // every log pump of every run
}

// New returns an empty Supervisor.
func New(opts Options) *Supervisor {
	s := &Supervisor{opts: opts, procs: map[int]*Proc{}, quit: make(chan struct{}), sampleWake: make(chan struct{}, 1),
		spawning: make(chan struct{}, max(4, 2*runtime.GOMAXPROCS(0)))}
	if s.opts.SampleInterval <= 0 {
		s.opts.SampleInterval = time.Second
	}
	s.sampler.MinAge = min(500*time.Millisecond, s.opts.SampleInterval/2)
	s.files.Logf = opts.Logf
	s.files.SetDefaultRotation(opts.LogRotation)
	if s.opts.HomeDir == nil {
		s.opts.HomeDir, s.homeErr = homedir.Open(s.opts.Home)
	}
	s.files.OpenFile = func(path string, flag int, perm os.FileMode) (*os.File, error) {
		return s.openFile(path, flag, perm, 0o755)
	}
	if u, err := user.Current(); err == nil {
		s.user = u.Username
	}
	s.bgwg.Add(1)
	go s.sampleLoop()
	return s
}

// home is TEND_HOME, opened and checked; nil with homeErr when it failed.
func (s *Supervisor) home() (*homedir.Dir, error) { return s.opts.HomeDir, s.homeErr }

// openFile opens path: through the checked home when it is inside it (no
// link followed, no other user's folder or file), as os.OpenFile otherwise
// (a path the user named in the app's options), creating missing folders
// with dirPerm.
func (s *Supervisor) openFile(path string, flag int, perm, dirPerm os.FileMode) (*os.File, error) {
	if s.homeErr != nil {
		return nil, s.homeErr
	}
	return homedir.OpenFile(s.opts.HomeDir, path, flag, perm, dirPerm)
}

// MemoryMode names how app memory is measured, for describe.
func (s *Supervisor) MemoryMode() string { return s.opts.Cgroup.Describe() }

// sampleLoop samples every running app once per interval, in one walk, and
// restarts those whose process tree uses more than max_memory_restart.
func (s *Supervisor) sampleLoop() {
	defer s.bgwg.Done()
	t := time.NewTicker(s.opts.SampleInterval)
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		case <-s.sampleWake: // an app came online, or crossed its cgroup's threshold
		}
		if s.enforceMemory() {
			continue
		}
		// No running app has a limit: sleep until one comes online, so an
		// idle daemon does not wake at all.
		t.Stop()
		select {
		case <-s.quit:
			return
		case <-s.sampleWake:
		}
		t.Reset(s.opts.SampleInterval)
	}
}

// wakeSampler tells the sampler to look now: an app with a memory limit
// came online, or one crossed its cgroup's threshold.
func (s *Supervisor) wakeSampler() {
	select {
	case s.sampleWake <- struct{}{}:
	default:
	}
}

// enforceMemory reports whether any running app has a limit. An app in a
// cgroup is measured there (two small files); the others share one walk of
// /proc, taken only if some app needs it.
func (s *Supervisor) enforceMemory() bool {
	type lim struct {
		p     *Proc
		pid   int
		limit int64
		name  string
		paths [3]string
		cg    *cgroup.Group
	}
	var limited []lim
	var pids []int
	walk := false
	for _, p := range s.sorted() {
		p.mu.Lock()
		if p.pid > 0 && p.status == Online {
			pids = append(pids, p.pid)
			if p.app.MaxMemoryRestart > 0 {
				limited = append(limited, lim{p, p.pid, p.app.MaxMemoryRestart, p.app.Name, p.logPaths, p.cg})
				walk = walk || p.cg == nil
			}
		}
		p.mu.Unlock()
	}
	if len(limited) == 0 {
		return false
	}
	var usage map[int]procstat.Usage
	if walk {
		usage = s.sampler.Usage(pids)
	}
	for _, l := range limited {
		mem, how := int64(0), "process tree RSS"
		if l.cg != nil {
			n, err := l.cg.Memory()
			if err != nil {
				continue // the run is ending: its group is going
			}
			mem, how = n, "working set of its cgroup"
		} else if u, ok := usage[l.pid]; ok {
			mem = u.Memory
		}
		if mem <= l.limit {
			continue
		}
		if !l.p.memRestarting.CompareAndSwap(false, true) {
			continue
		}
		msg := fmt.Sprintf("memory limit: the app uses %d bytes (%s), over max_memory_restart %d: restarting", mem, how, l.limit)
		s.logf("app %s (id %d): %s", l.name, l.p.id, msg)
		l.p.writeErrLog(l.paths, msg)
		go func(p *Proc) {
			defer p.memRestarting.Store(false)
			p.do(command{op: opRestart, reason: "memory limit"})
		}(l.p)
	}
	return true
}

// Close stops the sampler. Shutdown calls it.
func (s *Supervisor) Close() {
	select {
	case <-s.quit:
	default:
		close(s.quit)
	}
	s.bgwg.Wait()
}

func (s *Supervisor) now() time.Time {
	if s.opts.Now != nil {
		return s.opts.Now()
	}
	return time.Now()
}

func (s *Supervisor) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// Files is the registry of open log files (for flush and reopen).
func (s *Supervisor) Files() *logs.Files { return &s.files }

// sorted returns the processes by pm_id.
func (s *Supervisor) sorted() []*Proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*Proc, 0, len(s.procs))
	for _, p := range s.procs {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (s *Supervisor) add(app spec.App, instance int) *Proc {
	s.mu.Lock()
	id := s.nextID
	s.nextID++
	p := newProc(s, id, instance, app)
	s.procs[id] = p
	s.mu.Unlock()
	p.save()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		p.loop()
		s.forget(p.id)
	}()
	return p
}

// Apps returns the options of every app, once per name, with Instances
// set to how many instances it has now and Autostart to whether its first
// instance runs (what `tend save` writes and `tend resurrect` starts).
func (s *Supervisor) Apps() []spec.App {
	var out []spec.App
	at := map[string]int{}
	for _, p := range s.sorted() {
		p.mu.Lock()
		a, running := *p.app, p.status != Stopped && p.status != Errored
		p.mu.Unlock()
		if i, ok := at[a.Name]; ok {
			out[i].Instances++
			continue
		}
		a.Instances, a.Autostart = 1, running
		at[a.Name] = len(out)
		out = append(out, a)
	}
	return out
}

// reasonStart marks a restart command that starts a stopped process with
// new options: it is not counted as a restart.
const reasonStart = "start"

// StartOptions change what Start does with apps that already run.
type StartOptions struct {
	// Reload replaces their instances without downtime instead of
	// restarting them (`tend reload ecosystem.config.js`).
	Reload bool
	// Parallel is how many instances of one app reload at once (default 1).
	Parallel int
	// Add starts the apps' instances next to those that run under the same
	// name, leaving them alone (`tend start app.js -f`).
	Add bool
}

// Start starts apps. An app whose name is already known is restarted with the
// new options (PM2's behaviour when an ecosystem file is started again), or
// reloaded with opts.Reload; its instance count is adjusted.
func (s *Supervisor) Start(ctx context.Context, apps []spec.App, opts ...StartOptions) ([]api.Process, error) {
	var o StartOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	if err := s.checkRotation(apps); err != nil {
		return nil, err
	}
	var reloads []reloadJob
	var touched []*Proc
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs []error
	run := func(p *Proc, c command) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := p.do(c)
			mu.Lock()
			defer mu.Unlock()
			touched = append(touched, p)
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	for _, app := range apps {
		app.Env = internEnv(app.Env)
		if app.Instances < 1 {
			app.Instances = 1
		}
		var existing []*Proc
		for _, p := range s.sorted() {
			if !o.Add && p.snapshotName() == app.Name {
				existing = append(existing, p)
			}
		}
		for i := 0; i < app.Instances; i++ {
			a := app
			if i < len(existing) {
				op, why := opRestart, ""
				existing[i].mu.Lock()
				if st := existing[i].status; st == Stopped || st == Errored {
					why = reasonStart // a start, with the new options, not a restart
				}
				existing[i].mu.Unlock()
				if !app.Autostart {
					op = opStop
				} else if o.Reload {
					reloads = append(reloads, reloadJob{existing[i], command{op: opReload, app: &a}})
					continue
				}
				run(existing[i], command{op: op, app: &a, reason: why})
				continue
			}
			p := s.add(a, i)
			if app.Autostart {
				run(p, command{op: opStart})
			} else {
				mu.Lock()
				touched = append(touched, p)
				mu.Unlock()
			}
		}
		for _, p := range existing[min(len(existing), app.Instances):] {
			run(p, command{op: opDelete})
		}
	}
	if len(reloads) > 0 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rerrs := reloadAll(reloads, o.Parallel)
			mu.Lock()
			defer mu.Unlock()
			for _, j := range reloads {
				touched = append(touched, j.p)
			}
			errs = append(errs, rerrs...)
		}()
	}
	wg.Wait()
	out := s.processes(touched)
	if len(errs) > 0 {
		return out, errors.Join(errs...)
	}
	return out, nil
}

type reloadJob struct {
	p *Proc
	c command
}

// reloadAll reloads processes: the instances of one app parallel at a time
// (default 1) in pm_id order, different apps at once. An app whose instance
// fails to reload stops there: its other instances keep running as they are.
func reloadAll(jobs []reloadJob, parallel int) []error {
	if parallel < 1 {
		parallel = 1
	}
	byApp := map[string][]reloadJob{}
	var order []string
	for _, j := range jobs {
		n := j.p.snapshotName()
		if _, ok := byApp[n]; !ok {
			order = append(order, n)
		}
		byApp[n] = append(byApp[n], j)
	}
	var mu sync.Mutex
	var errs []error
	var wg sync.WaitGroup
	for _, n := range order {
		list := byApp[n]
		sort.Slice(list, func(i, j int) bool { return list[i].p.id < list[j].p.id })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < len(list); i += parallel {
				batch := list[i:min(i+parallel, len(list))]
				var bwg sync.WaitGroup
				failed := false
				for _, j := range batch {
					bwg.Add(1)
					go func() {
						defer bwg.Done()
						if err := j.p.do(j.c); err != nil {
							mu.Lock()
							errs = append(errs, err)
							failed = true
							mu.Unlock()
						}
					}()
				}
				bwg.Wait()
				mu.Lock()
				stop := failed
				mu.Unlock()
				if stop {
					if rest := len(list) - i - len(batch); rest > 0 {
						mu.Lock()
						errs = append(errs, fmt.Errorf("%s: %d more instance%s not reloaded", n, rest, map[bool]string{true: "s"}[rest > 1]))
						mu.Unlock()
					}
					return
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

func (p *Proc) snapshotName() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.app.Name
}

// Resolve returns the processes a target names: "all", a pm_id, an app name
// or a namespace, or several of those.
func (s *Supervisor) Resolve(t api.Target) ([]*Proc, error) {
	all := s.sorted()
	seen := map[int]bool{}
	var out []*Proc
	addIf := func(f func(*Proc) bool) bool {
		found := false
		for _, p := range all {
			if f(p) {
				found = true
				if !seen[p.id] {
					seen[p.id] = true
					out = append(out, p)
				}
			}
		}
		return found
	}
	for _, raw := range t.Names {
		for _, n := range strings.Split(raw, ",") {
			n = strings.TrimSpace(n)
			if n == "" {
				continue
			}
			if n == "all" {
				addIf(func(*Proc) bool { return true })
				continue
			}
			if re, ok, err := api.TargetRegexp(n); ok {
				if err != nil {
					return nil, api.BadInputf("%v", err)
				}
				if !addIf(func(p *Proc) bool { return re.MatchString(p.snapshotName()) }) {
					return nil, api.NotFoundf("no process name matches %s", n)
				}
				continue
			}
			if id, err := strconv.Atoi(n); err == nil {
				if !addIf(func(p *Proc) bool { return p.id == id }) {
					return nil, api.NotFoundf("process %d not found", id)
				}
				continue
			}
			if addIf(func(p *Proc) bool { return p.snapshotName() == n }) {
				continue
			}
			if !addIf(func(p *Proc) bool { p.mu.Lock(); defer p.mu.Unlock(); return p.app.Namespace == n }) {
				return nil, api.NotFoundf("process or namespace %s not found", n)
			}
		}
	}
	return out, nil
}

// Act applies an action to the target's processes, all at once.
func (s *Supervisor) Act(ctx context.Context, req api.ActionRequest) ([]api.Process, error) {
	procs, err := s.Resolve(req.Target)
	if err != nil {
		return nil, err
	}
	var o op
	switch req.Action {
	case api.ActionStop:
		o = opStop
	case api.ActionRestart:
		o = opRestart
	case api.ActionStart:
		o = opStart // a process that runs is restarted instead (below)
	case api.ActionReload:
		o = opReload
	case api.ActionDelete:
		o = opDelete
	case api.ActionReset:
		o = opReset
	case api.ActionUnwatch:
		o = opUnwatch
	case api.ActionSignal:
		return s.signal(procs, req.Signal)
	case api.ActionStdin:
		return s.SendLine(procs, req.Line)
	case api.ActionFlush:
		for _, p := range procs {
			p.mu.Lock()
			paths := p.logPaths
			p.mu.Unlock()
			for _, lp := range paths {
				if err := s.files.Truncate(lp); err != nil {
					return nil, err
				}
			}
		}
		return s.processes(procs), nil
	default:
		return nil, api.BadInputf("unknown action %q", req.Action)
	}
	if o == opReload {
		var jobs []reloadJob
		for _, p := range procs {
			c := command{op: opReload}
			if req.UpdateEnv {
				p.mu.Lock()
				a := *p.app // a copy: the shared spec is never changed in place
				p.mu.Unlock()
				a.Env = mergeEnv(req.Env, a)
				c.app = &a
			}
			jobs = append(jobs, reloadJob{p, c})
		}
		errs := reloadAll(jobs, req.Parallel)
		return s.processes(procs), errors.Join(errs...)
	}
	// Stop and delete go in reverse dependency order: dependents first, each
	// layer at once. Other actions run on every process at once.
	groups := [][]*Proc{procs}
	if o == opStop || o == opDelete {
		groups = layers(procs)
	}
	var errs []error
	var emu sync.Mutex
	for _, group := range groups {
		var snap *procstat.Snapshot
		if o == opStop || o == opDelete || o == opRestart {
			snap = s.stopSnapshot(group)
		}
		var wg sync.WaitGroup
		for _, p := range group {
			c := command{op: o, snap: snap}
			p.mu.Lock()
			if o == opStart && p.status != Stopped && p.status != Errored {
				c.op = opRestart
			}
			if o == opStop || (o == opStart && !slices.Contains(req.Target.Names, "all")) {
				p.watchSaid = true // PM2 writes watch: false then (not for start all, restart or reload)
			}
			p.mu.Unlock()
			if req.UpdateEnv && o == opRestart {
				p.mu.Lock()
				a := *p.app // a copy: the shared spec is never changed in place
				p.mu.Unlock()
				a.Env = mergeEnv(req.Env, a)
				c.app = &a
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := p.do(c); err != nil {
					emu.Lock()
					errs = append(errs, err)
					emu.Unlock()
				}
			}()
		}
		wg.Wait()
	}
	var kept []*Proc
	if o != opDelete {
		kept = procs
	}
	out := s.processes(kept)
	if o == opDelete {
		out = s.describe(procs, nil)
		for i := range out {
			out[i].PM2Env.Status = "deleted"
		}
	}
	for _, err := range errs {
		if err != nil {
			return out, err
		}
	}
	return out, nil
}

// signal sends sig to the main pid of each process (PM2's sendSignal: not
// to its process group or tree).
func (s *Supervisor) signal(procs []*Proc, sig string) ([]api.Process, error) {
	num, err := ParseSignal(sig)
	if err != nil || sig == "" {
		return nil, api.BadInputf("sendSignal: unknown signal %q (give a name such as SIGUSR2 or a number)", sig)
	}
	for _, p := range procs {
		p.mu.Lock()
		pid, name, status := p.pid, p.app.Name, p.status
		p.mu.Unlock()
		if pid <= 0 {
			return nil, api.BadInputf("%s (id %d) is %s: there is no process to send %s to", name, p.id, status, signalName(num))
		}
		if err := syscall.Kill(pid, num); err != nil {
			return nil, fmt.Errorf("send %s to %s (id %d, pid %d): %w", signalName(num), name, p.id, pid, err)
		}
	}
	return s.processes(procs), nil
}

// mergeEnv refreshes an app's environment with a new CLI environment
// (restart <app> --update-env): as in PM2, the shell's value wins over the
// one the app's file set for the same variable; the others stay.
func mergeEnv(cli map[string]string, a spec.App) map[string]string {
	out := make(map[string]string, len(cli)+len(a.Env))
	for k, v := range a.Env {
		out[k] = v
	}
	for k, v := range cli {
		out[k] = v
	}
	return out
}

// List returns every process in pm_id order.
func (s *Supervisor) List() []api.Process { return s.processes(s.sorted()) }

func (s *Supervisor) processes(ps []*Proc) []api.Process {
	sort.Slice(ps, func(i, j int) bool { return ps[i].id < ps[j].id })
	pids := make([]int, 0, len(ps))
	for _, p := range ps {
		p.mu.Lock()
		if p.pid > 0 {
			pids = append(pids, p.pid)
		}
		p.mu.Unlock()
	}
	var usage map[int]procstat.Usage
	if len(pids) > 0 {
		usage = s.sampler.Usage(pids)
	}
	return s.describe(ps, usage)
}

func (s *Supervisor) describe(ps []*Proc, usage map[int]procstat.Usage) []api.Process {
	out := make([]api.Process, 0, len(ps))
	for _, p := range ps {
		out = append(out, p.info(usage, s.user))
	}
	return out
}

func (p *Proc) info(usage map[int]procstat.Usage, username string) api.Process {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.app
	u := usage[p.pid]
	e := api.Env{
		Name: a.Name, Namespace: a.Namespace, PMID: p.id, Status: string(p.status),
		RestartTime: p.restarts, UnstableRestarts: p.counters.Unstable,
		CreatedAt: p.createdAt.UnixMilli(), ExecMode: a.ExecMode, Instances: a.Instances,
		PMExecPath: a.ScriptPath, PMCwd: a.Cwd,
		PMOutLogPath: p.logPaths[0], PMErrLogPath: p.logPaths[1], PMLogPath: p.logPaths[2],
		PMPidPath: p.pidPath, ExitCode: p.exitCode, Autorestart: a.Autorestart,
		Interpreter: a.Interpreter, InterpreterArgs: a.InterpreterArgs,
		Args: a.Args, Env: a.Env, MaxMemoryRestart: a.MaxMemoryRestart, InstanceIndex: p.instance,
		Username: username, ExitSignal: p.exitSig, RestartReason: p.reason, ConfigFile: a.ConfigFile,
		MemoryMode: p.sup.MemoryMode(), Watching: p.watching.Load(),
		Health: p.health, HealthCheck: p.healthMsg, WaitingFor: p.waitingFor, LastReload: p.lastReload,
		KillSignal: a.KillSignal, KillTimeout: a.KillTimeout.Milliseconds(), MinUptime: a.MinUptime.Milliseconds(),
		MaxRestarts: a.MaxRestarts, RestartDelay: a.RestartDelay.Milliseconds(),
		Version: p.version, NodeVersion: p.nodeVersion, UniqueID: p.uniqueID, InstanceVar: a.InstanceVar,
		AxmDynamic: map[string]any{},
		Options:    a.PM2, Cache: &p.envCache,
	}
	e.AxmMonitor, e.AxmActions, e.AxmOptions = p.axm.copy()
	switch opt, given := a.PM2["watch"]; {
	case p.status == Stopped || (p.watchSaid && !given && !a.WatchEnabled):
		e.Watch = &api.Watch{} // PM2: false once stopped (tend start watches again)
	case given || a.WatchEnabled:
		e.Watch = &api.Watch{On: a.WatchEnabled}
		if _, list := opt.([]any); list && a.WatchEnabled {
			e.Watch.Paths = a.Watch
		}
	}
	if e.ExecMode == "" {
		e.ExecMode = "fork_mode"
	}
	if e.Interpreter == "" {
		e.Interpreter = "none"
	}
	if e.InterpreterArgs == nil {
		e.InterpreterArgs = []string{}
	}
	if !p.startedAt.IsZero() {
		e.PMUptime = p.startedAt.UnixMilli()
	}
	if !p.cronNext.IsZero() {
		e.CronNext = p.cronNext.UnixMilli()
	}
	if n, why, at := p.logDrops.get(); n > 0 {
		e.LogLinesDropped, e.LogDropError, e.LogDropAt = n, why, at.UnixMilli()
	}
	if p.cg != nil {
		if n, err := p.cg.MemoryRecent(10 * time.Second); err == nil {
			u.Memory = n
		}
	}
	return api.Process{PID: p.pid, Name: a.Name, PMID: p.id, Monit: api.Monit{Memory: u.Memory, CPU: round1(u.CPUPercent), CPUSeconds: float64(u.CPUTicks) / procstat.ClockTicks}, PM2Env: e}
}

func round1(f float64) float64 { return float64(int64(f*10+0.5)) / 10 }

// Env returns the environment process id runs with.
func (s *Supervisor) Env(id int) (map[string]string, error) {
	s.mu.Lock()
	p := s.procs[id]
	s.mu.Unlock()
	if p == nil {
		return nil, api.NotFoundf("process %d not found", id)
	}
	p.mu.Lock()
	app := p.app
	kvs := p.runEnv
	if p.pid == 0 {
		kvs = nil
	}
	p.mu.Unlock()
	if kvs == nil {
		kvs = p.environ(*app) // what the next start gets
	}
	env := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	return env, nil
}

// Shutdown stops every process (in parallel) and waits for their loops.
func (s *Supervisor) Shutdown(ctx context.Context) {
	s.Close()
	for _, group := range layers(s.sorted()) {
		snap := s.stopSnapshot(group)
		var wg sync.WaitGroup
		for _, p := range group {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.do(command{op: opDelete, snap: snap})
			}()
		}
		wg.Wait()
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	// The apps' last lines: their pipes end once every process of theirs has
	// exited (a stop kills the whole tree), so this wait is short.
	out := make(chan struct{})
	go func() { s.outputs.Wait(); close(out) }()
	select {
	case <-out:
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	s.socks.closeAll()
	os.Remove(s.stateDir()) // empty now: every process was deleted
}

// Scale sets the number of instances of the app called name. count is "N",
// "+N" or "-N". New instances copy the options of the app's first instance
// and take the lowest free instance numbers; removal stops the highest
// pm_ids first. The other instances keep running untouched.
func (s *Supervisor) Scale(ctx context.Context, name, count string) ([]api.Process, error) {
	var mine []*Proc
	for _, p := range s.sorted() {
		if p.snapshotName() == name {
			mine = append(mine, p)
		}
	}
	if len(mine) == 0 {
		return nil, api.NotFoundf("app %s not found", name)
	}
	want, err := ScaleTarget(name, len(mine), count)
	if err != nil {
		return nil, err
	}
	var wg sync.WaitGroup
	errs := make(chan error, max(want, len(mine)))
	for i := len(mine) - 1; i >= want; i-- { // highest pm_ids first
		wg.Add(1)
		go func(p *Proc) {
			defer wg.Done()
			errs <- p.do(command{op: opDelete})
		}(mine[i])
	}
	if want > len(mine) {
		mine[0].mu.Lock()
		tmpl := *mine[0].app
		mine[0].mu.Unlock()
		used := map[int]bool{}
		for _, p := range mine {
			used[p.instance] = true
		}
		next := 0
		for i := len(mine); i < want; i++ {
			for used[next] {
				next++
			}
			used[next] = true
			a := tmpl
			a.Instances = want
			p := s.add(a, next)
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- p.do(command{op: opStart})
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return nil, err
		}
	}
	var out []*Proc
	for _, p := range s.sorted() {
		if p.snapshotName() == name {
			out = append(out, p)
		}
	}
	return s.processes(out), nil
}

// ScaleTarget is the number of instances "N", "+N" or "-N" asks of an app
// that has have.
func ScaleTarget(name string, have int, count string) (int, error) {
	n, err := strconv.Atoi(strings.TrimPrefix(count, "+"))
	if err != nil {
		return 0, api.BadInputf("scale %s: %q is not a number (use 3, +2 or -1)", name, count)
	}
	want := n
	if strings.HasPrefix(count, "+") || strings.HasPrefix(count, "-") {
		want = have + n
	}
	if want < 1 {
		return 0, api.BadInputf("scale %s to %d: an app keeps at least one instance (use tend delete %s)", name, want, name)
	}
	return want, nil
}

// Counts returns how many processes each app has.
func (s *Supervisor) Counts() map[string]int {
	out := map[string]int{}
	for _, p := range s.sorted() {
		out[p.snapshotName()]++
	}
	return out
}

// startByName starts the stopped processes of an app (a dependency that a
// waiting app needs).
func (s *Supervisor) startByName(name string) {
	for _, p := range s.sorted() {
		p.mu.Lock()
		match := p.app.Name == name && p.status == Stopped
		p.mu.Unlock()
		if match {
			p.do(command{op: opStart})
		}
	}
}

// forget removes a deleted process from the table. When it was the last
// instance of its app, the app's listening sockets are closed.
func (s *Supervisor) forget(id int) {
	s.mu.Lock()
	p := s.procs[id]
	delete(s.procs, id)
	if p != nil && len(s.procs) == 0 {
		s.nextID = 0 // PM2: once the list is empty, ids start again at 0
	}
	last := p != nil
	if p != nil {
		name := p.snapshotName()
		for _, q := range s.procs {
			if q.snapshotName() == name {
				last = false
				break
			}
		}
		if last {
			s.socks.release(name)
		}
	}
	s.mu.Unlock()
	if p != nil && !p.detached.Load() {
		os.Remove(p.pidPath) // emptied at each stop, removed with the process
		p.unsave()
	}
}

// recentSnapshot returns a walk of /proc at most 20 ms old. Apps that stop
// together (stop all, kill) share one walk instead of one each; the SIGKILL
// phase still walks afresh.
func (s *Supervisor) recentSnapshot() *procstat.Snapshot {
	s.snapMu.Lock()
	defer s.snapMu.Unlock()
	if s.snap == nil || time.Since(s.snap.At) > 20*time.Millisecond {
		s.snap = s.walk()
	}
	return s.snap
}

// walk takes a snapshot of /proc for a stop.
func (s *Supervisor) walk() *procstat.Snapshot {
	s.walks.Add(1)
	return procstat.Take()
}

// stopSnapshot is the walk of /proc that the stops of group share when they
// are sent together (stop all, delete all, kill): taken once before the
// commands go out, so a thousand loops do not each walk again when their
// turn comes more than recentSnapshot's 20 ms after the first. nil for one
// process (its loop takes its own) or when none of them runs.
func (s *Supervisor) stopSnapshot(group []*Proc) *procstat.Snapshot {
	running := 0
	for _, p := range group {
		p.mu.Lock()
		if p.pid > 0 {
			running++
		}
		p.mu.Unlock()
	}
	if running < 2 {
		return nil
	}
	return s.walk()
}
