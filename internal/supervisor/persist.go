package supervisor

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/cgroup"
	"github.com/tend-dev/tend/internal/homedir"
	"github.com/tend-dev/tend/internal/procstat"
	"github.com/tend-dev/tend/internal/spec"
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
	App       json.RawMessage `json:"app"` // spec.App
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
	UniqueID  string          `json:"unique_id,omitempty"`
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
	// Marker is the value of TEND_RUN in the run's environment, which
	// proves that a live pid is this run's (notOurs); "" in records of a
	// tend before run markers.
	Marker string `json:"run_marker,omitempty"`
}

var bootIDOnce = sync.OnceValue(func() string {
	return readBootID()
})

func (s *Supervisor) stateDir() string { return filepath.Join(s.opts.Home, StateDir) }

// statePaths are the process's two record files, relative to the home:
// <pm_id>.a holds both slots (the second at recordSlot), <pm_id>.b only a
// record too long for its slot in .a (and those of earlier versions of
// tend, which wrote one slot to each file).
func (p *Proc) statePaths() [2]string {
	base := filepath.Join(StateDir, strconv.Itoa(p.id))
	return [2]string{base + ".a", base + ".b"}
}

// recordSlot is where the second slot of a record file starts. The file is
// sparse: the gap between the slots takes no disk. One file for both slots
// instead of one each halves the inodes records cost, and a new inode is
// the dearest part of starting an app on a busy ext4 (~1 ms of CPU each
// when many inodes were freed lately, as the other files of a start).
const recordSlot = 1 << 20

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
		Counters: p.counters, CreatedAt: p.createdAt, Reason: p.reason, WatchOff: p.watchOff, UniqueID: p.uniqueID,
		ExitCode: p.exitCode, ExitSig: p.exitSig,
	}
	if p.status == Stopping {
		sp.Then, sp.ThenWhy = opName(p.stopThen, ""), p.stopReason
	}
	if p.pid > 0 {
		sp.Run = &savedRun{PID: p.pid, Start: p.pidStart, Started: p.startedAt, Pipes: p.pipes, Marker: p.marker}
		if p.cg != nil {
			sp.Run.Cgroup = p.cg.Dir()
		}
	}
	name := p.app.Name
	if p.status == Online || p.status == Stopped || p.status == Errored {
		// Settled: the next save is a while off. An idle app does not keep
		// its options as JSON (~3 KB) for it.
		p.appJSON = nil
	}
	p.mu.Unlock()
	buf := recordBufs.Get().(*bytes.Buffer)
	defer recordBufs.Put(buf)
	buf.Reset()
	err := encodeRecord(buf, sp)
	if err == nil {
		// Padded to a multiple of 512 bytes with spaces (JSON ignores them),
		// so the file is seldom cut to a new length.
		for buf.Len()%512 != 0 {
			buf.WriteByte(' ')
		}
		paths := p.statePaths()
		switch {
		case buf.Len() > recordSlot: // too long for a slot: a file of its own
			err = p.sup.writeRecord(paths[1], 0, buf.Bytes(), &p.saveLen)
		case sp.Seq%2 == 0:
			err = p.sup.writeRecord(paths[0], 0, buf.Bytes(), nil)
		default:
			err = p.sup.writeRecord(paths[0], recordSlot, buf.Bytes(), nil)
		}
	}
	if err != nil {
		p.sup.logf("app %s (id %d): state not saved: %v", name, p.id, err)
	}
}

// encodeRecord writes what json.NewEncoder(buf).Encode(sp) writes, without
// encoding/json's second pass over sp.App (a json.RawMessage is checked and
// compacted again at every record; sp.App comes from json.Marshal, already
// compact): sp is encoded with "app":null and the app's JSON put in its
// place. The fields before it hold no `"app":`.
func encodeRecord(buf *bytes.Buffer, sp savedProc) error {
	app := sp.App
	sp.App = nil
	b, err := json.Marshal(sp)
	if err != nil {
		return err
	}
	i := bytes.Index(b, nullApp)
	if i < 0 || app == nil {
		buf.Write(b)
	} else {
		buf.Write(b[:i+len(`"app":`)])
		buf.Write(app)
		buf.Write(b[i+len(nullApp):])
	}
	buf.WriteByte('\n')
	return nil
}

var nullApp = []byte(`"app":null`)

// recordBufs hold records while they are written: a thousand apps starting
// at once would otherwise leave megabytes of garbage that the heap keeps.
var recordBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// writeRecord writes b in place at off of rel (in the home). With lastLen
// (a file of one record) the file is cut to b's length when that changed;
// a file of two slots is never cut (a reader decodes the first JSON value
// of each slot and ignores what follows). It is opened through the checked
// home: a link planted there is refused.
func (s *Supervisor) writeRecord(rel string, off int64, b []byte, lastLen *int) error {
	h, err := s.home()
	if err != nil {
		return err
	}
	f, err := h.OpenFile(rel, os.O_WRONLY|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		return err
	}
	if lastLen != nil && *lastLen != len(b) {
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
	p.sup.removeRecord(p.id)
}

// removeRecord removes both files of pm_id's record.
func (s *Supervisor) removeRecord(id int) {
	h, err := s.home()
	if err != nil {
		return
	}
	base := filepath.Join(StateDir, strconv.Itoa(id))
	h.Remove(base + ".a")
	h.Remove(base + ".b")
}

// errUntrusted marks a file in the state folder that the daemon does not
// read: only its own user's regular files of mode 0600 are records.
var errUntrusted = errors.New("not a record this daemon trusts")

// readRecord decodes the newest whole record in the file name of the state
// folder (either of its slots).
func (s *Supervisor) readRecord(name string) (savedProc, error) {
	sps, err := s.readRecords(name)
	if len(sps) == 0 {
		return savedProc{}, err
	}
	best := sps[0]
	for _, sp := range sps[1:] {
		if sp.Seq > best.Seq {
			best = sp
		}
	}
	return best, nil
}

// readRecords decodes the records in the file name of the state folder:
// the one at its start and, in a .a file, the one at recordSlot; a slot
// that does not decode (a write cut short) is left out, and the error says
// why when none does. Only a regular file of the daemon's user with mode
// 0600, in the checked home, reached through no link, is read: a record
// names a script that the daemon runs.
func (s *Supervisor) readRecords(name string) ([]savedProc, error) {
	h, err := s.home()
	if err != nil {
		return nil, err
	}
	f, err := h.OpenFile(filepath.Join(StateDir, name), os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: %s is a %v, not a regular file", errUntrusted, f.Name(), fi.Mode().Type())
	}
	if fi.Mode().Perm() != 0o600 {
		return nil, fmt.Errorf("%w: %s has mode %04o, not 0600 (tend writes its records 0600)", errUntrusted, f.Name(), fi.Mode().Perm())
	}
	offs := []int64{0}
	if strings.HasSuffix(name, ".a") && fi.Size() > recordSlot {
		offs = append(offs, recordSlot)
	}
	var out []savedProc
	var first error
	for _, off := range offs {
		var sp savedProc
		if err := json.NewDecoder(io.NewSectionReader(f, off, fi.Size()-off)).Decode(&sp); err != nil {
			if first == nil {
				first = err
			}
			continue
		}
		out = append(out, sp)
	}
	if len(out) == 0 {
		return nil, first
	}
	return out, nil
}

// checkRecord refuses a record whose fields could not have been written by
// a daemon: it names what the daemon will run (script, cwd), signal (pid)
// and kill (cgroup).
func (s *Supervisor) checkRecord(sp savedProc, app spec.App) error {
	bad := func(field, v, why string) error { return fmt.Errorf("%s %q %s", field, v, why) }
	switch {
	case sp.Instance < 0 || sp.Restarts < 0:
		return fmt.Errorf("negative instance or restarts (%d, %d)", sp.Instance, sp.Restarts)
	case app.Name == "" || strings.ContainsAny(app.Name, "\x00\n"):
		return bad("name", app.Name, "is empty or holds a NUL or a newline")
	case strings.ContainsRune(app.ScriptPath, 0):
		return bad("script_path", app.ScriptPath, "holds a NUL")
	case strings.ContainsRune(app.ScriptPath, '/') && !filepath.IsAbs(app.ScriptPath):
		return bad("script_path", app.ScriptPath, "is a relative path (tend records absolute ones)")
	case app.Cwd != "" && (!filepath.IsAbs(app.Cwd) || strings.ContainsRune(app.Cwd, 0)):
		return bad("cwd", app.Cwd, "is not an absolute path")
	case strings.ContainsRune(app.Interpreter, 0):
		return bad("interpreter", app.Interpreter, "holds a NUL")
	}
	if r := sp.Run; r != nil {
		switch {
		case r.PID <= 1 || r.PID > 1<<22:
			return fmt.Errorf("pid %d is not one tend can have started", r.PID)
		case r.Start == 0:
			return fmt.Errorf("pid %d has no start time", r.PID)
		case r.Cgroup != "" && (!filepath.IsAbs(r.Cgroup) || filepath.Clean(r.Cgroup) != r.Cgroup):
			return bad("cgroup", r.Cgroup, "is not a clean absolute path")
		case r.Cgroup != "" && s.opts.Cgroup.Version() != cgroup.None && !s.opts.Cgroup.Owns(r.Cgroup):
			return bad("cgroup", r.Cgroup, "is not a group of this TEND_HOME's")
		}
	}
	return nil
}

// notOurs says why the live process of a saved run cannot be taken for one
// an earlier daemon of this home started ("" when it can). A pid and start
// time only say that the process is the one the record names; that it is
// tend's is proven by the run marker the daemon put in its environment
// (TEND_RUN, read from /proc/<pid>/environ, which the process cannot take
// back), or, for records of a tend before run markers, by TEND_HOME and
// pm_id there, or by its membership of the run's cgroup. Parent links prove
// nothing: after a daemon's death its apps belong to init or a subreaper.
// It must also run as the daemon's user or as the app's.
func (s *Supervisor) notOurs(sp savedProc, app spec.App) string {
	if !provable {
		return ""
	}
	pid := sp.Run.PID
	uid, ok := procUID(pid)
	if !ok {
		return "it is gone"
	}
	if uid != os.Geteuid() && (app.UID == nil || uid != *app.UID) {
		return fmt.Sprintf("it runs as uid %d, neither the daemon's nor the app's", uid)
	}
	env := environOf(pid)
	switch {
	case sp.Run.Marker != "" && slices.Contains(env, runMarker+"="+sp.Run.Marker):
		return ""
	case sp.Run.Marker == "" && slices.Contains(env, "TEND_HOME="+s.opts.Home) && slices.Contains(env, "pm_id="+strconv.Itoa(sp.ID)):
		return ""
	}
	if sp.Run.Cgroup != "" {
		if g := s.opts.Cgroup.Adopt(sp.Run.Cgroup); g != nil && slices.Contains(g.Pids(), pid) {
			return ""
		}
	}
	return "neither its environment (" + runMarker + ") nor its cgroup shows that this home's daemon started it"
}

// procUID is the real uid process pid runs as.
func procUID(pid int) (int, bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	_, rest, ok := strings.Cut(string(b), "\nUid:")
	if !ok {
		return 0, false
	}
	f := strings.Fields(rest)
	if len(f) == 0 {
		return 0, false
	}
	uid, err := strconv.Atoi(f[0])
	return uid, err == nil
}

// Restored says what Restore found.
type Restored struct {
	Adopted   int // still running, watched again
	Restarted int // gone while no daemon watched: started again
	Kept      int // stopped or errored, listed as they were
	Ignored   int // files of the state folder the daemon does not trust
	Strays    int // processes of runs no record held, killed
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
	h, err := s.home()
	if err != nil {
		return res, err
	}
	var ents []os.DirEntry
	if _, err := os.Lstat(s.stateDir()); err == nil {
		if ents, err = h.ReadDir(StateDir); err != nil {
			return res, err
		}
	}
	// the newest whole record of each pm_id
	newest := map[int]savedProc{}
	unreadable := map[string]string{} // pm_id → why
	oldBoot := 0
	for _, e := range ents {
		path := filepath.Join(s.stateDir(), e.Name())
		id, slot, _ := strings.Cut(e.Name(), ".")
		n, err := strconv.Atoi(id)
		if err != nil || n < 0 || (slot != "a" && slot != "b") {
			s.logf("state: %s ignored: not a record's name (<pm_id>.a or .b)", path)
			continue
		}
		sps, err := s.readRecords(e.Name())
		switch {
		case errors.Is(err, errUntrusted) || errors.Is(err, homedir.ErrUnsafe):
			s.logf("state: record %s ignored: %v", path, err)
			res.Ignored++
		case err != nil:
			unreadable[id] = err.Error() // a write cut short, or not a record
		}
		for _, sp := range sps {
			switch {
			case sp.ID != n:
				unreadable[id] = fmt.Sprintf("%s holds the record of pm_id %d", e.Name(), sp.ID)
			case sp.BootID != bootIDOnce():
				if h.Remove(filepath.Join(StateDir, e.Name())) == nil {
					oldBoot++
				}
			case sp.Seq > newest[sp.ID].Seq:
				newest[sp.ID] = sp
			}
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
		// No whole record of it is left (a daemon killed while it wrote
		// the first): nothing can be carried on, and a run it started is
		// found by its marker (killStrays).
		h.Remove(filepath.Join(StateDir, id+".a"))
		h.Remove(filepath.Join(StateDir, id+".b"))
	}
	sort.Slice(saved, func(i, j int) bool { return saved[i].ID < saved[j].ID })
	adopted := map[string]bool{} // cgroups of the runs taken over
	keep := map[string]bool{}    // and their markers
	s.mu.Lock()
	for _, sp := range saved {
		var app spec.App
		if err := json.Unmarshal(sp.App, &app); err != nil {
			bad = append(bad, fmt.Sprintf("pm_id %d: %v", sp.ID, err))
			continue
		}
		if err := s.checkRecord(sp, app); err != nil {
			s.logf("state: the record of pm_id %d is ignored: %v", sp.ID, err)
			res.Ignored++
			continue
		}
		if sp.Run != nil && alive(member{sp.Run.PID, sp.Run.Start}) {
			if why := s.notOurs(sp, app); why != "" {
				// Left alone: it may be anyone's. The app starts again.
				s.logf("app %s (id %d): pid %d of the record is not adopted: %s", app.Name, sp.ID, sp.Run.PID, why)
				sp.Run = nil
			}
		}
		p := newProc(s, sp.ID, sp.Instance, app)
		p.saveSeq, p.saveLen = sp.Seq, -1 // its next records are newer
		p.restarts, p.counters, p.createdAt, p.reason = sp.Restarts, sp.Counters, sp.CreatedAt, sp.Reason
		if sp.UniqueID != "" {
			p.uniqueID = sp.UniqueID
		}
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
			p.pid, p.pidStart, p.startedAt, p.pipes, p.marker = sp.Run.PID, sp.Run.Start, sp.Run.Started, sp.Run.Pipes, sp.Run.Marker
			p.runEnv = environOf(sp.Run.PID)
			p.version, p.nodeVersion = packageVersion(*p.app), nodeVersion(*p.app)
			res.Adopted++
			if sp.Run.Cgroup != "" {
				adopted[sp.Run.Cgroup] = true
			}
			if sp.Run.Marker != "" {
				keep[sp.Run.Marker] = true
			}
		case sp.Status == Stopped || sp.Status == Errored:
			res.Kept++
		case sp.Status == Stopping && p.stopThen == opDelete: // it was being deleted and is gone
			s.removeRecord(sp.ID)
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
	// Processes of runs no record holds: a start or the new instance of a
	// reload that the dead daemon had not recorded, or an old instance it
	// was stopping. Their apps start again from the records.
	if killed := s.killStrays(keep); len(killed) > 0 {
		s.logf("processes that an earlier daemon started and no record holds (a start or reload it had not recorded), killed: %d: %s",
			len(killed), summary(killed, 10))
		res.Strays = len(killed)
	}
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
		env: environOf(sr.PID), pipes: sr.Pipes, marker: sr.Marker, adopted: true, logf: p.sup.logf}
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
	files, err := p.sup.openLogs(*app, paths)
	if err != nil {
		p.sup.logf("app %s (id %d): %v", app.Name, p.id, err)
	}
	r.srcs = srcs
	p.attach(r, files, exits, pidfd, func() (Exit, bool) {
		if pidfd == nil {
			for alive(m) {
				select {
				case <-time.After(250 * time.Millisecond):
				case <-p.done:
					return Exit{}, false
				}
			}
		}
		// Its exit status went to whoever reaped it: unknown here.
		return Exit{Code: -1, Uptime: p.sup.now().Sub(r.started)}, true
	})
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
