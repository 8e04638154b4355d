package supervisor

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/cgroup"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/procstat"
)

// StateDir is the folder of TEND_HOME where a daemon keeps what the next
// daemon needs to carry on if this one dies or is replaced: for each
// process its options and counters and, while it runs, how to find it
// again. Each process's loop rewrites its record at every change of status,
// before anyone hears of the change, so a daemon killed at any moment
// leaves every started process recorded.
//
// A record is two files, <pm_id>.a and <pm_id>.b, written in turn in place
// (a rename would cost ~20× more on ext4, which allocates an inode each
// time) with a sequence number: a write cut short by a SIGKILL damages only
// the older of the two, and Restore takes the newest whole one.
const StateDir = "state"

type savedProc struct {
	Seq       uint64          `json:"seq"`
	BootID    string          `json:"boot_id"`
	Daemon    int             `json:"daemon_pid"`
	ID        int             `json:"pm_id"`
	Instance  int             `json:"instance"`
	App       json.RawMessage `json:"app"` // config.App
	Status    Status          `json:"status"`
	Restarts  int             `json:"restarts"`
	Counters  Counters        `json:"counters"`
	CreatedAt time.Time       `json:"created_at"`
	Reason    string          `json:"reason,omitempty"`
	WatchOff  bool            `json:"watch_off,omitempty"`
	ExitCode  *int            `json:"exit_code,omitempty"`
	ExitSig   string          `json:"exit_signal,omitempty"`
	Then      string          `json:"then,omitempty"`        // while stopping: stop, restart or delete
	ThenWhy   string          `json:"then_reason,omitempty"` // why a restart
	Run       *savedRun       `json:"run,omitempty"`
}

// savedRun finds a running process again: its pid with its start time (so a
// reused pid is never taken for it), its cgroup, and the pipes its stdout and
// stderr write into.
type savedRun struct {
	PID     int       `json:"pid"`
	Start   uint64    `json:"start_ticks"`
	Started time.Time `json:"started_at"`
	Cgroup  string    `json:"cgroup,omitempty"`
	Pipes   [2]uint64 `json:"pipes"`
}

var bootIDOnce = sync.OnceValue(func() string {
	return readBootID()
})

func (s *Supervisor) stateDir() string { return filepath.Join(s.opts.Home, StateDir) }

func (p *Proc) statePaths() [2]string {
	base := filepath.Join(p.sup.stateDir(), strconv.Itoa(p.id))
	return [2]string{base + ".a", base + ".b"}
}

// save writes the process's record into the older of its two files.
func (p *Proc) save() {
	if p.detached.Load() {
		return // the record on disk is the next daemon's now
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	p.mu.Lock()
	if p.appJSON == nil {
		p.appJSON, _ = json.Marshal(p.app) // once per change of options
	}
	p.saveSeq++
	sp := savedProc{
		Seq: p.saveSeq, BootID: bootIDOnce(), Daemon: os.Getpid(),
		ID: p.id, Instance: p.instance, App: p.appJSON, Status: p.status, Restarts: p.restarts,
		Counters: p.counters, CreatedAt: p.createdAt, Reason: p.reason, WatchOff: p.watchOff,
		ExitCode: p.exitCode, ExitSig: p.exitSig,
	}
	if p.status == Stopping {
		sp.Then, sp.ThenWhy = opName(p.stopThen, ""), p.stopReason
	}
	if p.pid > 0 {
		sp.Run = &savedRun{PID: p.pid, Start: p.pidStart, Started: p.startedAt, Pipes: p.pipes}
		if p.cg != nil {
			sp.Run.Cgroup = p.cg.Dir()
		}
	}
	name := p.app.Name
	p.mu.Unlock()
	buf := recordBufs.Get().(*bytes.Buffer)
	defer recordBufs.Put(buf)
	buf.Reset()
	err := json.NewEncoder(buf).Encode(sp)
	if err == nil {
		// Padded to a multiple of 512 bytes with spaces (JSON ignores them),
		// so the file is seldom cut to a new length.
		for buf.Len()%512 != 0 {
			buf.WriteByte(' ')
		}
		slot := sp.Seq % 2
		err = writeRecord(p.statePaths()[slot], buf.Bytes(), &p.saveLen[slot])
	}
	if err != nil {
		p.sup.logf("app %s (id %d): state not saved: %v", name, p.id, err)
	}
}

// recordBufs hold records while they are written: a thousand apps starting
// at once would otherwise leave megabytes of garbage that the heap keeps.
var recordBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeRecord overwrites path with b in place; the file is cut to b's length
// only when it was longer (a reader decodes the first JSON value and ignores
// what follows).
func writeRecord(path string, b []byte, lastLen *int) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		os.MkdirAll(filepath.Dir(path), 0o700)
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_CREATE, 0o600)
	}
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	if *lastLen != len(b) {
		if err := f.Truncate(int64(len(b))); err != nil {
			return err
		}
		*lastLen = len(b)
	}
	return nil
}

// unsave removes the process's record (it was deleted).
func (p *Proc) unsave() {
	if p.detached.Load() {
		return
	}
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	for _, path := range p.statePaths() {
		os.Remove(path)
	}
}

// readRecord decodes the record in path.
func readRecord(path string) (savedProc, error) {
	var sp savedProc
	f, err := os.Open(path)
	if err != nil {
		return sp, err
	}
	defer f.Close()
	err = json.NewDecoder(f).Decode(&sp)
	return sp, err
}

// Restored says what Restore found.
type Restored struct {
	Adopted   int // still running, watched again
	Restarted int // gone while no daemon watched: started again
	Kept      int // stopped or errored, listed as they were
	Note      string
}

// Restore takes over what an earlier daemon of this TEND_HOME left in its
// state file (it died, or `tend update` replaced it): processes that still
// run are watched again, with their pids, logs and counters; those that
// exited meanwhile are treated as crashed and started again. A state from an
// earlier boot of the machine is ignored. Call it once, before anything else
// uses the supervisor.
func (s *Supervisor) Restore() (Restored, error) {
	var res Restored
	ents, err := os.ReadDir(s.stateDir())
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	// the newest whole record of each pm_id
	newest := map[int]savedProc{}
	unreadable := map[string]string{} // pm_id → why
	oldBoot := 0
	for _, e := range ents {
		path := filepath.Join(s.stateDir(), e.Name())
		id, _, _ := strings.Cut(e.Name(), ".")
		sp, err := readRecord(path)
		switch {
		case err != nil:
			unreadable[id] = err.Error() // a write cut short, or not a record
		case sp.BootID != bootIDOnce():
			os.Remove(path)
			oldBoot++
		case sp.Seq > newest[sp.ID].Seq:
			newest[sp.ID] = sp
		}
	}
	var saved []savedProc
	for _, sp := range newest {
		saved = append(saved, sp)
		delete(unreadable, strconv.Itoa(sp.ID))
	}
	if oldBoot > 0 {
		res.Note = fmt.Sprintf("%d records from before the machine last booted: ignored", oldBoot)
	}
	var bad []string
	for id, why := range unreadable {
		bad = append(bad, fmt.Sprintf("pm_id %s: %s", id, why))
	}
	sort.Slice(saved, func(i, j int) bool { return saved[i].ID < saved[j].ID })
	adopted := map[string]bool{}
	s.mu.Lock()
	for _, sp := range saved {
		var app config.App
		if err := json.Unmarshal(sp.App, &app); err != nil {
			bad = append(bad, fmt.Sprintf("pm_id %d: %v", sp.ID, err))
			continue
		}
		p := newProc(s, sp.ID, sp.Instance, app)
		p.saveSeq, p.saveLen = sp.Seq, [2]int{-1, -1} // its next records are newer
		p.restarts, p.counters, p.createdAt, p.reason = sp.Restarts, sp.Counters, sp.CreatedAt, sp.Reason
		p.watchOff, p.exitCode, p.exitSig = sp.WatchOff, sp.ExitCode, sp.ExitSig
		p.status = sp.Status
		p.stopThen, p.stopReason = opStop, sp.ThenWhy
		switch sp.Then {
		case "restart":
			p.stopThen = opRestart
		case "delete":
			p.stopThen = opDelete
		}
		switch {
		case sp.Run != nil && alive(member{sp.Run.PID, sp.Run.Start}):
			p.resume = sp.Run
			// listed as it runs from the first answer; its loop re-attaches
			p.pid, p.pidStart, p.startedAt, p.pipes = sp.Run.PID, sp.Run.Start, sp.Run.Started, sp.Run.Pipes
			p.runEnv = environOf(sp.Run.PID)
			res.Adopted++
			if sp.Run.Cgroup != "" {
				adopted[sp.Run.Cgroup] = true
			}
		case sp.Status == Stopped || sp.Status == Errored:
			res.Kept++
		case sp.Status == Stopping && p.stopThen == opDelete: // it was being deleted and is gone
			for _, path := range p.statePaths() {
				os.Remove(path)
			}
			continue
		case sp.Status == Stopping && p.stopThen == opRestart:
			p.status = Stopped
			p.resumeStart = cmp.Or(sp.ThenWhy, "manual")
			res.Restarted++
		case sp.Status == Stopping:
			p.status = Stopped // it was being stopped and is gone
			res.Kept++
		case sp.Status == Waiting: // for its dependencies: it waits again
			p.status = Stopped
			p.resumeStart = "start"
			res.Restarted++
		default: // it was running or about to, and is gone
			p.status = Stopped
			p.resumeStart = "crash"
			res.Restarted++
		}
		if sp.ID >= s.nextID {
			s.nextID = sp.ID + 1
		}
		s.procs[sp.ID] = p
	}
	s.mu.Unlock()
	// A group that holds processes but no saved run: a start the dead
	// daemon had not recorded yet. Its app is started again, so the copy
	// would be a second one.
	// The groups may be in another base folder: the earlier daemon was
	// started from another cgroup of its own.
	if m := s.opts.Cgroup; m.Version() != cgroup.None {
		bases := map[string]bool{m.Base(): true}
		for _, sp := range saved {
			if sp.Run != nil && sp.Run.Cgroup != "" {
				bases[filepath.Dir(sp.Run.Cgroup)] = true
			}
		}
		for base := range bases {
			for _, dir := range m.Groups(base) {
				g := m.Adopt(dir)
				if g == nil || adopted[dir] {
					continue
				}
				if !g.Empty() {
					s.logf("cgroup %s holds processes of a run no state records: killed", dir)
				}
				g.Remove() // kills what is left
			}
			if base != m.Base() {
				os.Remove(base) // empty once its runs are gone
			}
		}
	}
	for _, p := range s.sorted() {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			p.loop()
			s.forget(p.id)
		}()
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return res, fmt.Errorf("unreadable records in %s: %s", s.stateDir(), strings.Join(bad, "; "))
	}
	return res, nil
}

// killSaved sends SIGKILL to what runs of a saved run this daemon could
// not watch again, so that starting the app again makes no second copy.
func (p *Proc) killSaved(sr savedRun) {
	r := &run{pid: sr.PID, pgid: sr.PID}
	if sr.Cgroup != "" {
		r.cg = p.sup.opts.Cgroup.Adopt(sr.Cgroup)
	}
	members := r.tree(procstat.Take())
	r.kill(members)
	if r.cg != nil {
		r.cg.Remove()
	}
}

// environOf is the environment process pid started with.
func environOf(pid int) []string {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		return nil
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

// errGone means a saved run's process no longer runs.
var errGone = errors.New("the process is gone")

// reattach watches again a run an earlier daemon started: its exit through a
// pidfd (it is not this daemon's child, so wait4 cannot see it), its output
// from the pipes it still writes into, its cgroup.
func (p *Proc) reattach(sr savedRun, exits chan<- exitMsg) (*run, error) {
	m := member{sr.PID, sr.Start}
	pidfd, err := openPidfd(sr.PID)
	if err != nil && !errors.Is(err, unix.ESRCH) {
		// No pidfds here (Linux < 5.3, or a seccomp filter): poll.
		p.sup.logf("app %s (id %d): %v: its exit is checked every 250 ms", p.app.Name, p.id, err)
	}
	if !alive(m) { // the pid could have been reused before pidfd_open
		if pidfd != nil {
			pidfd.Close()
		}
		return nil, errGone
	}
	p.mu.Lock()
	app, paths := p.app, p.logPaths
	p.mu.Unlock()
	r := &run{app: app, pid: sr.PID, pgid: sr.PID, started: sr.Started, done: make(chan struct{}),
		env: environOf(sr.PID), pipes: sr.Pipes, adopted: true, logf: p.sup.logf}
	if sr.Cgroup != "" {
		r.cg = p.sup.opts.Cgroup.Adopt(sr.Cgroup)
	}
	pids := memberPids(r.tree(procstat.Take()))
	var srcs [2]*os.File
	for i := range srcs {
		f, err := reopenOutput(pids, i+1, sr.Pipes[i])
		if err != nil {
			p.sup.logf("app %s (id %d): %s of pid %d not captured: %v", app.Name, p.id, [2]string{"stdout", "stderr"}[i], sr.PID, err)
			continue
		}
		srcs[i] = f
	}
	files, err := p.sup.openLogs(app, paths)
	if err != nil {
		p.sup.logf("app %s (id %d): %v", app.Name, p.id, err)
	}
	r.srcs = srcs
	p.startPumps(r, srcs, files)
	if r.cg != nil && app.MaxMemoryRestart > 0 {
		r.memNotify, _ = r.cg.Notify(app.MaxMemoryRestart, p.sup.wakeSampler)
	}
	go func() {
		if pidfd != nil {
			waitPidfd(pidfd)
			pidfd.Close()
		} else {
			for alive(m) {
				select {
				case <-time.After(250 * time.Millisecond):
				case <-p.done:
					return
				}
			}
		}
		// Its exit status went to whoever reaped it: unknown here.
		e := Exit{Code: -1, Uptime: p.sup.now().Sub(r.started)}
		close(r.done)
		select {
		case exits <- exitMsg{r: r, exit: e}:
		case <-p.done:
		}
	}()
	return r, nil
}

// Detach lets the daemon exit without stopping any app (`tend update`): the
// state is written for the next daemon, which watches the apps again, and
// each run's output is left in its pipe for it. Nothing may be asked of the
// supervisor afterwards.
func (s *Supervisor) Detach() {
	s.Close()
	// Until every loop has detached: a request still in flight may add one.
	for {
		var left []*Proc
		for _, p := range s.sorted() {
			if !p.detached.Load() {
				left = append(left, p)
			}
		}
		if len(left) == 0 {
			break
		}
		for _, p := range left {
			reply := make(chan error, 1)
			select {
			case p.cmds <- command{op: opDetach, reply: reply}:
				<-reply
			case <-p.done:
				time.Sleep(time.Millisecond) // deleted meanwhile: gone from the list soon
			}
		}
	}
	s.wg.Wait()
}
