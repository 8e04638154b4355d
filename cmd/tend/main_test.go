//go:build linux

package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/cgroup"
	"github.com/tend-dev/tend/internal/cli"
	"github.com/tend-dev/tend/internal/client"
)

func TestMain(m *testing.M) {
	if home := os.Getenv("TEND_TEST_CGROUP_PROBE"); home != "" {
		// [cgroup], in a process of its own: on cgroup v2 Open may move
		// the process that asks into a leaf group.
		cg := cgroup.Open(cgroup.Settings{Home: home})
		ok := cg.Version() != cgroup.None
		cg.Close()
		if !ok {
			os.Exit(1)
		}
		os.Exit(0)
	}
	testscript.Main(m, map[string]func(){
		"tend":        func() { os.Exit(cli.Main(os.Args[1:])) },
		"tend-writer": writer,
		"tend-alloc":  alloc,
		"tend-seq":    seq,
		"tend-listen": listen,
		"tend-serve":  serve,
		"tend-http":   httpApp, // reload_test.go
	})
}

// writer prints N numbered lines of 92 bytes as fast as it can:
// tend-writer N [out|err]
func writer() {
	n, _ := strconv.Atoi(os.Args[1])
	f := os.Stdout
	if len(os.Args) > 2 && os.Args[2] == "err" {
		f = os.Stderr
	}
	w := bufio.NewWriterSize(f, 64<<10)
	pad := strings.Repeat("x", 70)
	for i := 0; i < n; i++ {
		fmt.Fprintf(w, "%010d %s\n", i, pad[:80-10])
	}
	w.Flush()
}

// alloc holds MB megabytes of touched memory until killed: tend-alloc MB
func alloc() {
	mb, _ := strconv.Atoi(os.Args[1])
	buf := make([]byte, mb<<20)
	for i := 0; i < len(buf); i += 4096 {
		buf[i] = 1
	}
	fmt.Println("allocated", mb, "MB")
	for {
		time.Sleep(time.Hour)
		buf[0]++
	}
}

// seq prints "seq 0", "seq 1", … one line a millisecond, until killed.
func seq() {
	for i := 0; ; i++ {
		fmt.Printf("seq %d\n", i)
		time.Sleep(time.Millisecond)
	}
}

// listen holds a TCP port on 127.0.0.1 until killed: tend-listen PORT
func listen() {
	l, err := net.Listen("tcp", "127.0.0.1:"+os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		c.Close()
	}
}

// serve is a small service: tend-serve NAME PORT. It appends "start NAME"
// and, on SIGINT/SIGTERM, "stop NAME" to $CHAIN_LOG, and answers /health
// with 200, or 503 while a file named "sick" exists in its cwd.
func serve() {
	name, port := os.Args[1], os.Args[2]
	note := func(s string) {
		if p := os.Getenv("CHAIN_LOG"); p != "" {
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err == nil {
				fmt.Fprintln(f, s+" "+name)
				f.Close()
			}
		}
	}
	note("start") // before listening: a probe that passes implies this line
	l, err := net.Listen("tcp", "127.0.0.1:"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sigs
		note("stop")
		os.Exit(0)
	}()
	http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := os.Stat("sick"); err == nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		fmt.Fprintln(w, "ok")
	}))
}

func TestScripts(t *testing.T) {
	p := scriptParams()
	p.Dir = "testdata/script"
	testscript.Run(t, p)
}

// scriptParams are the settings and commands of every end-to-end script.
func scriptParams() testscript.Params {
	return testscript.Params{
		RequireExplicitExec: true,
		Condition:           condition,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, ".tend")
			env.Setenv("TEND_HOME", home)
			env.Setenv("NO_COLOR", "1")
			env.Defer(func() { killDaemon(home) })
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"wait-status":   cmdWaitStatus,
			"wait-restarts": cmdWaitRestarts,
			"wait-file":     cmdWaitFile,
			"no-process":    cmdNoProcess,
			"wait-process":  cmdWaitProcess,
			"daemons":       cmdDaemons,
			"check-lines":   cmdCheckLines,
			"jlist-field":   cmdJlistField,
			"save-pids":     cmdSavePids,
			"wait-port":     cmdWaitPort,
			"wait-jlist":    cmdWaitJlist,
			"copy-example":  cmdCopyExample,
			"started-after": cmdStartedAfter,
			"kill-app":      cmdKillApp,
			"pg-clean":      cmdPgClean,
			"pids-kept":     cmdPidsKept,
			"kill-daemon":   cmdKillDaemon,
			"keeps-field":   cmdKeepsField,
			"pm2-shape":     cmdPM2Shape,
			"pm2-conform":   cmdPM2Conform,
			"pm2-exec":      cmdPM2Exec,
			"check-seq":     cmdCheckSeq,
			"log-bounded":   cmdLogBounded, // survive_test.go
			"wait-glob":     cmdWaitGlob,
			"fake-daemon":   cmdFakeDaemon, // version_test.go
			"unit-verify":   cmdUnitVerify, // startup_test.go
			"tmpfs":         cmdTmpfs,      // diskfull_test.go
			"check-drops":   cmdCheckDrops,
			"api-post":      cmdAPIPost, // trust_test.go
			"pty-run":       cmdPtyRun,
			// logs, rotation, metrics, monit (observe_test.go)
			"follow-start":  cmdFollowStart,
			"follow-stop":   cmdFollowStop,
			"slow-follow":   cmdSlowFollow,
			"check-rotated": cmdCheckRotated,
			"scrape":        cmdScrape,
			"tmux-start":    cmdTmuxStart,
			"tmux-keys":     cmdTmuxKeys,
			"tmux-gone":     cmdTmuxGone,
			"screen":        cmdScreen,
			"proc-cpu":      cmdProcCPU,
			"json-lines":    cmdJSONLines,
			// zero-downtime reload (reload_test.go)
			"load-start":   cmdLoadStart,
			"load-stop":    cmdLoadStop,
			"pids-changed": cmdPidsChanged,
			"load-wait":    cmdLoadWait,
			"wait-healthy": cmdWaitHealthy,
			"port-closed":  cmdPortClosed,
			// tend run as PID 1 of a PID namespace (run_test.go)
			"run-ns":     cmdRunNS,
			"run-signal": cmdRunSignal,
			"run-wait":   cmdRunWait,
			"ns-zombies": cmdNSZombies,
			// the dashboard in a real browser (web_test.go)
			"web-refused":              cmdWebRefused,
			"browser-open":             cmdBrowserOpen,
			"browser-wait-row":         cmdBrowserWaitRow,
			"browser-pid":              cmdBrowserPid,
			"browser-click":            cmdBrowserClick,
			"browser-confirm":          cmdBrowserConfirm,
			"browser-wait-pid-changed": cmdBrowserWaitPidChanged,
			"browser-select":           cmdBrowserSelect,
			"browser-wait-log":         cmdBrowserWaitLog,
			"browser-wait-text":        cmdBrowserWaitText,
			"browser-wait-samples":     cmdBrowserWaitSamples,
			"browser-csrf-refused":     cmdBrowserCSRFRefused,
			"browser-screenshot":       cmdBrowserScreenshot,
			"browser-phone":            cmdBrowserPhone,
			"browser-scheme":           cmdBrowserScheme,
			"browser-stale-stats":      cmdBrowserStaleStats,
			"browser-js":               cmdBrowserJS,
			"browser-wait-js":          cmdBrowserWaitJS,
		},
	}
}

// condition answers [root], [tmpfs], and [cgroup]: the daemon can give apps cgroups
// of their own on this machine (cgroup v2 delegated, or the v1 memory
// controller).
func condition(cond string) (bool, error) {
	switch cond {
	case "root": // [root]: the tests run as root
		return os.Geteuid() == 0, nil
	case "tmpfs": // [tmpfs]: the tests may mount a tmpfs (diskfull_test.go)
		return canMountTmpfs(), nil
	case "chromium": // [chromium]: a headless browser for web.txtar (web_test.go)
		return chromiumPath() != "", nil
	case "cgroup":
	default:
		return false, fmt.Errorf("unknown condition %q", cond)
	}
	home, err := os.MkdirTemp("", "tend-cond")
	if err != nil {
		return false, err
	}
	defer os.RemoveAll(home)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "TEND_TEST_CGROUP_PROBE="+home)
	err = cmd.Run()
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		return false, nil
	}
	return err == nil, err
}

// killDaemon stops a daemon a failed script left behind.
func killDaemon(home string) {
	c := client.New(home)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := c.Kill(ctx); err != nil {
		return
	}
	for ctx.Err() == nil {
		if _, err := c.Ping(ctx); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func list(ts *testscript.TestScript) []api.Process {
	c := client.New(ts.Getenv("TEND_HOME"))
	ps, err := c.List(context.Background())
	if err != nil {
		ts.Fatalf("list: %v", err)
	}
	return ps
}

// waitFor polls cond until it holds or the timeout passes (default 10 s).
func waitFor(ts *testscript.TestScript, what string, timeout time.Duration, cond func() (bool, string)) {
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		if time.Now().After(deadline) {
			ts.Fatalf("timed out after %v waiting for %s; last seen: %s", timeout, what, last)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func timeoutArg(ts *testscript.TestScript, args []string, i int) time.Duration {
	if len(args) > i {
		d, err := time.ParseDuration(args[i])
		if err != nil {
			ts.Fatalf("bad timeout %q", args[i])
		}
		return d
	}
	return 10 * time.Second
}

// wait-status <name|id> <status> [timeout]: every process of the name reaches status.
func cmdWaitStatus(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: wait-status name status [timeout]")
	}
	want := strings.ReplaceAll(args[1], "_", " ")
	waitFor(ts, args[0]+" "+want, timeoutArg(ts, args, 2), func() (bool, string) {
		var seen []string
		n := 0
		ps, err := client.New(ts.Getenv("TEND_HOME")).List(context.Background())
		if errors.Is(err, client.ErrNoDaemon) {
			return false, "no daemon yet" // one started in the background may not listen yet
		}
		ts.Check(err)
		for _, p := range ps {
			if p.Name == args[0] || strconv.Itoa(p.PMID) == args[0] {
				seen = append(seen, p.PM2Env.Status)
				if p.PM2Env.Status == want {
					n++
				}
			}
		}
		return len(seen) > 0 && n == len(seen), fmt.Sprint(seen)
	})
}

// wait-restarts <name> <n> [timeout]: restart_time reaches at least n.
func cmdWaitRestarts(ts *testscript.TestScript, neg bool, args []string) {
	want, _ := strconv.Atoi(args[1])
	waitFor(ts, args[0]+" restarts", timeoutArg(ts, args, 2), func() (bool, string) {
		for _, p := range list(ts) {
			if p.Name == args[0] {
				return p.PM2Env.RestartTime >= want, strconv.Itoa(p.PM2Env.RestartTime)
			}
		}
		return false, "no such app"
	})
}

// wait-file <path> <substring> [timeout]: the file contains substring.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.MkAbs(args[0])
	waitFor(ts, path+" to contain "+args[1], timeoutArg(ts, args, 2), func() (bool, string) {
		b, err := os.ReadFile(path)
		if err != nil {
			return false, err.Error()
		}
		return strings.Contains(string(b), args[1]), fmt.Sprintf("%d bytes", len(b))
	})
}

// wait-process <marker> <n> [timeout]: at least n live processes have marker
// in their command line; with n = 0 (and no !), none has.
func cmdWaitProcess(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: wait-process marker n [timeout]")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	what := fmt.Sprintf("%d processes matching %q", n, args[0])
	if n == 0 {
		what = fmt.Sprintf("no process matching %q", args[0])
	}
	waitFor(ts, what, timeoutArg(ts, args, 2), func() (bool, string) {
		found := processes(ts, args[0])
		if n == 0 {
			return len(found) == 0, strings.Join(found, "\n")
		}
		return len(found) >= n, fmt.Sprintf("%d processes", len(found))
	})
}

// no-process <marker>: no live process has marker in its command line.
func cmdNoProcess(ts *testscript.TestScript, neg bool, args []string) {
	found := processes(ts, args[0])
	if len(found) > 0 && !neg {
		ts.Fatalf("processes still running:\n%s", strings.Join(found, "\n"))
	}
	if len(found) == 0 && neg {
		ts.Fatalf("no process matches %q", args[0])
	}
}

// processes lists the live processes of this script with marker in their
// command line.
func processes(ts *testscript.TestScript, marker string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			continue // gone, or a zombie
		}
		if strings.Contains(strings.ReplaceAll(string(b), "\x00", " "), marker) && ofThisScript(ts, pid) {
			found = append(found, fmt.Sprintf("%d: %s", pid, strings.ReplaceAll(string(b), "\x00", " ")))
		}
	}
	return found
}

// ofThisScript reports whether pid belongs to the running script, not to a
// copy of it that another suite on the machine runs at the same time: it
// has this script's TEND_HOME in its environment (apps inherit it, and so
// do their children), or its working directory is in this script's $WORK.
func ofThisScript(ts *testscript.TestScript, pid int) bool {
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	if strings.Contains("\x00"+string(env), "\x00TEND_HOME="+ts.Getenv("TEND_HOME")+"\x00") {
		return true
	}
	cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
	work := ts.Getenv("WORK")
	return err == nil && (cwd == work || strings.HasPrefix(cwd, work+"/"))
}

// daemons <n>: exactly n tend daemons run for this TEND_HOME.
func cmdDaemons(ts *testscript.TestScript, neg bool, args []string) {
	want, _ := strconv.Atoi(args[0])
	home := ts.Getenv("TEND_HOME")
	n := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmd, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !strings.HasSuffix(string(cmd), "\x00daemon\x00") {
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if strings.Contains("\x00"+string(env), "\x00TEND_HOME="+home+"\x00") {
			n++
		}
	}
	if n != want {
		ts.Fatalf("%d daemons run for %s, want %d", n, home, want)
	}
}

// check-lines <file> <n> [stamped]: the file holds lines 0..n-1 of tend-writer,
// complete and in order, each with one timestamp when stamped.
func cmdCheckLines(ts *testscript.TestScript, neg bool, args []string) {
	n, _ := strconv.Atoi(args[1])
	stamped := len(args) > 2 && args[2] == "stamped"
	f, err := os.Open(ts.MkAbs(args[0]))
	ts.Check(err)
	defer f.Close()
	sc := bufio.NewScanner(f)
	pad := strings.Repeat("x", 70)
	i := 0
	for sc.Scan() {
		line := sc.Text()
		if stamped {
			// "2006-01-02T15:04:05: "
			if len(line) < 21 || line[4] != '-' || line[10] != 'T' || line[19:21] != ": " {
				ts.Fatalf("line %d has no timestamp at its start: %q", i, line)
			}
			line = line[21:]
		}
		want := fmt.Sprintf("%010d %s", i, pad)
		if line != want {
			ts.Fatalf("line %d: got %q, want %q", i, line, want)
		}
		i++
	}
	ts.Check(sc.Err())
	if i != n {
		ts.Fatalf("got %d lines, want %d", i, n)
	}
}

// jlist-field <name> <jq-like dotted path> <value>: check one value in jlist.
func cmdJlistField(ts *testscript.TestScript, neg bool, args []string) {
	got, ok := jlistValue(ts, args[0], args[1])
	if !ok {
		ts.Fatalf("no app %s in jlist, or no %s in it", args[0], args[1])
	}
	if (got == args[2]) == neg {
		ts.Fatalf("%s %s = %s, want %s%s", args[0], args[1], got, map[bool]string{true: "not ", false: ""}[neg], args[2])
	}
}

func pidsOf(ts *testscript.TestScript, name string) map[string]bool {
	out := map[string]bool{}
	for _, p := range list(ts) {
		if p.Name == name && p.PID > 0 {
			out[strconv.Itoa(p.PMID)+":"+strconv.Itoa(p.PID)] = true
		}
	}
	return out
}

// save-pids <name> <file>: remember pm_id:pid of every running instance.
func cmdSavePids(ts *testscript.TestScript, neg bool, args []string) {
	var lines []string
	for k := range pidsOf(ts, args[0]) {
		lines = append(lines, k)
	}
	ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(strings.Join(lines, "\n")), 0o644))
}

// kill-daemon: SIGKILL the daemon of TEND_HOME, as a crash would, and wait
// until it is gone.
func cmdKillDaemon(ts *testscript.TestScript, neg bool, args []string) {
	b, err := os.ReadFile(filepath.Join(ts.Getenv("TEND_HOME"), "daemon.lock"))
	ts.Check(err)
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if pid <= 0 {
		ts.Fatalf("no daemon pid in daemon.lock")
	}
	ts.Check(syscall.Kill(pid, syscall.SIGKILL))
	waitFor(ts, "the daemon to die", 10*time.Second, func() (bool, string) {
		st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		return err != nil || strings.Contains(string(st), ") Z "), "still there"
	})
	// A zombie leader may still have threads that hold its files (the
	// socket would still accept, then reset): wait for its lock to be free.
	lock, err := os.Open(filepath.Join(ts.Getenv("TEND_HOME"), "daemon.lock"))
	ts.Check(err)
	defer lock.Close()
	waitFor(ts, "the daemon's files to close", 10*time.Second, func() (bool, string) {
		if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			return false, "daemon.lock still held"
		}
		syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		return true, ""
	})
}

// check-seq <file> <n>: once file holds n lines, they are "seq 0", "seq 1",
// … with none missing, repeated or cut (the last, unfinished one aside).
func cmdCheckSeq(ts *testscript.TestScript, neg bool, args []string) {
	n, _ := strconv.Atoi(args[1])
	path := ts.MkAbs(args[0])
	var lines []string
	waitFor(ts, fmt.Sprintf("%d lines in %s", n, path), 20*time.Second, func() (bool, string) {
		b, _ := os.ReadFile(path)
		lines = strings.Split(string(b), "\n")
		return len(lines) > n, fmt.Sprintf("%d lines", len(lines)-1)
	})
	for i, l := range lines[:len(lines)-1] {
		if want := fmt.Sprintf("seq %d", i); l != want {
			ts.Fatalf("line %d: got %q, want %q", i+1, l, want)
		}
	}
}

// pids-kept <name> <file> [pm_id...]: the saved instances (except the listed
// pm_ids) still run with the same pid.
func cmdPidsKept(ts *testscript.TestScript, neg bool, args []string) {
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	skip := map[string]bool{}
	for _, id := range args[2:] {
		skip[id] = true
	}
	now := pidsOf(ts, args[0])
	for _, k := range strings.Fields(string(b)) {
		id, _, _ := strings.Cut(k, ":")
		if skip[id] {
			continue
		}
		if !now[k] {
			ts.Fatalf("instance %s was restarted or removed; now running: %v", k, now)
		}
	}
}

// wait-port <port>|<host:port> [timeout]: something accepts on 127.0.0.1:port (or host:port).
func cmdWaitPort(ts *testscript.TestScript, neg bool, args []string) {
	addr := args[0] // a port on 127.0.0.1, or host:port ([::1]:5605)
	if !strings.Contains(addr, ":") {
		addr = "127.0.0.1:" + addr
	}
	waitFor(ts, "port "+args[0], timeoutArg(ts, args, 1), func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, err.Error()
		}
		c.Close()
		return true, ""
	})
}

// jlistValue returns one dotted field of an app in jlist.
func jlistValue(ts *testscript.TestScript, name, path string) (string, bool) {
	out, err := client.New(ts.Getenv("TEND_HOME")).ListRaw(context.Background())
	if err != nil {
		ts.Fatalf("jlist: %v", err)
	}
	var ps []map[string]any
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	ts.Check(dec.Decode(&ps))
	for _, p := range ps {
		if p["name"] != name {
			continue
		}
		var v any = p
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return "", false
			}
			v = m[k]
		}
		return fmt.Sprint(v), true
	}
	return "", false
}

// pm2-shape <name> <recorded jlist> <recorded name> <dotted path>...: each
// field of tend's jlist entry for name has the JSON type (object, array,
// string, number, boolean, absent) that PM2 gave it in a jlist recorded under
// testdata/pm2 (see its README).
func cmdPM2Shape(ts *testscript.TestScript, neg bool, args []string) {
	b, err := os.ReadFile(filepath.Join("testdata", "pm2", args[1]))
	ts.Check(err)
	var raw []byte
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "stdout: "); ok {
			raw = []byte(rest)
		}
	}
	var pm2 []map[string]any
	ts.Check(json.Unmarshal(raw, &pm2))
	tendOut, err := client.New(ts.Getenv("TEND_HOME")).ListRaw(context.Background())
	ts.Check(err)
	var mine []map[string]any
	ts.Check(json.Unmarshal(tendOut, &mine))
	find := func(list []map[string]any, name string) map[string]any {
		for _, p := range list {
			if p["name"] == name {
				return p
			}
		}
		ts.Fatalf("no %s in the list", name)
		return nil
	}
	kind := func(v any, path string) string {
		for _, k := range strings.Split(path, ".") {
			m, ok := v.(map[string]any)
			if !ok {
				return "absent"
			}
			if v, ok = m[k]; !ok {
				return "absent"
			}
		}
		switch v.(type) {
		case map[string]any:
			return "object"
		case []any:
			return "array"
		case string:
			return "string"
		case float64:
			return "number"
		case bool:
			return "boolean"
		case nil:
			return "null"
		}
		return fmt.Sprintf("%T", v)
	}
	a, p := find(mine, args[0]), find(pm2, args[2])
	for _, path := range args[3:] {
		if got, want := kind(a, path), kind(p, path); got != want {
			ts.Fatalf("%s: tend has %s, PM2 has %s", path, got, want)
		}
	}
}

// keeps-field <name> <dotted path> <file>: the field has the value it has in
// a jlist saved to file earlier (cp stdout file after exec tend jlist).
func cmdKeepsField(ts *testscript.TestScript, neg bool, args []string) {
	var ps []map[string]any
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[2])))
	dec.UseNumber()
	ts.Check(dec.Decode(&ps))
	was := ""
	for _, p := range ps {
		if p["name"] != args[0] {
			continue
		}
		var v any = p
		for _, k := range strings.Split(args[1], ".") {
			m, _ := v.(map[string]any)
			v = m[k]
		}
		was = fmt.Sprint(v)
	}
	got, ok := jlistValue(ts, args[0], args[1])
	if !ok || was == "" || was == "<nil>" {
		ts.Fatalf("%s %s: no value to compare (was %q, now %q)", args[0], args[1], was, got)
	}
	if (got == was) == neg {
		ts.Fatalf("%s %s = %s, was %s", args[0], args[1], got, was)
	}
}

// wait-jlist <name> <dotted path> <regexp> [timeout]: wait until the field matches.
func cmdWaitJlist(ts *testscript.TestScript, neg bool, args []string) {
	re := regexp.MustCompile(args[2])
	waitFor(ts, args[0]+" "+args[1]+" ~ "+args[2], timeoutArg(ts, args, 3), func() (bool, string) {
		v, ok := jlistValue(ts, args[0], args[1])
		return ok && re.MatchString(v), v
	})
}

// copy-example <name>: copy examples/<name> of this repository into $WORK,
// without its data and logs.
func cmdCopyExample(ts *testscript.TestScript, neg bool, args []string) {
	src, err := filepath.Abs(filepath.Join("..", "..", "examples", args[0]))
	ts.Check(err)
	dst := ts.MkAbs(args[0])
	ts.Check(filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if rel == ".data" || rel == "node_modules" || strings.HasSuffix(rel, ".log") || rel == ".env" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		info, _ := d.Info()
		return os.WriteFile(target, b, info.Mode().Perm())
	}))
	// PostgreSQL refuses to run as root and runs as the postgres user, which
	// must reach the data folder: open the test's folders up to the temp dir.
	for d := dst; strings.HasPrefix(d, os.TempDir()+"/"); d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
}

// started-after <a> <b>: app a's last start came after app b's.
func cmdStartedAfter(ts *testscript.TestScript, neg bool, args []string) {
	a, _ := jlistValue(ts, args[0], "pm2_env.pm_uptime")
	b, _ := jlistValue(ts, args[1], "pm2_env.pm_uptime")
	ta, _ := strconv.ParseInt(a, 10, 64)
	tb, _ := strconv.ParseInt(b, 10, 64)
	if ta == 0 || tb == 0 || ta < tb {
		ts.Fatalf("%s started at %d, %s at %d: want %s after %s", args[0], ta, args[1], tb, args[0], args[1])
	}
}

// kill-app <name> [--pidfile]: SIGKILL the app's main process behind tend's back; its pid from
// jlist, or with --pidfile from its pid file (while no daemon runs).
func cmdKillApp(ts *testscript.TestScript, neg bool, args []string) {
	var pid int
	if len(args) > 1 && args[1] == "--pidfile" {
		// no daemon to ask: the pid file it wrote
		b, err := os.ReadFile(filepath.Join(ts.Getenv("TEND_HOME"), "pids", args[0]+"-0.pid"))
		ts.Check(err)
		pid, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	} else {
		v, _ := jlistValue(ts, args[0], "pid")
		pid, _ = strconv.Atoi(v)
	}
	if pid <= 0 {
		ts.Fatalf("%s has no pid", args[0])
	}
	ts.Check(syscall.Kill(pid, syscall.SIGKILL))
}

// pg-clean <datadir>: PostgreSQL's control file says the cluster was shut down cleanly.
func cmdPgClean(ts *testscript.TestScript, neg bool, args []string) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/pg_controldata")
	if len(bins) == 0 {
		ts.Fatalf("pg_controldata not found")
	}
	out, err := exec.Command(bins[len(bins)-1], ts.MkAbs(args[0])).CombinedOutput()
	if err != nil {
		ts.Fatalf("pg_controldata: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "Database cluster state:               shut down") {
		ts.Fatalf("cluster not shut down cleanly:\n%s", out)
	}
}
