//go:build linux

package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rowDef is one line of the results table.
type rowDef struct {
	ID, Title, Unit string
	Target          string  // as printed
	Max             float64 // met when tend's median <= Max; NaN: nothing to meet
	Dec             int     // decimals
	Chart           string  // label in the chart; "" = not charted
}

var nan = func() float64 { var z float64; return z / z }()

var rows = []rowDef{
	{ID: "list10", Title: "`jlist` round trip, 10 apps (whole CLI process)", Unit: "ms", Target: "≤ 5 ms", Max: 5, Dec: 1, Chart: "LIST, 10 APPS"},
	{ID: "start100", Title: "start 100 apps from one ecosystem file, until all online", Unit: "s", Target: "≤ 0.3 s", Max: 0.3, Dec: 3, Chart: "START 100"},
	{ID: "stop100", Title: "stop 100 apps that exit on SIGINT, until all gone", Unit: "s", Target: "≤ 0.15 s", Max: 0.15, Dec: 3, Chart: "STOP 100"},
	{ID: "rss10", Title: "daemon resident memory, 10 apps", Unit: "MiB", Target: "≤ 10 MiB", Max: 10, Dec: 1, Chart: "RSS, 10 APPS"},
	{ID: "rss100", Title: "daemon resident memory, 100 apps", Unit: "MiB", Target: "≤ 15 MiB", Max: 15, Dec: 1, Chart: "RSS, 100 APPS"},
	{ID: "idle100", Title: "idle daemon CPU with 100 apps over 30 s (% of a core)", Unit: "%", Target: "0 (≤ 0.005 %)", Max: 0.005, Dec: 3, Chart: "IDLE CPU"},
	{ID: "logsraw", Title: "daemon CPU per 1 M lines of 92 B on stdout, raw", Unit: "s", Target: "≤ 0.05 s", Max: 0.05, Dec: 3, Chart: "LOG CPU, RAW"},
	{ID: "logstime", Title: "daemon CPU per 1 M lines of 92 B, `time: true`", Unit: "s", Target: "≤ 0.2 s", Max: 0.2, Dec: 3, Chart: "LOG CPU, TIME"},
	{ID: "lostraw", Title: "lines lost or mangled per 1 M, raw", Unit: "lines", Target: "0", Max: 0, Dec: 0},
	{ID: "losttime", Title: "lines lost or mangled per 1 M, `time: true`", Unit: "lines", Target: "0", Max: 0, Dec: 0},
	{ID: "crashgap", Title: "crash → next start gap, `restart_delay: 0`", Unit: "ms", Target: "≤ 5 ms", Max: 5, Dec: 2, Chart: "CRASH GAP"},
	{ID: "crashgapproc", Title: "the same, tend without cgroups (`TEND_CGROUP=off`)", Unit: "ms", Target: "≤ 5 ms", Max: 5, Dec: 2},
	{ID: "memlimit", Title: "memory limit crossed (by a child) → restarted", Unit: "s", Target: "≤ 1 s", Max: 1, Dec: 2, Chart: "MEM LIMIT"},
	{ID: "memlimitproc", Title: "the same, tend measuring from /proc (`TEND_CGROUP=off`)", Unit: "s", Target: "≤ 1 s", Max: 1, Dec: 2},
	{ID: "reload", Title: "failed requests during `reload` of a Go HTTP app under load", Unit: "requests", Target: "0", Max: 0, Dec: 0, Chart: "RELOAD FAILURES"},
	{ID: "start1000", Title: "1,000 apps: start, until all online", Unit: "s", Target: "≤ 1.5 s", Max: 1.5, Dec: 2, Chart: "START 1000"},
	{ID: "list1000", Title: "1,000 apps: `jlist` round trip", Unit: "ms", Target: "≤ 25 ms", Max: 25, Dec: 1, Chart: "LIST, 1000 APPS"},
	{ID: "stop1000", Title: "1,000 apps: stop, until all gone", Unit: "s", Target: "≤ 0.5 s", Max: 0.5, Dec: 2, Chart: "STOP 1000"},
	{ID: "rss1000", Title: "1,000 apps: daemon resident memory", Unit: "MiB", Target: "≤ 50 MiB", Max: 50, Dec: 1, Chart: "RSS, 1000 APPS"},
}

// curveSizes are the sizes of the `curve` scenario (tend alone): memory,
// start, list and stop as the number of apps grows. 10,000 only with
// -curve-max 10000.
var curveSizes = []int{10, 100, 1000, 10000}

func init() {
	for _, n := range curveSizes {
		at := fmt.Sprintf("curve, %s apps: ", thousands(n))
		listMax, listTarget := nan, "measure"
		if n == 10000 {
			listMax, listTarget = 250, "≤ 250 ms"
		}
		rows = append(rows,
			rowDef{ID: fmt.Sprintf("curvestart%d", n), Title: at + "start, until all online", Unit: "s", Target: "measure", Max: nan, Dec: 2},
			rowDef{ID: fmt.Sprintf("curvelist%d", n), Title: at + "`jlist` round trip", Unit: "ms", Target: listTarget, Max: listMax, Dec: 1},
			rowDef{ID: fmt.Sprintf("curvestop%d", n), Title: at + "stop, until all gone", Unit: "s", Target: "measure", Max: nan, Dec: 2},
			rowDef{ID: fmt.Sprintf("curverss%d", n), Title: at + "daemon resident memory", Unit: "MiB", Target: "measure", Max: nan, Dec: 1},
			rowDef{ID: fmt.Sprintf("curveidle%d", n), Title: at + "idle daemon CPU over 5 s (% of a core)", Unit: "%", Target: "0 (≤ 0.005 %)", Max: 0.005, Dec: 3})
	}
}

func thousands(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func rowByID(id string) *rowDef {
	for i := range rows {
		if rows[i].ID == id {
			return &rows[i]
		}
	}
	panic("no row " + id)
}

// scenario is one runnable unit (-only NAME).
type scenario struct {
	Name string
	Rows []string
	// PerRep: a fresh daemon for each repetition, and Run does one; otherwise
	// one daemon and Run does every repetition itself.
	PerRep bool
	// Floor: the floor tool (the harness starting the apps itself) runs it too.
	Floor bool
	Run   func(r *runner, t Tool) error
}

var scenarios = []scenario{
	{Name: "list", Rows: []string{"list10"}, Floor: true, Run: runList},
	{Name: "startstop", Rows: []string{"start100", "stop100"}, Floor: true, Run: runStartStop},
	{Name: "rss10", Rows: []string{"rss10"}, PerRep: true, Run: func(r *runner, t Tool) error { return runRSS(r, t, 10, "rss10") }},
	{Name: "rss100", Rows: []string{"rss100"}, PerRep: true, Run: func(r *runner, t Tool) error { return runRSS(r, t, r.cfg.n100, "rss100") }},
	{Name: "idle", Rows: []string{"idle100"}, Run: runIdle},
	{Name: "logs", Rows: []string{"logsraw", "lostraw", "logstime", "losttime"}, Run: runLogs},
	{Name: "crash", Rows: []string{"crashgap", "crashgapproc"}, Floor: true, Run: runCrash},
	{Name: "memlimit", Rows: []string{"memlimit", "memlimitproc"}, Run: runMemLimit},
	{Name: "reload", Rows: []string{"reload"}, Run: runReload},
	{Name: "apps1000", Rows: []string{"start1000", "list1000", "stop1000", "rss1000"}, Floor: true, Run: runApps1000},
	{Name: "curve", Rows: curveRowIDs(), Run: runCurve},
}

func curveRowIDs() []string {
	var ids []string
	for _, n := range curveSizes {
		for _, k := range []string{"start", "list", "stop", "rss", "idle"} {
			ids = append(ids, fmt.Sprintf("curve%s%d", k, n))
		}
	}
	return ids
}

// aliases for -only.
var scenarioAliases = map[string][]string{
	"start": {"startstop"}, "stop": {"startstop"}, "rss": {"rss10", "rss100"}, "1000": {"apps1000"},
}

// ---- helpers -------------------------------------------------------------------

func (r *runner) args(mode string, a ...string) []string {
	return append([]string{"-notify", r.notify.path, mode}, a...)
}

func (r *runner) idleApps(n int, prefix string) []App {
	apps := make([]App, n)
	for i := range apps {
		apps[i] = App{Name: fmt.Sprintf("%s%04d", prefix, i), Bin: r.idleBin, Args: r.args("idle")}
	}
	return apps
}

// startAndWait runs the start command and waits until every app has said it
// is up. The time is until both the command has returned and the last app is up.
func (r *runner) startAndWait(t Tool, apps []App, timeout time.Duration) ([]int, time.Duration, error) {
	r.notify.drain()
	t0 := time.Now()
	type res struct {
		pids []int
		last time.Time
		err  error
	}
	ch := make(chan res, 1)
	go func() {
		pids, last, err := r.notify.ups(len(apps), t0.Add(timeout))
		ch <- res{pids, last, err}
	}()
	err := t.Start(apps)
	cmdEnd := time.Now()
	u := <-ch
	if err == nil {
		err = u.err
	}
	end := cmdEnd
	if u.last.After(end) {
		end = u.last
	}
	return u.pids, end.Sub(t0), err
}

// stopAndWait runs the stop command and waits until every pid has exited.
func (r *runner) stopAndWait(t Tool, pids []int, timeout time.Duration) (time.Duration, error) {
	w, err := watchExits(pids)
	if err != nil {
		return 0, err
	}
	defer w.close()
	t0 := time.Now()
	err = t.StopAll()
	cmdEnd := time.Now()
	last, werr := w.wait(t0.Add(timeout))
	if err == nil {
		err = werr
	}
	end := cmdEnd
	if last.After(end) {
		end = last
	}
	return end.Sub(t0), err
}

// deleteAll removes every app and makes sure none of their processes is left.
func (r *runner) deleteAll(t Tool) {
	if err := t.DeleteAll(); err != nil {
		r.logf("  %s: delete all: %v", t.Name(), err)
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && len(pidsOfExe(r.appBin))+len(pidsOfExe(r.idleBin)) > 0; time.Sleep(20 * time.Millisecond) {
	}
	if n := killExe(r.appBin) + killExe(r.idleBin); n > 0 {
		r.logf("  %s: killed %d app processes left after delete", t.Name(), n)
	}
}

// ---- scenarios -------------------------------------------------------------------

func runList(r *runner, t Tool) error {
	if _, _, err := r.startAndWait(t, r.idleApps(10, "list"), 60*time.Second); err != nil {
		return err
	}
	time.Sleep(500 * time.Millisecond)
	for i := 0; i < 2; i++ {
		if _, err := t.List(); err != nil {
			return err
		}
	}
	for i := 0; i < r.cfg.listCalls; i++ {
		t0 := time.Now()
		if _, err := t.List(); err != nil {
			return err
		}
		r.rec("list10", t, ms(time.Since(t0)))
	}
	return nil
}

func runStartStop(r *runner, t Tool) error {
	n := r.cfg.n100
	for rep := 0; rep < r.cfg.reps; rep++ {
		pids, d, err := r.startAndWait(t, r.idleApps(n, "app"), 120*time.Second)
		if err != nil {
			return err
		}
		r.rec("start100", t, d.Seconds())
		if on, err := t.Online(); t.Name() != "floor" && (err != nil || on != n) {
			r.note("start100", t, fmt.Sprintf("%d of %d reported online after start", on, n))
		}
		time.Sleep(300 * time.Millisecond)
		d, err = r.stopAndWait(t, pids, 120*time.Second)
		if err != nil {
			return err
		}
		r.rec("stop100", t, d.Seconds())
		r.deleteAll(t)
		time.Sleep(300 * time.Millisecond)
	}
	return nil
}

func runRSS(r *runner, t Tool, n int, row string) error {
	if _, _, err := r.startAndWait(t, r.idleApps(n, "rss"), 120*time.Second); err != nil {
		return err
	}
	time.Sleep(time.Second)
	for i := 0; i < 3; i++ {
		if _, err := t.List(); err != nil {
			return err
		}
	}
	time.Sleep(time.Second)
	v, err := rssMiB(t.DaemonPID())
	if err != nil {
		return err
	}
	r.rec(row, t, v)
	return nil
}

func runIdle(r *runner, t Tool) error {
	if t.DaemonPID() == 0 {
		r.note("idle100", t, "n/a")
		return nil
	}
	if _, _, err := r.startAndWait(t, r.idleApps(r.cfg.n100, "idle"), 120*time.Second); err != nil {
		return err
	}
	time.Sleep(2 * time.Second)
	pid := t.DaemonPID()
	a, wa, err := schedCPU(pid)
	if err != nil {
		return err
	}
	t0 := time.Now()
	time.Sleep(r.cfg.idle)
	b, wb, err := schedCPU(pid)
	if err != nil {
		return err
	}
	el := time.Since(t0).Seconds()
	r.rec("idle100", t, float64(b-a)/1e9/el*100)
	r.note("idle100", t, fmt.Sprintf("%.1f ms of CPU and %.1f wake-ups a second over %v", float64(b-a)/1e6, float64(wb-wa)/el, r.cfg.idle))
	return nil
}

func runLogs(r *runner, t Tool) error {
	for _, stamped := range []bool{false, true} {
		cpuRow, lostRow := "logsraw", "lostraw"
		if stamped {
			cpuRow, lostRow = "logstime", "losttime"
			if !t.Supports("time") {
				r.note(cpuRow, t, "n/a (no timestamps)")
				r.note(lostRow, t, "n/a")
				continue
			}
		}
		var mangledRuns []string
		for rep := 0; rep < r.cfg.reps; rep++ {
			cpu, lost, mangled, err := r.logOnce(t, stamped)
			if err != nil {
				return err
			}
			r.rec(cpuRow, t, cpu)
			r.rec(lostRow, t, float64(lost))
			mangledRuns = append(mangledRuns, strconv.Itoa(mangled))
		}
		if strings.Trim(strings.Join(mangledRuns, ""), "0") != "" {
			r.note(lostRow, t, "lines with a timestamp inside or cut in two, per run: "+strings.Join(mangledRuns, ", "))
		}
	}
	return nil
}

// logOnce runs the writer once and returns the daemon's CPU seconds scaled to
// 1 M lines, the lines missing or damaged in the log file (scaled to 1 M), and
// the mangled ones among them.
func (r *runner) logOnce(t Tool, stamped bool) (float64, int, int, error) {
	n := r.cfg.lines
	dir := filepath.Join(r.work, "logs-"+t.Name())
	os.MkdirAll(dir, 0o755)
	out := filepath.Join(dir, "writer-out.log")
	trigger := filepath.Join(dir, "go")
	os.Remove(trigger)
	os.Remove(out)
	app := App{Name: "writer", Args: r.args("log", strconv.Itoa(n), trigger), OutFile: out, Time: stamped, NoAutorestart: true}
	pids, _, err := r.startAndWait(t, []App{app}, 60*time.Second)
	if err != nil {
		return 0, 0, 0, err
	}
	w, err := watchExits(pids)
	if err != nil {
		return 0, 0, 0, err
	}
	defer w.close()
	time.Sleep(500 * time.Millisecond)
	pid := t.DaemonPID()
	c0, _, err := schedCPU(pid)
	if err != nil {
		return 0, 0, 0, err
	}
	os.WriteFile(trigger, nil, 0o644)
	if _, err := w.wait(time.Now().Add(5 * time.Minute)); err != nil {
		return 0, 0, 0, fmt.Errorf("writer did not finish: %w", err)
	}
	// The daemon is done when the file holds every byte written (raw), or
	// has not grown for 2 s (a daemon that lost lines, or a stamped file whose
	// size is not known in advance).
	var size int64 = -1
	stable := time.Now()
	for end := time.Now().Add(5 * time.Minute); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		var s int64
		if fi, err := os.Stat(out); err == nil {
			s = fi.Size()
		} else if matches, _ := filepath.Glob(out[:len(out)-4] + "*"); len(matches) > 0 {
			out = matches[0] // a tool that named the file its own way
			continue
		}
		if !stamped && s >= int64(n)*92 {
			break
		}
		if s != size {
			size, stable = s, time.Now()
		} else if time.Since(stable) >= 2*time.Second {
			break
		}
	}
	c1, _, err := schedCPU(pid)
	if err != nil {
		return 0, 0, 0, err
	}
	cpu := float64(c1-c0) / 1e9 * 1e6 / float64(n)
	lost, mangled, err := checkLog(out, n, stamped)
	r.deleteAll(t)
	os.Remove(out)
	scale := 1e6 / float64(n)
	return cpu, int(float64(lost)*scale + 0.5), int(float64(mangled)*scale + 0.5), err
}

// checkLog counts the writer's lines that are missing or damaged in path, and
// the lines that are not a well-formed line at all (mangled).
func checkLog(path string, n int, stamped bool) (lost, mangled int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return n, 0, err
	}
	seen := make([]bool, n)
	good := 0
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		seq, ok := parseLine(line, stamped)
		if !ok {
			mangled++
			continue
		}
		if seq < n && !seen[seq] {
			seen[seq] = true
			good++
		}
	}
	return n - good, mangled, nil
}

// parseLine checks one line: an optional timestamp prefix (required when
// stamped) then "L" + 10 digits + " " + 79 'x'.
func parseLine(l []byte, stamped bool) (int, bool) {
	const plen = 91
	if len(l) < plen {
		return 0, false
	}
	p, prefix := l[len(l)-plen:], l[:len(l)-plen]
	if p[0] != 'L' || p[11] != ' ' {
		return 0, false
	}
	seq := 0
	for _, c := range p[1:11] {
		if c < '0' || c > '9' {
			return 0, false
		}
		seq = seq*10 + int(c-'0')
	}
	for _, c := range p[12:] {
		if c != 'x' {
			return 0, false
		}
	}
	if stamped != (len(prefix) > 0) {
		return 0, false
	}
	for _, c := range prefix {
		if !(c >= '0' && c <= '9' || c == ':' || c == '-' || c == 'T' || c == '.' || c == ' ' || c == '+' || c == 'Z' || c == '/' || c == ',') {
			return 0, false
		}
	}
	return seq, true
}

func runCrash(r *runner, t Tool) error {
	return tendTwice(r, t, "crashgap", "crashgapproc", func(row string) error { return crashGaps(r, t, row) })
}

// crashGaps measures the gaps between an app's exit and its next start.
func crashGaps(r *runner, t Tool, row string) error {
	app := App{Name: "crasher", Bin: r.idleBin, Args: r.args("crash", "150"), RestartDelay: 0, MinUptime: 100, MaxRestarts: 100000}
	r.notify.drain()
	if err := t.Start([]App{app}); err != nil {
		return err
	}
	if mode := memoryMode(t); mode != "" {
		r.note(row, t, "memory measured as "+mode)
	}
	want := r.cfg.crashGaps + 1 // the first gap is dropped
	var gaps []float64
	var lastExit int64
	deadline := time.Now().Add(90 * time.Second)
	for len(gaps) < want {
		m, err := r.notify.next(deadline, "up", "exit")
		if err != nil {
			r.note(row, t, fmt.Sprintf("only %d restarts in 90 s", len(gaps)))
			break
		}
		switch m.kind {
		case "exit":
			lastExit = m.ns
		case "up":
			if lastExit != 0 {
				gaps = append(gaps, float64(m.ns-lastExit)/1e6)
				lastExit = 0
			}
		}
	}
	for i, g := range gaps {
		if i > 0 {
			r.rec(row, t, g)
		}
	}
	r.deleteAll(t)
	return nil
}

func runMemLimit(r *runner, t Tool) error {
	if !t.Supports("memlimit") {
		r.note("memlimit", t, "n/a (no memory limit)")
		return nil
	}
	return tendTwice(r, t, "memlimit", "memlimitproc", func(row string) error { return memLimitReps(r, t, row) })
}

// tendTwice runs measure once for a peer (into row), and twice for tend:
// as it runs on this machine (in a cgroup where it can make one), into row,
// then with a daemon that measures from /proc (TEND_CGROUP=off), into
// procRow.
func tendTwice(r *runner, t Tool, row, procRow string, measure func(row string) error) error {
	tt, ok := t.(*tendTool)
	if !ok {
		return measure(row)
	}
	if err := measure(row); err != nil {
		return err
	}
	tt.Shutdown()
	tt.extraEnv = []string{"TEND_CGROUP=off"}
	err := tt.Init(tt.dir)
	if err == nil {
		err = measure(procRow)
	}
	tt.Shutdown()
	tt.extraEnv = nil
	if ierr := tt.Init(tt.dir); err == nil {
		err = ierr
	}
	return err
}

// memLimitReps measures, reps times, from the moment the app's child has
// touched its memory until a new instance of the app is up.
func memLimitReps(r *runner, t Tool, row string) error {
	for rep := 0; rep < r.cfg.reps; rep++ {
		app := App{Name: "memhog", Args: r.args("mem", "150", "100"), MaxMemory: "100M"}
		pids, _, err := r.startAndWait(t, []App{app}, 60*time.Second)
		if err != nil {
			return err
		}
		if rep == 0 {
			if mode := memoryMode(t); mode != "" {
				r.note(row, t, "memory measured as "+mode)
			}
		}
		first := pids[0]
		mem, err := r.notify.next(time.Now().Add(30*time.Second), "mem")
		if err != nil {
			return fmt.Errorf("the child did not allocate: %w", err)
		}
		deadline := time.Now().Add(r.cfg.memTimeout)
		restarted := false
		for {
			m, err := r.notify.next(deadline, "up")
			if err != nil {
				break
			}
			if m.pid != first {
				r.rec(row, t, float64(m.ns-mem.ns)/1e9)
				restarted = true
				break
			}
		}
		r.deleteAll(t)
		if !restarted {
			r.note(row, t, fmt.Sprintf("not restarted within %v", r.cfg.memTimeout))
			r.fail(row, t, r.cfg.memTimeout.Seconds())
			return nil // no point repeating a timeout
		}
	}
	return nil
}

// memoryMode is how tend says it measures the app's memory ("" for peers).
func memoryMode(t Tool) string {
	if _, ok := t.(*tendTool); !ok {
		return ""
	}
	b, err := t.List()
	if err != nil {
		return ""
	}
	var ps []struct {
		Env struct {
			Mode string `json:"memory_mode"`
		} `json:"pm2_env"`
	}
	if json.Unmarshal(b, &ps) != nil || len(ps) == 0 {
		return ""
	}
	return ps[0].Env.Mode
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func runReload(r *runner, t Tool) error {
	if !t.Supports("reload") {
		r.note("reload", t, "n/a (no reload)")
		return nil
	}
	var totals, times []string
	for rep := 0; rep < r.cfg.reps; rep++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		app := App{Name: "web", Args: r.args("http", addr), KillTimeout: 5000}
		pids, _, err := r.startAndWait(t, []App{app}, 60*time.Second)
		if err != nil {
			return err
		}
		failed, total, reloadTime, err := loadDuringReload(t, "http://"+addr+"/", strconv.Itoa(pids[0]))
		r.deleteAll(t)
		if err != nil {
			return err
		}
		r.rec("reload", t, float64(failed))
		totals = append(totals, strconv.FormatInt(total, 10))
		times = append(times, fmt.Sprintf("%.2f", reloadTime.Seconds()))
	}
	r.note("reload", t, fmt.Sprintf("requests per run %s; the reload command took %s s", strings.Join(totals, ", "), strings.Join(times, ", ")))
	return nil
}

// loadDuringReload sends requests from 4 keep-alive clients for 1 s, reloads
// the app, and goes on until a new process answers and 1 s more. It returns
// the failed requests (errors and non-200), all requests, and the reload
// command's time.
func loadDuringReload(t Tool, url, oldPid string) (failed, total int64, reloadTime time.Duration, err error) {
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	defer hc.CloseIdleConnections()
	// The server answers before the load starts.
	for end := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(end) {
			return 0, 0, 0, fmt.Errorf("the HTTP app does not answer: %w", err)
		}
	}
	var stop atomic.Bool
	var fails, reqs atomic.Int64
	var newPid atomic.Bool
	var wg sync.WaitGroup
	hard := time.Now().Add(40 * time.Second)
	for i := 0; i < 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64)
			for !stop.Load() && time.Now().Before(hard) {
				reqs.Add(1)
				resp, err := hc.Get(url)
				if err != nil {
					fails.Add(1)
					continue
				}
				for {
					if _, err := resp.Body.Read(buf); err != nil {
						break
					}
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					fails.Add(1)
				} else if p := resp.Header.Get("X-Pid"); p != "" && p != oldPid {
					newPid.Store(true)
				}
			}
		}()
	}
	time.Sleep(time.Second)
	t0 := time.Now()
	rerr := t.Reload("web")
	reloadTime = time.Since(t0)
	for end := time.Now().Add(15 * time.Second); !newPid.Load() && time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
	}
	time.Sleep(time.Second)
	stop.Store(true)
	wg.Wait()
	if rerr != nil {
		return fails.Load(), reqs.Load(), reloadTime, rerr
	}
	if !newPid.Load() {
		return fails.Load(), reqs.Load(), reloadTime, errors.New("no new process answered after the reload")
	}
	return fails.Load(), reqs.Load(), reloadTime, nil
}

func runApps1000(r *runner, t Tool) error {
	n := r.cfg.n1000
	pids, d, err := r.startAndWait(t, r.idleApps(n, "k"), 10*time.Minute)
	if err != nil {
		return err
	}
	r.rec("start1000", t, d.Seconds())
	time.Sleep(time.Second)
	for i := 0; i < 3 && t.Name() != "floor"; i++ {
		if i == 0 {
			t.List()
		}
		t0 := time.Now()
		if _, err := t.List(); err != nil {
			return err
		}
		r.rec("list1000", t, ms(time.Since(t0)))
	}
	time.Sleep(time.Second) // as rss10 and rss100: what stays, a second after the lists
	if pid := t.DaemonPID(); pid > 0 {
		if v, err := rssMiB(pid); err == nil {
			r.rec("rss1000", t, v)
		}
	}
	d, err = r.stopAndWait(t, pids, 10*time.Minute)
	if err != nil {
		return err
	}
	r.rec("stop1000", t, d.Seconds())
	r.deleteAll(t)
	return nil
}

// runCurve is tend alone at 10, 100, 1,000 (and with -curve-max, 10,000)
// idle apps: start until online, 3 list calls (after one not counted), the
// daemon's RSS a second later, its CPU over the next 5 s with nothing asked
// of it, stop until gone. Each size after the
// previous one's delete, in the same daemon (which hands its garbage back
// after a burst: what is measured is what stays).
func runCurve(r *runner, t Tool) error {
	if t.Name() != "tend" {
		return nil
	}
	for _, n := range curveSizes {
		if n > r.cfg.curveMax {
			break
		}
		size := n
		if r.cfg.smoke {
			size = max(n/50, 2)
		}
		pids, d, err := r.startAndWait(t, r.idleApps(size, fmt.Sprintf("c%d-", n)), 20*time.Minute)
		if err != nil {
			return err
		}
		r.rec(fmt.Sprintf("curvestart%d", n), t, d.Seconds())
		time.Sleep(time.Second)
		t.List()
		for range 3 {
			t0 := time.Now()
			if _, err := t.List(); err != nil {
				return err
			}
			r.rec(fmt.Sprintf("curvelist%d", n), t, ms(time.Since(t0)))
		}
		time.Sleep(time.Second)
		if pid := t.DaemonPID(); pid > 0 {
			if v, err := rssMiB(pid); err == nil {
				r.rec(fmt.Sprintf("curverss%d", n), t, v)
			}
			// Idle: nothing asked of the daemon for 5 s (after the list's
			// burst has ended: its garbage went back 0.5 s after it).
			a, wa, err := schedCPU(pid)
			t0 := time.Now()
			time.Sleep(5 * time.Second)
			b, wb, err2 := schedCPU(pid)
			if err == nil && err2 == nil {
				el := time.Since(t0).Seconds()
				r.rec(fmt.Sprintf("curveidle%d", n), t, float64(b-a)/1e9/el*100)
				r.note(fmt.Sprintf("curveidle%d", n), t, fmt.Sprintf("%.1f ms of CPU and %.1f wake-ups a second", float64(b-a)/1e6, float64(wb-wa)/el))
			}
		}
		if d, err = r.stopAndWait(t, pids, 20*time.Minute); err != nil {
			return err
		}
		r.rec(fmt.Sprintf("curvestop%d", n), t, d.Seconds())
		r.deleteAll(t)
	}
	return nil
}
