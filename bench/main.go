//go:build linux

// Command bench measures tend against PM2 and supervisord on this machine, in
// one run: go run ./bench (from the repository root). See docs/benchmarks.md.
//
// It installs the peers if they are missing (PM2 at the version pinned in
// bench/package.json into bench/node_modules, supervisord from Debian's
// packages), builds tend and the workload app, gives every tool a fresh home
// of its own in a temporary folder, and stops everything it started.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

type config struct {
	reps       int
	listCalls  int
	n100       int
	n1000      int
	lines      int
	idle       time.Duration
	memTimeout time.Duration
	crashGaps  int
	only       map[string]bool
	peers      []string
	out        string
	docs       bool
	smoke      bool
	keep       bool
	rev        string
	noFloor    bool
	curveMax   int
}

// cell is the figures of one row for one tool.
type cell struct {
	Samples []float64 `json:"samples,omitempty"`
	Over    float64   `json:"over,omitempty"` // a timeout: more than this
	Notes   []string  `json:"notes,omitempty"`
	Err     string    `json:"error,omitempty"`
}

type runner struct {
	cfg    config
	root   string // repository root
	work   string // temporary folder
	appBin string
	// helloBin is bench/hello, the floor of the list row.
	helloBin string
	// idleBin runs the idle and crash modes: the C build of bench/cidle/idle.c
	// when a C compiler is there, else appBin.
	idleBin string
	notify  *notifier
	tools   []Tool
	mu      sync.Mutex
	res     map[string]map[string]*cell // row -> tool -> cell
	meta    map[string]string
}

func (r *runner) logf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, time.Now().Format("15:04:05 ")+format+"\n", a...)
}

func (r *runner) cell(row string, t Tool) *cell {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res[row] == nil {
		r.res[row] = map[string]*cell{}
	}
	c := r.res[row][t.Name()]
	if c == nil {
		c = &cell{}
		r.res[row][t.Name()] = c
	}
	return c
}

func (r *runner) rec(row string, t Tool, v float64) {
	c := r.cell(row, t)
	c.Samples = append(c.Samples, v)
}

func (r *runner) note(row string, t Tool, s string) {
	c := r.cell(row, t)
	for _, n := range c.Notes {
		if n == s {
			return
		}
	}
	c.Notes = append(c.Notes, s)
}

func (r *runner) fail(row string, t Tool, over float64) { r.cell(row, t).Over = over }

func main() {
	var cfg config
	var only, peers string
	flag.IntVar(&cfg.reps, "reps", 3, "repetitions of each timed scenario")
	flag.StringVar(&only, "only", "", "run only these scenarios (comma-separated): "+scenarioNames())
	flag.StringVar(&peers, "peers", "pm2,supervisord", "peers to run beside tend (comma-separated; none for tend alone)")
	flag.IntVar(&cfg.lines, "lines", 1_000_000, "lines written in the log scenario")
	flag.DurationVar(&cfg.idle, "idle", 30*time.Second, "idle CPU window")
	flag.DurationVar(&cfg.memTimeout, "mem-timeout", 40*time.Second, "how long the memory-limit scenario waits for a restart")
	flag.StringVar(&cfg.out, "out", "", "results folder (default bench/results/<date>)")
	flag.BoolVar(&cfg.docs, "docs", false, "also write the table into docs/benchmarks.md and the chart to bench/chart.png")
	flag.BoolVar(&cfg.smoke, "smoke", false, "a quick check that the harness works: tend alone, tiny sizes, one repetition")
	flag.BoolVar(&cfg.keep, "keep", false, "keep the temporary folder (homes, logs)")
	from := flag.String("chart-from", "", "only draw the chart again from a results.json (with -docs: into bench/chart.png)")
	flag.BoolVar(&cfg.noFloor, "no-floor", false, "leave out the floor column (the harness starting the apps itself)")
	flag.IntVar(&cfg.curveMax, "curve-max", 1000, "the largest size of the curve scenario (10, 100, 1000 or 10000)")
	flag.StringVar(&cfg.rev, "rev", "", "build tend from this git revision (e.g. HEAD) instead of the work tree")
	flag.Parse()
	if *from != "" {
		os.Exit(redrawChart(*from, cfg.docs))
	}
	cfg.n100, cfg.n1000, cfg.listCalls, cfg.crashGaps = 100, 1000, 5*cfg.reps, 7*cfg.reps
	if cfg.smoke {
		cfg.reps, cfg.n100, cfg.n1000, cfg.listCalls, cfg.crashGaps = 1, 10, 20, 3, 3
		cfg.lines, cfg.idle, cfg.memTimeout = 20000, 600*time.Millisecond, 3*time.Second
		if !flagSet("peers") {
			peers = "none"
		}
	}
	cfg.only = map[string]bool{}
	for _, s := range splitComma(only) {
		if al, ok := scenarioAliases[s]; ok {
			for _, a := range al {
				cfg.only[a] = true
			}
		} else {
			cfg.only[s] = true
		}
	}
	for s := range cfg.only {
		if !knownScenario(s) {
			fmt.Fprintf(os.Stderr, "unknown scenario %q; known: %s\n", s, scenarioNames())
			os.Exit(2)
		}
	}
	for _, p := range splitComma(peers) {
		if p != "none" {
			cfg.peers = append(cfg.peers, strings.ToLower(p))
		}
	}
	os.Exit(run(cfg))
}

// redrawChart draws the chart of a finished run again from its results.json.
func redrawChart(path string, docs bool) int {
	b, err := os.ReadFile(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	var saved struct {
		Meta    map[string]string           `json:"meta"`
		Results map[string]map[string]*cell `json:"results"`
	}
	if err := json.Unmarshal(b, &saved); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if saved.Meta["pm2"] == "" {
		saved.Meta["pm2"] = os.Getenv("PM2_VERSION") // runs from before the version was saved
	}
	r := &runner{res: saved.Results, meta: saved.Meta}
	png := r.chart()
	if png == nil {
		fmt.Fprintln(os.Stderr, "nothing to draw: no figure of both tend and PM2")
		return 1
	}
	out := filepath.Join(filepath.Dir(path), "chart.png")
	if docs {
		root, err := repoRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		out = filepath.Join(root, "bench", "chart.png")
	}
	if err := os.WriteFile(out, png, 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Fprintln(os.Stderr, "wrote", out)
	return 0
}

func flagSet(name string) bool {
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

func splitComma(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func scenarioNames() string {
	var n []string
	for _, s := range scenarios {
		n = append(n, s.Name)
	}
	for a := range scenarioAliases {
		n = append(n, a)
	}
	sort.Strings(n[len(scenarios):])
	return strings.Join(n, ", ")
}

func knownScenario(s string) bool {
	for _, sc := range scenarios {
		if sc.Name == s {
			return true
		}
	}
	return false
}

// run is the whole benchmark; it returns the exit code.
func run(cfg config) int {
	r := &runner{cfg: cfg, res: map[string]map[string]*cell{}, meta: map[string]string{}}
	return r.runAll()
}

// runAll sets up, runs the selected scenarios on every tool, cleans up and
// reports; it returns the exit code (2: could not set up).
func (r *runner) runAll() int {
	cfg := r.cfg
	var err error
	if r.root, err = repoRoot(); err != nil {
		r.logf("%v", err)
		return 2
	}
	if r.work, err = os.MkdirTemp("", "tend-bench-"); err != nil {
		r.logf("%v", err)
		return 2
	}
	// Whatever happens, every process started is stopped.
	var cleanOnce sync.Once
	cleanup := func() {
		cleanOnce.Do(func() {
			for _, t := range r.tools {
				t.Shutdown()
			}
			if r.appBin != "" {
				if n := killExe(r.appBin) + killExe(r.idleBin); n > 0 {
					r.logf("killed %d leftover app processes", n)
				}
			}
			if !cfg.keep {
				os.RemoveAll(r.work)
			} else {
				r.logf("kept %s", r.work)
			}
		})
	}
	defer cleanup()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	go func() {
		s, ok := <-sigs
		if !ok {
			return
		}
		r.logf("%v: cleaning up", s)
		cleanup()
		os.Exit(130)
	}()

	if err := r.setup(); err != nil {
		r.logf("setup: %v", err)
		return 2
	}
	if r.notify != nil {
		defer r.notify.conn.Close()
	}
	start := time.Now()
	for _, sc := range scenarios {
		if len(cfg.only) > 0 && !cfg.only[sc.Name] {
			continue
		}
		for _, t := range r.tools {
			if t.Name() == "floor" && !sc.Floor {
				continue
			}
			r.runScenario(sc, t)
		}
	}
	r.meta["duration"] = time.Since(start).Round(time.Second).String()
	r.meta["load"] += " → " + loadAvg() + " at the end"
	return r.report()
}

// runScenario runs one scenario on one tool, each with a fresh daemon, and
// records an error in the scenario's rows rather than stopping the run.
func (r *runner) runScenario(sc scenario, t Tool) {
	r.logf("%s: %s", sc.Name, t.Name())
	t0 := time.Now()
	reps := 1
	if sc.PerRep {
		reps = r.cfg.reps
	}
	for rep := 0; rep < reps; rep++ {
		dir := filepath.Join(r.work, fmt.Sprintf("%s-%s-%d", sc.Name, strings.ToLower(t.Name()), rep))
		os.MkdirAll(dir, 0o755)
		err := t.Init(dir)
		if err == nil {
			err = sc.Run(r, t)
		}
		t.Shutdown()
		if n := killExe(r.appBin) + killExe(r.idleBin); n > 0 {
			r.logf("  killed %d app processes left by %s", n, t.Name())
		}
		if err != nil {
			r.logf("  %s: %s: %v", sc.Name, t.Name(), err)
			for _, row := range sc.Rows {
				c := r.cell(row, t)
				if len(c.Samples) == 0 && c.Over == 0 {
					c.Err = firstLine(err.Error())
				}
			}
			break
		}
	}
	for _, row := range sc.Rows {
		c := r.cell(row, t)
		if len(c.Samples) > 0 {
			st := summarize(c.Samples)
			r.logf("  %-10s %s: median %.4g %s (%.4g–%.4g, n=%d)", row, t.Name(), st.Median, rowByID(row).Unit, st.Min, st.Max, st.N)
		}
	}
	r.logf("  %s on %s took %v", sc.Name, t.Name(), time.Since(t0).Round(100*time.Millisecond))
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}

func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && strings.Contains(string(b), "module github.com/tend-dev/tend\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("run the benchmark from inside the tend repository (go run ./bench)")
		}
		dir = parent
	}
}

// setup builds tend and the app, installs the peers that are missing, and
// records the machine and versions.
func (r *runner) setup() error {
	tendBin := filepath.Join(r.work, "tend")
	r.appBin = filepath.Join(r.work, "tendbenchapp")
	r.logf("building tend and the workload app in %s", r.work)
	src := r.root
	if r.cfg.rev != "" {
		// A committed revision, exported without touching the work tree.
		src = filepath.Join(r.work, "src")
		os.MkdirAll(src, 0o755)
		if _, err := runCmd(os.Environ(), r.root, "sh", "-c", "git archive --format=tar \"$1\" | tar -x -C \"$2\"", "sh", r.cfg.rev, src); err != nil {
			return err
		}
	}
	// As the README builds it: static (cgo on would link libc into every CLI
	// call and the daemon), without the symbol table and DWARF (a third of
	// the file: fewer pages to map at each CLI call). The list's floor, a
	// hello-world Go program, is built the same way.
	static := append(os.Environ(), "CGO_ENABLED=0")
	if _, err := runCmd(static, src, "go", "build", "-ldflags=-s -w", "-o", tendBin, "./cmd/tend"); err != nil {
		return err
	}
	r.helloBin = filepath.Join(r.work, "tendbenchhello")
	if _, err := runCmd(static, r.root, "go", "build", "-ldflags=-s -w", "-o", r.helloBin, "./bench/hello"); err != nil {
		return err
	}
	if _, err := runCmd(os.Environ(), r.root, "go", "build", "-o", r.appBin, "./bench/app"); err != nil {
		return err
	}
	r.idleBin = filepath.Join(r.work, "tendbenchidle")
	r.meta["workload"] = "idle and crash apps: bench/cidle/idle.c built with cc -O2"
	if _, err := runCmd(os.Environ(), r.root, "cc", "-O2", "-o", r.idleBin, "bench/cidle/idle.c"); err != nil {
		r.logf("no C build of the idle app (%v): the Go app stands in", firstLine(err.Error()))
		r.idleBin = r.appBin
		r.meta["workload"] = "idle and crash apps: the Go app (no C compiler)"
	}
	var err error
	if r.notify, err = newNotifier(r.work); err != nil {
		return err
	}
	tv := "dev"
	rev := r.cfg.rev
	if rev == "" {
		rev = "HEAD"
	}
	if b, err := runCmd(os.Environ(), r.root, "git", "rev-parse", "--short", rev); err == nil {
		tv = "commit " + strings.TrimSpace(string(b))
		if b, _ := runCmd(os.Environ(), r.root, "git", "status", "--porcelain", "--", "cmd", "internal", "go.mod"); r.cfg.rev == "" && len(strings.TrimSpace(string(b))) > 0 {
			tv += " + uncommitted changes"
		}
	}
	if !r.cfg.noFloor {
		r.tools = append(r.tools, &floorTool{appBin: r.appBin, helloBin: r.helloBin})
	}
	r.tools = append(r.tools, &tendTool{bin: tendBin, appBin: r.appBin, version: tv})
	for _, p := range r.cfg.peers {
		switch p {
		case "pm2":
			t, err := r.setupPM2()
			if err != nil {
				return fmt.Errorf("PM2: %w", err)
			}
			r.tools = append(r.tools, t)
			r.meta["pm2"] = strings.Fields(t.Version())[0]
		case "supervisord", "supervisor":
			t, err := r.setupSupervisor()
			if err != nil {
				r.logf("supervisord left out: %v", err)
				continue
			}
			r.tools = append(r.tools, t)
		default:
			return fmt.Errorf("unknown peer %q (pm2, supervisord)", p)
		}
	}
	r.machine()
	for _, t := range r.tools {
		r.logf("%s %s", t.Name(), t.Version())
	}
	return nil
}

func (r *runner) setupPM2() (Tool, error) {
	benchDir := filepath.Join(r.root, "bench")
	var want struct {
		Dependencies map[string]string `json:"dependencies"`
	}
	b, err := os.ReadFile(filepath.Join(benchDir, "package.json"))
	if err != nil {
		return nil, err
	}
	json.Unmarshal(b, &want)
	version := want.Dependencies["pm2"]
	installed := func() string {
		var pj struct{ Version string }
		b, err := os.ReadFile(filepath.Join(benchDir, "node_modules", "pm2", "package.json"))
		if err != nil {
			return ""
		}
		json.Unmarshal(b, &pj)
		return pj.Version
	}
	if installed() != version {
		r.logf("installing pm2@%s into bench/node_modules", version)
		args := []string{"install", "--no-audit", "--no-fund", "--loglevel=error"}
		if _, err := os.Stat(filepath.Join(benchDir, "package-lock.json")); err == nil {
			args[0] = "ci"
		}
		if _, err := runCmd(os.Environ(), benchDir, "npm", args...); err != nil {
			return nil, err
		}
		if v := installed(); v != version {
			return nil, fmt.Errorf("bench/node_modules has pm2 %q, not %s", v, version)
		}
	}
	node := "node"
	if b, err := runCmd(os.Environ(), r.root, "node", "--version"); err == nil {
		node = "node " + strings.TrimSpace(string(b))
	}
	return &pm2Tool{bin: filepath.Join(benchDir, "node_modules", ".bin", "pm2"), appBin: r.appBin, version: version + " (" + node + ")"}, nil
}

func (r *runner) setupSupervisor() (Tool, error) {
	sd, err := exec.LookPath("supervisord")
	if err != nil {
		if _, aerr := exec.LookPath("apt-get"); aerr != nil || os.Getuid() != 0 {
			return nil, fmt.Errorf("supervisord is not installed (apt-get install supervisor)")
		}
		r.logf("installing supervisor from Debian's packages")
		env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		if _, err := runCmd(env, "/", "apt-get", "install", "-y", "-q", "supervisor"); err != nil {
			runCmd(env, "/", "apt-get", "update", "-q")
			if _, err := runCmd(env, "/", "apt-get", "install", "-y", "-q", "supervisor"); err != nil {
				return nil, err
			}
		}
		if sd, err = exec.LookPath("supervisord"); err != nil {
			return nil, err
		}
	}
	sc, err := exec.LookPath("supervisorctl")
	if err != nil {
		return nil, err
	}
	v := "?"
	if b, err := runCmd(os.Environ(), "/", sd, "--version"); err == nil {
		v = strings.TrimSpace(string(b))
	}
	return &supervisorTool{supervisord: sd, supervisorctl: sc, appBin: r.appBin, version: v}, nil
}

// loadAvg is the 1-minute load average and the number of processes: other
// work on the machine skews every figure, and a walk of /proc costs more the
// more processes there are.
func loadAvg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 4 {
		return "?"
	}
	procs := 0
	if ents, err := os.ReadDir("/proc"); err == nil {
		for _, e := range ents {
			if c := e.Name()[0]; c >= '0' && c <= '9' {
				procs++
			}
		}
	}
	return fmt.Sprintf("load %s, %d processes", f[0], procs)
}

func (r *runner) machine() {
	cpu := "?"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "model name") {
				cpu = strings.TrimSpace(strings.SplitN(l, ":", 2)[1])
				break
			}
		}
	}
	mem := "?"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		fmt.Sscanf(strings.TrimPrefix(strings.SplitN(string(b), "\n", 2)[0], "MemTotal:"), "%d", &kb)
		mem = fmt.Sprintf("%.0f GiB", float64(kb)/(1<<20))
	}
	osv := "Linux"
	if b, err := os.ReadFile("/etc/os-release"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(l, "PRETTY_NAME=") {
				osv = strings.Trim(strings.TrimPrefix(l, "PRETTY_NAME="), `"`)
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	r.meta["machine"] = fmt.Sprintf("%d cores (%s), %s RAM, %s, kernel %s", runtime.NumCPU(), cpu, mem, osv, strings.TrimSpace(string(kernel)))
	r.meta["go"] = runtime.Version()
	r.meta["load"] = loadAvg() + " at the start"
	r.meta["date"] = time.Now().UTC().Format("2006-01-02 15:04 UTC")
	r.meta["config"] = r.meta["workload"] + "; " + fmt.Sprintf("reps %d, %d jlist calls, %d lines, idle window %v, crash gaps %d, memory-limit wait %v",
		r.cfg.reps, r.cfg.listCalls, r.cfg.lines, r.cfg.idle, r.cfg.crashGaps, r.cfg.memTimeout)
	if r.cfg.smoke {
		r.meta["config"] += " (smoke: 100 → 10 apps, 1,000 → 20)"
	}
}
