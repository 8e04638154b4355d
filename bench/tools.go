//go:build linux

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// App is one app of a scenario, in terms every tool can express.
type App struct {
	Name          string
	Bin           string   // the program; "" = the Go app
	Args          []string // after the app binary
	OutFile       string   // "" = the tool's default
	Time          bool     // timestamp every line
	NoAutorestart bool
	RestartDelay  int // ms
	MinUptime     int // ms, 0 = the tool's default
	MaxRestarts   int // 0 = the tool's default
	MaxMemory     string
	KillTimeout   int // ms, 0 = the tool's default
}

// Tool is one process manager under test. Every method runs its real CLI.
type Tool interface {
	Name() string
	Version() string
	// Init gives the tool a fresh home under dir and starts its daemon.
	Init(dir string) error
	// Shutdown stops every app and the daemon.
	Shutdown()
	DaemonPID() int
	// Start starts apps from one config file (written first, not timed) and
	// returns when the start command has returned.
	Start(apps []App) error
	StopAll() error
	DeleteAll() error
	// List is one status round trip of the whole CLI (jlist or its like).
	List() ([]byte, error)
	// Online returns how many apps the tool reports online/running.
	Online() (int, error)
	Reload(name string) error
	Supports(feature string) bool // "time", "memlimit", "reload"
}

// cmdTimeout bounds every CLI call.
var cmdTimeout = 5 * time.Minute

func runCmd(env []string, dir string, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.Bytes(), fmt.Errorf("%s %s: %w: %s", filepath.Base(name), strings.Join(args, " "), err, tail(errb.String()+out.String(), 400))
	}
	return out.Bytes(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// baseEnv is the harness's environment without any tool's home.
func baseEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "TEND_HOME=") || strings.HasPrefix(kv, "PM2_HOME=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// ecosystem writes apps as a PM2 ecosystem file (tend reads the same file).
func ecosystem(path, appBin string, apps []App) error {
	var list []map[string]any
	for _, a := range apps {
		bin := appBin
		if a.Bin != "" {
			bin = a.Bin
		}
		m := map[string]any{
			"name": a.Name, "script": bin, "args": a.Args, "interpreter": "none",
			"exec_mode": "fork", "instances": 1, "merge_logs": true,
			"autorestart": !a.NoAutorestart, "restart_delay": a.RestartDelay,
		}
		if a.OutFile != "" {
			m["out_file"] = a.OutFile
			m["error_file"] = strings.TrimSuffix(a.OutFile, "-out.log") + "-err.log"
		}
		if a.Time {
			m["time"] = true
		}
		if a.MinUptime > 0 {
			m["min_uptime"] = a.MinUptime
		}
		if a.MaxRestarts > 0 {
			m["max_restarts"] = a.MaxRestarts
		}
		if a.MaxMemory != "" {
			m["max_memory_restart"] = a.MaxMemory
		}
		if a.KillTimeout > 0 {
			m["kill_timeout"] = a.KillTimeout
		}
		list = append(list, m)
	}
	b, err := json.MarshalIndent(map[string]any{"apps": list}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(append([]byte("module.exports = "), b...), ";\n"...), 0o644)
}

// jlistOnline counts "online" entries in PM2-shaped jlist output.
func jlistOnline(b []byte) (int, error) {
	var ps []struct {
		PM2Env struct {
			Status string `json:"status"`
		} `json:"pm2_env"`
	}
	// PM2 may print a banner before the JSON.
	if i := bytes.IndexByte(b, '['); i > 0 {
		b = b[i:]
	}
	if err := json.Unmarshal(bytes.TrimSpace(b), &ps); err != nil {
		return 0, fmt.Errorf("jlist: %v", err)
	}
	n := 0
	for _, p := range ps {
		if p.PM2Env.Status == "online" {
			n++
		}
	}
	return n, nil
}

// readPID reads the first number in a file.
func readPID(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	return n
}

// waitGone waits up to d for pid to exit; then SIGKILLs it.
func waitGone(pid int, d time.Duration) {
	if pid <= 0 {
		return
	}
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if !alive(pid) {
			return
		}
	}
	syscall.Kill(pid, syscall.SIGKILL)
}

// ---- tend --------------------------------------------------------------------

type tendTool struct {
	bin, appBin, version string
	home, dir            string
	pid                  int
	extraEnv             []string // for the daemon Init starts
}

func (t *tendTool) Name() string    { return "tend" }
func (t *tendTool) Version() string { return t.version }
func (t *tendTool) env() []string {
	return baseEnv(append([]string{"TEND_HOME=" + t.home}, t.extraEnv...)...)
}
func (t *tendTool) run(args ...string) ([]byte, error) {
	return runCmd(t.env(), t.dir, t.bin, args...)
}

func (t *tendTool) Init(dir string) error {
	t.dir, t.home = dir, filepath.Join(dir, "home")
	if _, err := t.run("ping"); err != nil {
		return err
	}
	t.pid = readPID(filepath.Join(t.home, "daemon.lock"))
	if t.pid == 0 {
		return fmt.Errorf("tend: no daemon pid in %s", t.home)
	}
	return nil
}

func (t *tendTool) Shutdown() {
	if t.home == "" {
		return
	}
	t.run("kill")
	waitGone(t.pid, 10*time.Second)
	t.pid = 0
}

func (t *tendTool) DaemonPID() int { return t.pid }

func (t *tendTool) Start(apps []App) error {
	f := filepath.Join(t.dir, "bench.config.js")
	if err := ecosystem(f, t.appBin, apps); err != nil {
		return err
	}
	_, err := t.run("start", f)
	return err
}

func (t *tendTool) StopAll() error           { _, err := t.run("stop", "all"); return err }
func (t *tendTool) DeleteAll() error         { _, err := t.run("delete", "all"); return err }
func (t *tendTool) List() ([]byte, error)    { return t.run("jlist") }
func (t *tendTool) Reload(name string) error { _, err := t.run("reload", name); return err }
func (t *tendTool) Supports(string) bool     { return true }
func (t *tendTool) Online() (int, error) {
	b, err := t.List()
	if err != nil {
		return 0, err
	}
	return jlistOnline(b)
}

// ---- PM2 ---------------------------------------------------------------------

type pm2Tool struct {
	bin, appBin, version string
	home, dir            string
	pid                  int
}

func (t *pm2Tool) Name() string    { return "PM2" }
func (t *pm2Tool) Version() string { return t.version }
func (t *pm2Tool) env() []string {
	return baseEnv("PM2_HOME="+t.home, "PM2_DISABLE_VERSION_CHECK=true", "NO_COLOR=1")
}
func (t *pm2Tool) run(args ...string) ([]byte, error) {
	return runCmd(t.env(), t.dir, t.bin, args...)
}

func (t *pm2Tool) Init(dir string) error {
	t.dir, t.home = dir, filepath.Join(dir, "home")
	if err := os.MkdirAll(t.home, 0o755); err != nil {
		return err
	}
	if _, err := t.run("ping"); err != nil {
		return err
	}
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end) && t.pid == 0; time.Sleep(50 * time.Millisecond) {
		t.pid = readPID(filepath.Join(t.home, "pm2.pid"))
	}
	if t.pid == 0 {
		return fmt.Errorf("pm2: no daemon pid in %s", t.home)
	}
	return nil
}

func (t *pm2Tool) Shutdown() {
	if t.home == "" {
		return
	}
	t.run("kill")
	waitGone(t.pid, 10*time.Second)
	t.pid = 0
}

func (t *pm2Tool) DaemonPID() int { return t.pid }

func (t *pm2Tool) Start(apps []App) error {
	f := filepath.Join(t.dir, "bench.config.js")
	if err := ecosystem(f, t.appBin, apps); err != nil {
		return err
	}
	_, err := t.run("start", f)
	return err
}

func (t *pm2Tool) StopAll() error           { _, err := t.run("stop", "all"); return err }
func (t *pm2Tool) DeleteAll() error         { _, err := t.run("delete", "all"); return err }
func (t *pm2Tool) List() ([]byte, error)    { return t.run("jlist") }
func (t *pm2Tool) Reload(name string) error { _, err := t.run("reload", name); return err }
func (t *pm2Tool) Supports(string) bool     { return true }
func (t *pm2Tool) Online() (int, error) {
	b, err := t.List()
	if err != nil {
		return 0, err
	}
	return jlistOnline(b)
}

// ---- supervisord ---------------------------------------------------------------

type supervisorTool struct {
	supervisord, supervisorctl, appBin, version string
	dir, conf                                   string
	cmd                                         *exec.Cmd
	pid                                         int
	exited                                      chan struct{}
}

func (t *supervisorTool) Name() string    { return "supervisord" }
func (t *supervisorTool) Version() string { return t.version }
func (t *supervisorTool) ctl(args ...string) ([]byte, error) {
	return runCmd(baseEnv(), t.dir, t.supervisorctl, append([]string{"-c", t.conf}, args...)...)
}

func (t *supervisorTool) Init(dir string) error {
	t.dir = dir
	t.conf = filepath.Join(dir, "supervisord.conf")
	os.MkdirAll(filepath.Join(dir, "conf.d"), 0o755)
	os.MkdirAll(filepath.Join(dir, "logs"), 0o755)
	conf := fmt.Sprintf(`[unix_http_server]
file=%[1]s/supervisor.sock

[supervisord]
logfile=%[1]s/supervisord.log
pidfile=%[1]s/supervisord.pid
childlogdir=%[1]s/logs
minfds=16384
minprocs=200
user=root

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://%[1]s/supervisor.sock

[include]
files = %[1]s/conf.d/*.conf
`, dir)
	if err := os.WriteFile(t.conf, []byte(conf), 0o644); err != nil {
		return err
	}
	t.cmd = exec.Command(t.supervisord, "-n", "-c", t.conf)
	t.cmd.Env = baseEnv()
	t.cmd.Dir = dir
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := t.cmd.Start(); err != nil {
		return err
	}
	t.pid = t.cmd.Process.Pid
	t.exited = make(chan struct{})
	go func() { t.cmd.Wait(); close(t.exited) }()
	for end := time.Now().Add(15 * time.Second); time.Now().Before(end); time.Sleep(50 * time.Millisecond) {
		if _, err := t.ctl("pid"); err == nil {
			return nil
		}
	}
	return fmt.Errorf("supervisord did not answer; see %s/supervisord.log", dir)
}

func (t *supervisorTool) Shutdown() {
	if t.cmd == nil {
		return
	}
	t.ctl("shutdown")
	select {
	case <-t.exited:
	case <-time.After(30 * time.Second):
		t.cmd.Process.Kill()
		<-t.exited
	}
	t.cmd = nil
	t.pid = 0
}

func (t *supervisorTool) DaemonPID() int { return t.pid }

func (t *supervisorTool) Start(apps []App) error {
	var b strings.Builder
	for _, a := range apps {
		out := a.OutFile
		if out == "" {
			out = filepath.Join(t.dir, "logs", a.Name+"-out.log")
		}
		errf := strings.TrimSuffix(out, "-out.log") + "-err.log"
		bin := t.appBin
		if a.Bin != "" {
			bin = a.Bin
		}
		stopWait := 2
		if a.KillTimeout > 0 {
			stopWait = (a.KillTimeout + 999) / 1000
		}
		fmt.Fprintf(&b, "[program:%s]\ncommand=%s %s\nautostart=true\nautorestart=%v\nstartsecs=0\nstartretries=1000\n"+
			"stopsignal=INT\nstopwaitsecs=%d\nstopasgroup=true\nkillasgroup=true\n"+
			"stdout_logfile=%s\nstdout_logfile_maxbytes=0\nstderr_logfile=%s\nstderr_logfile_maxbytes=0\n\n",
			a.Name, bin, strings.Join(a.Args, " "), !a.NoAutorestart, stopWait, out, errf)
	}
	if err := os.WriteFile(filepath.Join(t.dir, "conf.d", "apps.conf"), []byte(b.String()), 0o644); err != nil {
		return err
	}
	_, err := t.ctl("update")
	return err
}

func (t *supervisorTool) StopAll() error { _, err := t.ctl("stop", "all"); return err }
func (t *supervisorTool) DeleteAll() error {
	os.Remove(filepath.Join(t.dir, "conf.d", "apps.conf"))
	_, err := t.ctl("update")
	return err
}

// List is `supervisorctl status`, which exits 3 when some app is not running.
func (t *supervisorTool) List() ([]byte, error) {
	b, err := t.ctl("status")
	if ee := (*exec.ExitError)(nil); err != nil && asExit(err, &ee) && ee.ExitCode() == 3 {
		err = nil
	}
	return b, err
}

func asExit(err error, target **exec.ExitError) bool {
	for e := err; e != nil; {
		if x, ok := e.(*exec.ExitError); ok {
			*target = x
			return true
		}
		u, ok := e.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		e = u.Unwrap()
	}
	return false
}

func (t *supervisorTool) Online() (int, error) {
	b, err := t.List()
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[1] == "RUNNING" {
			n++
		}
	}
	return n, err
}

func (t *supervisorTool) Reload(string) error { return errUnsupported }
func (t *supervisorTool) Supports(f string) bool {
	return false // no timestamps, no memory limit, no reload
}

var errUnsupported = fmt.Errorf("not supported")

// ---- floor -------------------------------------------------------------------------

// floorTool is the harness itself acting as the simplest process manager
// there is: one goroutine per app that starts it, waits for it and, for a
// crash, starts it again at once; stop is SIGINT to each. Its figures are the
// floor of the workload on this machine (fork, exec, the app's own start and
// exit), which no manager can go under; what a tool takes above it is its own.
type floorTool struct {
	appBin   string
	helloBin string // its "list": a hello-world Go program, the least a CLI call costs
	mu       sync.Mutex
	apps     map[string]*floorApp
	wg       sync.WaitGroup
}

type floorApp struct {
	stop bool
	cmd  *exec.Cmd
}

func (t *floorTool) Name() string    { return "floor" }
func (t *floorTool) Version() string { return "(the harness starting the apps itself)" }
func (t *floorTool) Init(string) error {
	t.apps = map[string]*floorApp{}
	return nil
}
func (t *floorTool) DaemonPID() int { return 0 }

func (t *floorTool) Shutdown() {
	t.signalAll(syscall.SIGKILL, true)
	t.wg.Wait()
}

func (t *floorTool) Start(apps []App) error {
	for _, a := range apps {
		fa := &floorApp{}
		t.mu.Lock()
		t.apps[a.Name] = fa
		t.mu.Unlock()
		bin := t.appBin
		if a.Bin != "" {
			bin = a.Bin
		}
		start := func() error {
			cmd := exec.Command(bin, a.Args...) // stdin, stdout, stderr: /dev/null
			cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := cmd.Start(); err != nil {
				return err
			}
			t.mu.Lock()
			fa.cmd = cmd
			t.mu.Unlock()
			return nil
		}
		if err := start(); err != nil {
			return err
		}
		t.wg.Add(1)
		go func() {
			defer t.wg.Done()
			for {
				t.mu.Lock()
				cmd := fa.cmd
				t.mu.Unlock()
				cmd.Wait()
				t.mu.Lock()
				stop := fa.stop
				t.mu.Unlock()
				if stop || a.NoAutorestart || start() != nil {
					return
				}
			}
		}()
	}
	return nil
}

func (t *floorTool) signalAll(sig syscall.Signal, forget bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for name, fa := range t.apps {
		fa.stop = true
		if fa.cmd != nil && fa.cmd.Process != nil {
			fa.cmd.Process.Signal(sig)
		}
		if forget {
			delete(t.apps, name)
		}
	}
}

func (t *floorTool) StopAll() error         { t.signalAll(syscall.SIGINT, false); return nil }
func (t *floorTool) DeleteAll() error       { t.signalAll(syscall.SIGINT, true); t.wg.Wait(); return nil }
func (t *floorTool) List() ([]byte, error)  { return exec.Command(t.helloBin).Output() }
func (t *floorTool) Online() (int, error)   { return 0, errUnsupported }
func (t *floorTool) Reload(string) error    { return errUnsupported }
func (t *floorTool) Supports(f string) bool { return false }
