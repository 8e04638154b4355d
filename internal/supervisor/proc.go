package supervisor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	intern "unique"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/cgroup"
	"github.com/tend-dev/tend/internal/execshim"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
)

// Proc is one supervised process (one instance of an app). Its state is
// owned by its loop goroutine; readers take a snapshot under mu.
type Proc struct {
	sup  *Supervisor
	id   int
	cmds chan command
	done chan struct{}

	mu            sync.Mutex
	saveMu        sync.Mutex   // orders writes of the state record
	stopThen      op           // while stopping: what follows (stop, restart, delete), for the record
	stopReason    string       // and why, for a restart
	detached      atomic.Bool  // Detach: the process outlives this daemon; its record is the next one's
	saveSeq       uint64       // sequence number of the last record written
	saveLen       int          // length of the record in <pm_id>.b (a record too long for its slot)
	appJSON       []byte       // app as JSON, for the record; nil after a change of options
	app           *spec.App    // this instance's spec, shared with its runs; replaced whole, never changed in place
	envCache      api.EnvCache // the JSON of app's variables and options, for lists
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
	cronNext      time.Time // next cron_restart, zero if none
	watchOff      bool      // watching was turned off (stop --watch, or a loop was detected)
	ready         bool      // readiness: the probe passes, or online without a probe
	health        string    // HealthStarting, HealthHealthy, HealthUnhealthy; "" without probes
	healthMsg     string    // the last failed probe
	waitingFor    string
	lastReload    string        // how the last reload went, for describe and the CLI
	runEnv        []string      // the environment the serving run started with
	spare         *cgroup.Spare // the next start's cgroup, made ready; owned by the loop
	resume        *savedRun     // set by Restore: a run of an earlier daemon to watch again
	resumeStart   string        // set by Restore: start at once, with this reason
	pidStart      uint64        // the serving run's start time (clock ticks since boot)
	pipes         [2]uint64     // the serving run's stdout and stderr pipes
	marker        string        // the serving run's TEND_RUN
	cg            *cgroup.Group // the serving run's cgroup, nil without
	memRestarting atomic.Bool   // a memory-limit restart is under way
	watching      atomic.Bool   // a file watcher runs
	axm           axmState      // what @pm2/io reported (axm.go)
	runSeq        atomic.Int64
	version       string   // the app's package.json version, read at each start (PM2's pm2_env.version)
	nodeVersion   string   // the version of node that runs the app ("" when it is not run by node)
	uniqueID      string   // PM2's unique_id: a UUID made when the process is added, kept for its life
	watchSaid     bool     // a stop, restart, reload or start by target was asked: PM2 then writes watch: false
	logDrops      logDrops // lines its log files could not take
}

// logDrops counts the lines of a process that did not reach its log files
// (logs.File drops them when a write fails, e.g. on a full disk), for
// describe, ls, jlist and tend_log_lines_dropped_total.
type logDrops struct {
	mu    sync.Mutex
	lines int64
	err   string    // the last failure
	at    time.Time // its time
}

func (d *logDrops) add(lines int64, err error, at time.Time) {
	d.mu.Lock()
	d.lines += lines
	d.err, d.at = err.Error(), at
	d.mu.Unlock()
}

func (d *logDrops) get() (int64, string, time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.lines, d.err, d.at
}

type op int

const (
	opStart op = iota
	opStop
	opRestart
	opDelete
	opReset
	opUnwatch
	opReload
	opDetach // leave the process running for the next daemon
	opSend   // write a message to the serving run's IPC channel
)

type command struct {
	op     op
	app    *spec.App // new spec for start/restart, or nil
	reason string    // why a restart happens: manual, crash, memory limit, watch, cron
	data   []byte    // opSend: one JSON message
	reply  chan error
	// snap, for a stop sent to many processes at once, is the walk of
	// /proc they share (Supervisor.stopSnapshot); nil: the loop walks.
	snap *procstat.Snapshot
}

// run is one execution of the process. During a reload two runs of one
// process exist: the loop's cur, which serves, and the new one.
type run struct {
	cancel  context.CancelFunc // stops its probes
	app     *spec.App          // the spec it runs with (its Proc's when it started; never changed in place)
	pid     int
	pgid    int
	started time.Time
	exited  bool
	exit    Exit
	pumps   sync.WaitGroup
	done    chan struct{} // closed when the process has exited

	ipc        *os.File      // the daemon's end of the Node IPC channel
	notify     *net.UnixConn // its NOTIFY_SOCKET
	notifyPath string
	unwatch    []func()        // stop waiting for ipc and notify to be readable
	inodes     map[uint64]bool // the listening sockets tend passed it

	cg        *cgroup.Group // its own cgroup, nil without
	env       []string      // the environment it started with
	pipes     [2]uint64     // inode numbers of its stdout and stderr pipes
	marker    string        // its TEND_RUN (runMarker)
	adopted   bool          // started by an earlier daemon: not tend's child
	srcs      [2]*os.File   // the daemon's ends of its output pipes
	stopPumps [2]func()     // end the pumps of srcs (detach)
	memNotify func()        // ends the cgroup's memory threshold
	logf      func(format string, args ...any)
}

type exitMsg struct {
	r    *run
	exit Exit
}

func newProc(s *Supervisor, id, instance int, app spec.App) *Proc {
	p := &Proc{
		sup: s, id: id, instance: instance, app: &app,
		cmds: make(chan command), done: make(chan struct{}),
		status: Stopped, createdAt: s.now(), uniqueID: newUUID(),
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
	p.appJSON = nil // the options changed
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
	select {
	case err := <-c.reply:
		return err
	case <-p.done: // the loop ended (deleted, or detached) without an answer
		select {
		case err := <-c.reply:
			return err
		default:
			return api.NotFoundf("process %d is gone", p.id)
		}
	}
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
	if to != Online {
		p.ready = false
		p.health = HealthNone
	} else if p.app.MaxMemoryRestart > 0 {
		p.sup.wakeSampler()
	}
	name := p.app.Name
	p.mu.Unlock()
	if to != Launching { // nothing to find again yet: the record with the pid follows
		p.save() // before anyone hears of it: a daemon killed now leaves it recorded
	}
	p.sup.notify()
	p.sup.Bus.Publish(api.Event{Type: "process", Time: p.sup.now().UnixMilli(), PMID: p.id, Name: name, Status: string(to), Reason: reason})
}

// setHealth records a health change and tells whoever waits on it.
func (p *Proc) setHealth(ready bool, health, msg string) {
	p.mu.Lock()
	changed := p.ready != ready || p.health != health
	p.ready, p.health = ready, health
	if msg != "" || ready {
		p.healthMsg = msg
	}
	name := p.app.Name
	p.mu.Unlock()
	if changed {
		p.sup.notify()
		p.sup.Bus.Publish(api.Event{Type: "health", Time: p.sup.now().UnixMilli(), PMID: p.id, Name: name, Status: health, Reason: msg})
	}
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
	p.cg = nil
	p.clearAxm()
	p.mu.Unlock()
}

// onCrash cleans up after an exit nobody asked for: what the process left in
// its group is killed, so a restart does not meet its orphans.
func (p *Proc) onCrash(r *run, e Exit) {
	if r.pgid > 1 {
		_ = syscall.Kill(-r.pgid, syscall.SIGKILL)
	}
	if r.cg != nil {
		r.cg.Kill() // also what left the group, even reparented away
	}
	how := fmt.Sprintf("code %d", e.Code)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	p.sup.logf("app %s (id %d) exited with %s after %v", p.app.Name, p.id, how, e.Uptime.Round(time.Millisecond))
}

// afterRun releases the resources of the run that served, and its pid file.
func (p *Proc) afterRun(r *run) {
	// Emptied, not removed: recreating a file at every start costs more than
	// the start itself on a busy ext4 (an inode per start).
	if f, err := p.sup.openFile(p.pidPath, os.O_WRONLY|os.O_TRUNC, 0, 0o755); err == nil {
		f.Close()
	}
	r.release()
}

// adopt makes r the run that serves: its pid shows in the list and the pid
// file.
func (p *Proc) adopt(r *run) {
	p.mu.Lock()
	p.pid = r.pid
	p.startedAt = r.started
	p.version = packageVersion(*p.app)
	p.nodeVersion = nodeVersion(*p.app)
	p.runEnv = r.env
	p.cg = r.cg
	p.pipes = r.pipes
	p.marker = r.marker
	p.pidStart = 0
	if pr, ok := procstat.ReadProc(r.pid); ok {
		p.pidStart = pr.StartTime
	}
	pidPath := p.pidPath
	p.mu.Unlock()
	if pidPath != "" {
		p.writePidFile(pidPath, r.pid)
	}
}

// writePidFile rewrites the pid file in place.
func (p *Proc) writePidFile(path string, pid int) {
	f, err := p.sup.openFile(path, os.O_WRONLY|os.O_CREATE, 0o644, 0o755)
	if err != nil {
		p.sup.logf("app %s (id %d): pid file: %v", p.app.Name, p.id, err)
		return
	}
	b := strconv.AppendInt(nil, int64(pid), 10)
	f.WriteAt(b, 0)
	f.Truncate(int64(len(b)))
	f.Close()
}

// Variables tend sets for the readiness and socket protocols; values that
// come from the environment tend itself was started in are dropped.
var protocolEnv = []string{"LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "TEND_LISTEN_ADDRS", "TEND_LISTEN_EXPLICIT", "TEND_CLUSTER",
	"NOTIFY_SOCKET", "NODE_CHANNEL_FD", "NODE_CHANNEL_SERIALIZATION_MODE", "NODE_UNIQUE_ID", runMarker}

// spawn starts one run of app: log pipes, the app's listening sockets (fds
// 3…, LISTEN_FDS), the Node IPC channel (the next fd, NODE_CHANNEL_FD) and a
// NOTIFY_SOCKET. It changes nothing in p's state: the caller decides whether
// the run serves now (launch) or after it is ready (reload).
func (p *Proc) spawn(shared *spec.App, paths [3]string, exits chan<- exitMsg, sigs chan<- runSignal) (*run, error) {
	app := *shared // the run keeps shared, not a copy of its own
	p.sup.spawning <- struct{}{}
	defer func() { <-p.sup.spawning }()
	path, argv, err := commandLine(app)
	if err != nil {
		return nil, err
	}
	var socks []*listenSocket
	// A Node app in cluster mode shares every socket it listens on between
	// its instances, as Node's cluster does: the preload asks tend for the
	// address the app names (IPC), and later instances get it at start.
	cluster := clusterShares(app)
	addrs := app.Listen
	if app.ListenFromPort {
		addrs = nil // PM2's port: the preload asks for the host the app names
	}
	explicit := len(addrs) // forApp lists these first, then the learned ones
	if len(addrs) > 0 || cluster {
		if socks, err = p.sup.socks.forApp(app.Name, addrs); err != nil {
			return nil, err
		}
	}
	if len(socks) > 0 || cluster {
		if spec.IsNode(app.Interpreter) {
			pre, err := p.sup.preloadPath()
			if err != nil {
				return nil, fmt.Errorf("node preload: %w", err)
			}
			argv = append([]string{argv[0], "--require", pre}, argv[1:]...)
		}
	}
	files, err := p.sup.openLogs(app, paths)
	if err != nil {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	var closers []func()
	cleanup := func() {
		for _, c := range closers {
			c()
		}
	}
	closers = append(closers, func() {
		for _, f := range files {
			f.Close()
		}
	})
	outR, outW, outIno, err := outputPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, func() { outR.Close(); outW.Close() })
	errR, errW, errIno, err := outputPipe()
	if err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, func() { errR.Close(); errW.Close() })
	ipc, ipcChild, err := openIPC()
	if err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, func() { ipc.Close(); ipcChild.Close() })
	seq := p.runSeq.Add(1)
	notify, notifyPath, err := p.openNotify(seq)
	if err != nil {
		cleanup()
		return nil, err
	}
	closers = append(closers, func() { closeNotify(notify, notifyPath) })

	env := p.environ(app)
	kept := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(protocolEnv, k) {
			kept = append(kept, kv)
		}
	}
	env = kept
	if cluster {
		env = append(env, "TEND_CLUSTER=1")
	}
	var extra []*os.File
	var inodes map[uint64]bool // nil without sockets: an idle app keeps no empty map
	if len(socks) > 0 {
		inodes = make(map[uint64]bool, len(socks))
		names := make([]string, len(socks))
		addrs := make([]string, len(socks))
		for i, s := range socks {
			extra = append(extra, s.f)
			inodes[s.inode] = true
			names[i] = fdName(s)
			addrs[i] = s.addr
		}
		env = append(env, "LISTEN_FDS="+strconv.Itoa(len(socks)), "LISTEN_FDNAMES="+strings.Join(names, ":"),
			"TEND_LISTEN_ADDRS="+strings.Join(addrs, " "), "TEND_LISTEN_EXPLICIT="+strconv.Itoa(explicit))
	}
	extra = append(extra, ipcChild)
	// The run is marked before it exists: a daemon killed before its record
	// is written leaves a process the next one finds (killStrays).
	marker := newMarker(p.id)
	env = append(env, "NODE_CHANNEL_FD="+strconv.Itoa(2+len(extra)), "NODE_CHANNEL_SERIALIZATION_MODE=json",
		"NOTIFY_SOCKET="+notifyPath, runMarker+"="+marker)
	env = slices.Clone(env) // kept for the run's life (r.env): no spare capacity

	stdin := stdinPipe()
	cmd := &exec.Cmd{
		Path:        path,
		Args:        argv,
		Dir:         app.Cwd,
		Env:         env,
		Stdin:       stdin,
		Stdout:      outW,
		Stderr:      errW,
		ExtraFiles:  extra,
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true},
	}
	if cred, err := credential(app); err != nil {
		cleanup()
		return nil, err
	} else if cred != nil {
		cmd.SysProcAttr.Credential = cred
	}
	if len(socks) > 0 {
		// LISTEN_PID must be the app's own pid: start it through the shim,
		// which sets it and execs the app in the same process.
		shim := p.sup.opts.Shim
		if shim == "" {
			shim = selfExe()
		}
		cmd.Path = shim
		cmd.Args = append([]string{"tend", execshim.Arg, path}, argv...)
	}
	cg, err := p.startIn(cmd, app)
	outW.Close()
	errW.Close()
	ipcChild.Close()
	if stdin != nil {
		stdin.Close()
	}
	if err != nil {
		cleanup()
		return nil, startError(app, path, err)
	}
	r := &run{app: shared, pid: cmd.Process.Pid, pgid: cmd.Process.Pid, started: p.sup.now(),
		done: make(chan struct{}), ipc: ipc, notify: notify, notifyPath: notifyPath, inodes: inodes, cg: cg, logf: p.sup.logf,
		env: cmd.Env, pipes: [2]uint64{outIno, errIno}, marker: marker, srcs: [2]*os.File{outR, errR}}
	// The exit watcher exists from the moment the process does. It waits on
	// a pidfd in the netpoller and reaps only once the process has exited,
	// so no thread per app sits blocked in wait (the pid cannot be reused
	// before the reap); where there is no pidfd, Wait blocks a thread.
	pidfd, _ := openPidfd(r.pid)
	proc := cmd.Process // not cmd: the run keeps no exec.Cmd (~0.6 KB with its attributes)
	p.attach(r, files, exits, pidfd, func() (Exit, bool) {
		st, _ := proc.Wait()
		return exitOf(st, p.sup.now().Sub(r.started)), true
	})
	x := &ipcReader{p: p, r: r, f: ipc, sigs: sigs}
	r.unwatch = []func(){
		onReadable(ipc, x.read),
		onReadable(notify, func() bool { return p.readNotify(r, notify, sigs) }),
	}
	return r, nil
}

// attach wires a run whose process runs, for spawn and for a run of an
// earlier daemon (reattach): its output streams (r.srcs) into its log files,
// the kernel's notice that its cgroup crossed max_memory_restart, and the
// watcher of its exit. wait returns when the process has exited, with how,
// or false when the loop ended first; the exit then goes to exits. With a
// pidfd, wait is called once the pidfd is readable (the process has
// exited), and no goroutine waits meanwhile; without, a goroutine waits in
// wait.
func (p *Proc) attach(r *run, files [3]*logs.File, exits chan<- exitMsg, pidfd *os.File, wait func() (Exit, bool)) {
	p.startPumps(r, r.srcs, files)
	if r.cg != nil && r.app.MaxMemoryRestart > 0 {
		// Where the kernel tells when the group crosses the limit, the
		// sampler looks at once instead of at its next tick.
		r.memNotify, _ = r.cg.Notify(r.app.MaxMemoryRestart, p.sup.wakeSampler)
	}
	exited := func() {
		e, ok := wait()
		if !ok {
			return
		}
		close(r.done)
		select {
		case exits <- exitMsg{r: r, exit: e}:
		case <-p.done:
		}
	}
	if pidfd != nil {
		onExit(pidfd, exited)
	} else {
		go exited()
	}
}

// startIn starts cmd, in a cgroup of its own where the daemon has them. An
// app that has restarted before gets a spare group for its next start
// (cgroup.Spare), so a crash loop does not wait for the kernel at each
// restart.
func (p *Proc) startIn(cmd *exec.Cmd, app spec.App) (*cgroup.Group, error) {
	m := p.sup.opts.Cgroup
	if m.Version() == cgroup.None {
		return nil, cmd.Start()
	}
	name := safeName(app.Name) + "-" + strconv.Itoa(p.id)
	var g *cgroup.Group
	err := cgroup.ErrUnavailable
	if s := p.spare; s != nil {
		p.spare = nil
		g, err = s.Start(cmd)
	}
	if errors.Is(err, cgroup.ErrUnavailable) { // no spare, or cmd did not start in it
		if g, err = m.New(name); err == nil {
			if err = g.Start(cmd); err != nil {
				g.Remove()
				g = nil
			}
		}
	}
	if errors.Is(err, cgroup.ErrUnavailable) { // cmd was not started
		p.sup.logf("app %s (id %d): %v: started without a cgroup", app.Name, p.id, err)
		return nil, cmd.Start()
	}
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	restarted := p.restarts > 0
	p.mu.Unlock()
	if restarted {
		p.spare = m.Prepare(name)
	}
	return g, nil
}

// detach leaves the run's process to the next daemon: the pumps stop
// reading (what is in the pipes waits there) and write what they hold; the
// cgroup and the pid stay.
func (r *run) detach() {
	for _, stop := range r.stopPumps {
		if stop != nil {
			stop()
		}
	}
	r.pumps.Wait()
	if r.memNotify != nil {
		r.memNotify()
	}
}

// startPumps copies the run's output streams (nil entries are skipped) into
// its log files, and closes the files once both streams have ended.
func (p *Proc) startPumps(r *run, srcs [2]*os.File, files [3]*logs.File) {
	stamp := logs.NewStamper(r.app.LogDateFormat)
	// The last pump to end closes the files (no goroutine per run waits
	// for them). running starts at 1 so that a pump that ends before the
	// next one has started cannot close them early.
	var running atomic.Int32
	running.Add(1)
	closeFiles := func() {
		for _, f := range files {
			f.Close()
		}
	}
	defer func() {
		if running.Add(-1) == 0 {
			closeFiles()
		}
	}()
	for i, src := range srcs {
		if src == nil {
			continue
		}
		stream := [2]string{"out", "err"}[i]
		pump := &logs.Pump{Src: src, Dst: []*logs.File{files[i], files[2]}, Stamp: stamp,
			Emit: p.emitter(stream), Want: p.sup.Bus.WantLogs,
			Dropped: func(n int64, err error) { p.logDrops.add(n, err, p.sup.now()) }}
		r.pumps.Add(1)
		p.sup.outputs.Add(1)
		running.Add(1)
		r.stopPumps[i] = pump.Start(func(error) {
			if running.Add(-1) == 0 {
				closeFiles()
			}
			r.pumps.Done()
			p.sup.outputs.Done()
		})
	}
}

// credential is who app runs as (PM2's uid/gid/user): the user's id, group
// and supplementary groups; nil to run as the daemon does.
func credential(app spec.App) (*syscall.Credential, error) {
	if app.UID == nil {
		return nil, nil
	}
	uid, gid := *app.UID, os.Getgid()
	if app.GID != nil {
		gid = *app.GID
	}
	if os.Geteuid() != 0 {
		if uid == os.Geteuid() && gid == os.Getegid() {
			return nil, nil
		}
		return nil, fmt.Errorf("uid %d / gid %d: only a daemon running as root can start an app as another user (the daemon runs as uid %d)", uid, gid, os.Geteuid())
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if u, err := user.LookupId(strconv.Itoa(uid)); err == nil {
		if ids, err := u.GroupIds(); err == nil {
			for _, id := range ids {
				if g, err := strconv.Atoi(id); err == nil && g != gid {
					cred.Groups = append(cred.Groups, uint32(g))
				}
			}
		}
	}
	return cred, nil
}

// fdName names a passed socket in LISTEN_FDNAMES (names cannot hold ':'):
// the port for TCP, the file name for a unix socket.
func fdName(s *listenSocket) string {
	if p, ok := strings.CutPrefix(s.addr, "unix:"); ok {
		return strings.ReplaceAll(filepath.Base(p), ":", "_")
	}
	return strconv.Itoa(s.port)
}

// release frees what a finished run holds besides its process: probes, the
// IPC channel, the notify socket.
func (r *run) release() {
	if r == nil {
		return
	}
	if r.cancel != nil {
		r.cancel()
	}
	for _, stop := range r.unwatch {
		stop() // before the descriptors close
	}
	if r.ipc != nil {
		r.ipc.Close()
	}
	closeNotify(r.notify, r.notifyPath)
	r.releaseOwn()
}

// releaseOwn frees the run's memory threshold and cgroup.
func (r *run) releaseOwn() {
	if r.memNotify != nil {
		r.memNotify()
		r.memNotify = nil
	}
	if r.cg != nil {
		if err := r.cg.Remove(); err != nil && r.logf != nil {
			r.logf("app %s: %v", r.app.Name, err)
		}
		r.cg = nil
	}
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
func (p *Proc) environ(app spec.App) []string {
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
		// Apps started from one shell share most of their environment:
		// one copy of each "K=V" for them all (the run keeps its env).
		out = append(out, intern.Make(k+"="+v).Value())
	}
	sort.Strings(out)
	return out
}

// internEnv is env with one copy of each name and value for every app that
// has it: apps started from one shell carry the same few dozen variables,
// each decoded apart from the request. An env equal to the last one interned
// is that same map (1,000 apps of one file share one): the supervisor never
// writes into an app's env, it replaces it (mergeEnv makes a new one).
func internEnv(env map[string]string) map[string]string {
	if env == nil {
		return nil
	}
	lastEnv.Lock()
	defer lastEnv.Unlock()
	if lastEnv.m != nil && maps.Equal(lastEnv.m, env) {
		return lastEnv.m
	}
	out := make(map[string]string, len(env))
	for k, v := range env {
		out[intern.Make(k).Value()] = intern.Make(v).Value()
	}
	lastEnv.m = out
	return out
}

var lastEnv struct {
	sync.Mutex
	m map[string]string
}

// ErrNoExecutable reports a script or interpreter that cannot be run.
var ErrNoExecutable = errors.New("not found")

// commandLine returns the program and argv that run app.
func commandLine(app spec.App) (string, []string, error) {
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

// startError says why exec failed, naming the option to fix: exec reports a
// missing cwd as "fork/exec <script>: no such file or directory".
func startError(app spec.App, path string, err error) error {
	explain := func(format string, args ...any) error {
		return &explained{msg: fmt.Sprintf(format, args...), err: err}
	}
	if fi, serr := os.Stat(app.Cwd); serr != nil || !fi.IsDir() {
		return explain("working directory %s does not exist or is not a directory (cwd of app %s): create it or fix cwd, then tend restart %s", app.Cwd, app.Name, app.Name)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if _, serr := os.Stat(path); serr == nil {
		return explain("%s exists but the interpreter its #! line names was not found (app %s): install it or fix the #! line", path, app.Name)
	}
	opt := "script"
	if app.Interpreter != "" && app.Interpreter != "none" {
		opt = "interpreter"
	}
	return explain("%s not found (%s of app %s): install or create it, or fix %s, then tend restart %s", path, opt, app.Name, opt, app.Name)
}

// explained is an error told in other words than its cause's.
type explained struct {
	msg string
	err error
}

func (e *explained) Error() string { return e.msg }
func (e *explained) Unwrap() error { return e.err }
