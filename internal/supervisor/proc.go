package supervisor

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/procstat"
)

// Proc is one supervised process (one instance of an app). Its state is
// owned by its loop goroutine; readers take a snapshot under mu.
type Proc struct {
	sup  *Supervisor
	id   int
	cmds chan command
	done chan struct{}

	mu            sync.Mutex
	app           config.App // this instance's spec
	instance      int
	status        Status
	pid           int
	restarts      int
	counters      Counters
	createdAt     time.Time
	startedAt     time.Time
	exitCode      *int
	exitSig       string
	reason        string
	logPaths      [3]string // out, err, combined after instance suffixes
	pidPath       string
	cronNext      time.Time   // next cron_restart, zero if none
	watchOff      bool        // watching was turned off (stop --watch, or a loop was detected)
	memRestarting atomic.Bool // a memory-limit restart is under way
	watching      atomic.Bool // a file watcher runs
}

type op int

const (
	opStart op = iota
	opStop
	opRestart
	opDelete
	opReset
	opUnwatch
)

type command struct {
	op     op
	app    *config.App // new spec for start/restart, or nil
	reason string      // why a restart happens: manual, crash, memory limit, watch, cron
	reply  chan error
}

// run is one execution of the process.
type run struct {
	cmd     *exec.Cmd
	pgid    int
	started time.Time
	exited  bool
	exit    Exit
	pumps   sync.WaitGroup
}

type exitMsg struct {
	r    *run
	exit Exit
}

// stopping is a stop in progress.
type stopping struct {
	members []member
	killT   *time.Timer
	pollT   *time.Ticker
	then    op // opStop, opRestart or opDelete
	reason  string
	waiters []chan error
	killed  bool
}

func newProc(s *Supervisor, id, instance int, app config.App) *Proc {
	p := &Proc{
		sup: s, id: id, instance: instance, app: app,
		cmds: make(chan command), done: make(chan struct{}),
		status: Stopped, createdAt: s.now(),
	}
	p.setPaths()
	return p
}

var logSuffix = regexp.MustCompile(`-[0-9]+\.log$|\.log$`)
var pidSuffix = regexp.MustCompile(`-[0-9]+\.pid$|\.pid$`)

// setPaths applies PM2's per-instance suffixes: "-<id>" on log files unless
// logs are merged, and always on the pid file.
func (p *Proc) setPaths() {
	a := p.app
	paths := [3]string{a.OutFile, a.ErrorFile, a.LogFile}
	if !a.MergeLogs {
		for i, v := range paths {
			if v != "" && v != logs.Null {
				paths[i] = logSuffix.ReplaceAllString(v, "-"+strconv.Itoa(p.id)+".log")
			}
		}
	}
	p.logPaths = paths
	p.pidPath = a.PidFile
	if p.pidPath == "" {
		p.pidPath = filepath.Join(p.sup.opts.Home, "pids", safeName(a.Name)+".pid")
	}
	p.pidPath = pidSuffix.ReplaceAllString(p.pidPath, "-"+strconv.Itoa(p.id)+".pid")
}

var unsafeChars = regexp.MustCompile(`[^a-zA-Z0-9.\-]`)

func safeName(n string) string { return unsafeChars.ReplaceAllString(n, "-") }

// do sends a command to the loop and waits for its reply.
func (p *Proc) do(c command) error {
	c.reply = make(chan error, 1)
	select {
	case p.cmds <- c:
	case <-p.done:
		return api.NotFoundf("process %d was deleted", p.id)
	}
	return <-c.reply
}

func (p *Proc) setStatus(to Status, reason string) {
	p.mu.Lock()
	from := p.status
	if from == to {
		p.mu.Unlock()
		return
	}
	if !canMove(from, to) {
		p.sup.logf("%v", &ErrTransition{from, to})
	}
	p.status = to
	if reason != "" {
		p.reason = reason
	}
	name := p.app.Name
	p.mu.Unlock()
	p.sup.Bus.Publish(api.Event{Type: "process", Time: p.sup.now().UnixMilli(), PMID: p.id, Name: name, Status: string(to), Reason: reason})
}

// loop owns the process: commands, exits, timers, the cron schedule and
// the file watcher.
func (p *Proc) loop() {
	defer close(p.done)
	var (
		cur      *run
		exits    = make(chan exitMsg, 1)
		restartT *time.Timer
		restartC <-chan time.Time
		st       *stopping
		cronT    *time.Timer
		cronC    <-chan time.Time
		watch    *watcher
	)
	stopWatch := func() {
		watch.close()
		watch = nil
		p.watching.Store(false)
	}
	defer func() {
		if cronT != nil {
			cronT.Stop()
		}
		stopWatch()
	}()
	cancelRestart := func() {
		if restartT != nil {
			restartT.Stop()
			restartT, restartC = nil, nil
		}
	}
	// schedule arms the cron timer for the next run of cron_restart.
	schedule := func() {
		if cronT != nil {
			cronT.Stop()
			cronT, cronC = nil, nil
		}
		next, ok := nextCron(p.app.CronRestart, p.sup.now())
		p.mu.Lock()
		p.cronNext = next
		p.mu.Unlock()
		if ok {
			cronT = time.NewTimer(next.Sub(p.sup.now()))
			cronC = cronT.C
		}
	}
	// rewatch starts or stops the watcher to match the app's options.
	rewatch := func() {
		want := p.app.WatchEnabled && !p.watchOff
		if watch != nil && (!want || !watch.same(p.app)) {
			stopWatch()
		}
		if want && watch == nil {
			w, err := newWatcher(p, p.app)
			if err != nil {
				p.sup.logf("app %s (id %d): watch: %v", p.app.Name, p.id, err)
				return
			}
			watch = w
			p.watching.Store(true)
		}
	}
	launch := func(reason string) error {
		cancelRestart()
		r, err := p.launch(exits, reason)
		if err != nil {
			return err
		}
		cur = r
		rewatch()
		return nil
	}
	relaunch := func(reason string) error {
		p.mu.Lock()
		p.restarts++
		p.mu.Unlock()
		return launch(reason)
	}
	beginStop := func(c command) {
		if st != nil {
			if c.op > st.then {
				st.then, st.reason = c.op, c.reason
			}
			st.waiters = append(st.waiters, c.reply)
			return
		}
		st = &stopping{then: c.op, reason: c.reason, waiters: []chan error{c.reply}}
		p.setStatus(Stopping, "")
		sig, err := ParseSignal(p.app.KillSignal)
		if err != nil {
			sig = syscall.SIGINT
		}
		st.members = treeOf(procstat.Take(), cur.pgid, cur.cmd.Process.Pid)
		signalTree(cur.pgid, st.members, sig)
		kt := p.app.KillTimeout
		if kt <= 0 {
			kt = 1600 * time.Millisecond
		}
		st.killT = time.NewTimer(kt)
	}
	finishStop := func() (exitLoop bool) {
		s := st
		st = nil
		s.killT.Stop()
		if s.pollT != nil {
			s.pollT.Stop()
		}
		p.afterRun(cur)
		cur = nil
		p.setStatus(Stopped, "")
		var err error
		switch s.then {
		case opRestart:
			err = relaunch(s.reason)
		case opDelete:
			exitLoop = true
		default:
			stopWatch()
		}
		for _, w := range s.waiters {
			w <- err
		}
		return exitLoop
	}
	checkStopped := func() bool {
		if st == nil || cur == nil || !cur.exited {
			return false
		}
		if anyAlive(st.members) {
			if st.pollT == nil {
				st.pollT = time.NewTicker(10 * time.Millisecond)
			}
			return false
		}
		return finishStop()
	}
	schedule()
	var pollC <-chan time.Time
	var killC <-chan time.Time
	for {
		pollC, killC = nil, nil
		if st != nil {
			killC = st.killT.C
			if st.pollT != nil {
				pollC = st.pollT.C
			}
		}
		select {
		case c := <-p.cmds:
			if c.app != nil {
				p.mu.Lock()
				p.app = *c.app
				p.setPaths()
				p.mu.Unlock()
				schedule()
			}
			if c.reason == "" && c.op == opRestart {
				c.reason = "manual"
			}
			switch c.op {
			case opReset:
				p.mu.Lock()
				p.restarts, p.counters = 0, Counters{}
				p.mu.Unlock()
				c.reply <- nil
			case opUnwatch:
				p.watchOff = true
				stopWatch()
				c.reply <- nil
			case opStart:
				p.watchOff = false
				if cur != nil || st != nil {
					c.reply <- nil
					continue
				}
				c.reply <- launch("")
			case opStop, opRestart, opDelete:
				if c.op == opRestart && c.reason == "watch" && watch != nil && watch.looping(cur) {
					p.watchOff = true
					stopWatch()
					c.reply <- nil
					continue
				}
				if cur != nil {
					beginStop(c)
					continue
				}
				cancelRestart()
				if p.status != Errored || c.op != opStop {
					p.setStatus(Stopped, "")
				}
				switch c.op {
				case opRestart:
					c.reply <- relaunch(c.reason)
				case opDelete:
					c.reply <- nil
					return
				default:
					stopWatch()
					c.reply <- nil
				}
			}
		case m := <-exits:
			if m.r != cur {
				continue
			}
			cur.exited, cur.exit = true, m.exit
			p.recordExit(m.exit)
			if st != nil {
				if checkStopped() {
					return
				}
				continue
			}
			p.onCrash(cur, m.exit)
			d := p.decide(m.exit)
			p.afterRun(cur)
			cur = nil
			if !d.Restart {
				p.setStatus(d.Status, d.Reason)
				if d.Status == Errored {
					p.sup.logf("app %s (id %d) errored: %s", p.app.Name, p.id, d.Reason)
				}
				continue
			}
			if d.Delay <= 0 {
				if err := relaunch("crash"); err != nil {
					p.sup.logf("app %s (id %d): %v", p.app.Name, p.id, err)
				}
				continue
			}
			p.setStatus(WaitingRestart, "crash")
			restartT = time.NewTimer(d.Delay)
			restartC = restartT.C
		case <-restartC:
			restartT, restartC = nil, nil
			if err := relaunch("crash"); err != nil {
				p.sup.logf("app %s (id %d): %v", p.app.Name, p.id, err)
			}
		case <-cronC:
			cronT, cronC = nil, nil
			schedule()
			// PM2 restarts at each cron time, and starts an app that is stopped.
			if st != nil {
				continue
			}
			p.sup.logf("app %s (id %d): cron_restart %q fired", p.app.Name, p.id, p.app.CronRestart)
			if cur != nil {
				beginStop(command{op: opRestart, reason: "cron", reply: make(chan error, 1)})
				continue
			}
			cancelRestart()
			if err := relaunch("cron"); err != nil {
				p.sup.logf("app %s (id %d): %v", p.app.Name, p.id, err)
			}
		case <-pollC:
			if checkStopped() {
				return
			}
		case <-killC:
			if !st.killed {
				st.killed = true
				more := treeOf(procstat.Take(), cur.pgid, cur.cmd.Process.Pid)
				st.members = mergeMembers(st.members, more)
				signalTree(cur.pgid, st.members, syscall.SIGKILL)
				p.sup.logf("app %s (id %d) did not stop within %v: sent SIGKILL to its process tree", p.app.Name, p.id, p.app.KillTimeout)
				if st.pollT == nil {
					st.pollT = time.NewTicker(10 * time.Millisecond)
				}
			}
		}
	}
}

func mergeMembers(a, b []member) []member {
	seen := map[member]bool{}
	for _, m := range a {
		seen[m] = true
	}
	for _, m := range b {
		if !seen[m] {
			a = append(a, m)
		}
	}
	return a
}

func (p *Proc) decide(e Exit) Decision {
	p.mu.Lock()
	defer p.mu.Unlock()
	a := p.app
	pol := Policy{
		Autorestart: a.Autorestart, StopExitCodes: a.StopExitCodes, MinUptime: a.MinUptime,
		MaxRestarts: a.MaxRestarts, RestartDelay: a.RestartDelay, ExpBackoff: a.ExpBackoffRestartDelay,
	}
	d := pol.OnExit(&p.counters, e)
	return d
}

func (p *Proc) recordExit(e Exit) {
	p.mu.Lock()
	code := e.Code
	p.exitCode = &code
	p.exitSig = e.Signal
	p.pid = 0
	p.mu.Unlock()
}

// onCrash cleans up after an exit nobody asked for: what the process left in
// its group is killed, so a restart does not meet its orphans.
func (p *Proc) onCrash(r *run, e Exit) {
	if r.pgid > 1 {
		_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
	}
	how := fmt.Sprintf("code %d", e.Code)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	p.sup.logf("app %s (id %d) exited with %s after %v", p.app.Name, p.id, how, e.Uptime.Round(time.Millisecond))
}

// afterRun releases a finished run's resources once its output is drained.
func (p *Proc) afterRun(r *run) {
	os.Remove(p.pidPath)
	_ = r
}

// launch starts one run of the process.
func (p *Proc) launch(exits chan exitMsg, reason string) (*run, error) {
	p.setStatus(Launching, reason)
	p.mu.Lock()
	app := p.app
	paths := p.logPaths
	pidPath := p.pidPath
	p.mu.Unlock()

	fail := func(err error) (*run, error) {
		err = fmt.Errorf("app %s (id %d): %w", app.Name, p.id, err)
		p.writeErrLog(paths, err.Error())
		p.setStatus(Errored, err.Error())
		return nil, err
	}
	path, argv, err := commandLine(app)
	if err != nil {
		return fail(err)
	}
	var files [3]*logs.File
	for i, lp := range paths {
		f, err := p.sup.files.Open(lp)
		if err != nil {
			for _, f := range files {
				f.Close()
			}
			return fail(err)
		}
		files[i] = f
	}
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		closeFiles()
		return fail(err)
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		outR.Close()
		outW.Close()
		closeFiles()
		return fail(err)
	}
	devnull, _ := os.Open(os.DevNull)
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Dir:         app.Cwd,
		Env:         p.environ(app),
		Stdin:       devnull,
		Stdout:      outW,
		Stderr:      errW,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	err = cmd.Start()
	outW.Close()
	errW.Close()
	if devnull != nil {
		devnull.Close()
	}
	if err != nil {
		outR.Close()
		errR.Close()
		closeFiles()
		return fail(err)
	}
	r := &run{cmd: cmd, pgid: cmd.Process.Pid, started: p.sup.now()}
	stamp := logs.NewStamper(app.LogDateFormat)
	for i, src := range []*os.File{outR, errR} {
		stream := [2]string{"out", "err"}[i]
		pump := &logs.Pump{Src: src, Dst: []*logs.File{files[i], files[2]}, Stamp: stamp,
			Emit: p.emitter(stream), Want: p.sup.Bus.WantLogs}
		r.pumps.Add(1)
		go func() {
			defer r.pumps.Done()
			pump.Run()
		}()
	}
	go func() {
		r.pumps.Wait()
		closeFiles()
	}()
	// The exit watcher exists from the moment the process does.
	go func() {
		st, _ := cmd.Process.Wait()
		exits <- exitMsg{r: r, exit: exitOf(st, p.sup.now().Sub(r.started))}
	}()
	if pidPath != "" {
		os.MkdirAll(filepath.Dir(pidPath), 0o755)
		os.WriteFile(pidPath, []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	}
	p.mu.Lock()
	p.pid = cmd.Process.Pid
	p.startedAt = r.started
	p.mu.Unlock()
	p.setStatus(Online, "")
	return r, nil
}

func exitOf(st *os.ProcessState, up time.Duration) Exit {
	e := Exit{Uptime: up}
	if st == nil {
		e.Code = -1
		return e
	}
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Code = 128 + int(ws.Signal())
		e.Signal = signalName(ws.Signal())
		return e
	}
	e.Code = st.ExitCode()
	return e
}

func (p *Proc) emitter(stream string) func([]byte) {
	return func(block []byte) {
		p.mu.Lock()
		name := p.app.Name
		p.mu.Unlock()
		now := p.sup.now().UnixMilli()
		for len(block) > 0 {
			line := block
			if i := bytes.IndexByte(block, '\n'); i >= 0 {
				line, block = block[:i], block[i+1:]
			} else {
				block = nil
			}
			p.sup.Bus.Publish(api.Event{Type: "log", Time: now, PMID: p.id, Name: name, Stream: stream, Data: string(line)})
		}
	}
}

// writeErrLog appends a line of tend's own to the app's error log, so a user
// reading `tend logs app --err` sees why it did not start.
func (p *Proc) writeErrLog(paths [3]string, msg string) {
	f, err := p.sup.files.Open(paths[1])
	if err != nil || f == nil {
		return
	}
	defer f.Close()
	f.Write([]byte("[tend] " + msg + "\n"))
}

// environ builds the process environment: the app's merged env plus PM2's
// per-process variables.
func (p *Proc) environ(app config.App) []string {
	env := make(map[string]string, len(app.Env)+4)
	for k, v := range app.Env {
		env[k] = v
	}
	iv := app.InstanceVar
	if iv == "" {
		iv = "NODE_APP_INSTANCE"
	}
	env[iv] = strconv.Itoa(p.instance)
	if app.IncrementVar != "" {
		base, _ := strconv.Atoi(env[app.IncrementVar])
		env[app.IncrementVar] = strconv.Itoa(base + p.instance)
	}
	env["pm_id"] = strconv.Itoa(p.id)
	env["name"] = app.Name
	env["namespace"] = app.Namespace
	env["TEND_HOME"] = p.sup.opts.Home
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// ErrNoExecutable reports a script or interpreter that cannot be run.
var ErrNoExecutable = errors.New("not found")

// commandLine returns the program and argv that run app.
func commandLine(app config.App) (string, []string, error) {
	pathEnv := app.Env["PATH"]
	if pathEnv == "" {
		pathEnv = os.Getenv("PATH")
	}
	script := app.ScriptPath
	if script == "" {
		script = app.Script
	}
	interp := app.Interpreter
	if interp == "" || interp == "none" {
		prog, err := lookPath(script, app.Cwd, pathEnv)
		if err != nil {
			return "", nil, err
		}
		return prog, append([]string{script}, app.Args...), nil
	}
	prog, err := lookPath(interp, app.Cwd, pathEnv)
	if err != nil {
		return "", nil, fmt.Errorf("interpreter %w", err)
	}
	argv := append([]string{interp}, app.InterpreterArgs...)
	argv = append(argv, script)
	return prog, append(argv, app.Args...), nil
}

// lookPath finds name the way a shell would with the app's PATH.
func lookPath(name, cwd, pathEnv string) (string, error) {
	if strings.Contains(name, "/") {
		if !filepath.IsAbs(name) {
			name = filepath.Join(cwd, name)
		}
		if fi, err := os.Stat(name); err != nil || fi.IsDir() {
			return "", fmt.Errorf("%s: %w", name, ErrNoExecutable)
		}
		return name, nil
	}
	for _, dir := range filepath.SplitList(pathEnv) {
		if dir == "" {
			dir = "."
		}
		if !filepath.IsAbs(dir) {
			dir = filepath.Join(cwd, dir)
		}
		f := filepath.Join(dir, name)
		if fi, err := os.Stat(f); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return f, nil
		}
	}
	return "", fmt.Errorf("%s: %w in PATH", name, ErrNoExecutable)
}
