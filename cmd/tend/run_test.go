//go:build linux

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
	"golang.org/x/sys/unix"
)

// `tend run` as PID 1 of a new PID namespace (run.txtar): run-ns starts it
// under `unshare -pf --mount-proc`, run-signal signals it (unshare itself
// ignores SIGTERM and SIGINT), run-wait checks its exit code, ns-zombies
// checks that nothing in the namespace stays a zombie.

type nsRun struct {
	cmd  *exec.Cmd
	done chan struct{}
	code int
}

var nsRuns sync.Map // "<workdir>/<name>" → *nsRun

func nsKey(ts *testscript.TestScript, name string) string { return ts.MkAbs(".") + "/" + name }

func nsGet(ts *testscript.TestScript, name string) *nsRun {
	v, ok := nsRuns.Load(nsKey(ts, name))
	if !ok {
		ts.Fatalf("no run-ns %s", name)
	}
	return v.(*nsRun)
}

// run-ns <name> <tend run args...>: stdout in <name>.out, stderr in <name>.err.
func cmdRunNS(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 1 {
		ts.Fatalf("usage: run-ns name [tend run args...]")
	}
	tend, err := exec.LookPath("tend")
	if err != nil {
		// testscript puts the commands of RunMain on PATH in the script's environment
		for _, dir := range filepath.SplitList(ts.Getenv("PATH")) {
			if p := filepath.Join(dir, "tend"); fileExists(p) {
				tend = p
				break
			}
		}
	}
	if tend == "" {
		ts.Fatalf("tend not found on the script's PATH")
	}
	name := args[0]
	cmd := exec.Command("unshare", append([]string{"-pf", "--mount-proc", tend, "run"}, args[1:]...)...)
	cmd.Dir = ts.MkAbs(".")
	cmd.Env = append(os.Environ(), "TEND_HOME="+ts.Getenv("TEND_HOME"), "PATH="+ts.Getenv("PATH"), "NO_COLOR=1")
	out, err := os.Create(ts.MkAbs(name + ".out"))
	ts.Check(err)
	errf, err := os.Create(ts.MkAbs(name + ".err"))
	ts.Check(err)
	cmd.Stdout, cmd.Stderr = out, errf
	ts.Check(cmd.Start())
	r := &nsRun{cmd: cmd, done: make(chan struct{})}
	go func() {
		cmd.Wait()
		r.code = cmd.ProcessState.ExitCode()
		out.Close()
		errf.Close()
		close(r.done)
	}()
	nsRuns.Store(nsKey(ts, name), r)
	ts.Defer(func() {
		select {
		case <-r.done:
		default:
			if pid := nsInit(r); pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL) // the namespace ends with its init
			}
			cmd.Process.Kill()
			<-r.done
		}
		nsRuns.Delete(nsKey(ts, name))
	})
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// nsInit is the host pid of the namespace's PID 1: unshare's child.
func nsInit(r *nsRun) int {
	for _, pid := range allPids() {
		if ppid, _ := procStat(pid); ppid == r.cmd.Process.Pid {
			return pid
		}
	}
	return 0
}

func allPids() []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out
}

// procStat returns a process's parent and state.
func procStat(pid int) (int, byte) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+4 >= len(s) {
		return 0, 0
	}
	f := strings.Fields(s[i+2:])
	ppid, _ := strconv.Atoi(f[1])
	return ppid, f[0][0]
}

// run-signal <name> <SIGTERM|SIGINT|SIGQUIT>: signal the namespace's PID 1.
func cmdRunSignal(ts *testscript.TestScript, neg bool, args []string) {
	r := nsGet(ts, args[0])
	sig := unix.SignalNum(args[1])
	if sig == 0 {
		ts.Fatalf("unknown signal %s", args[1])
	}
	var pid int
	waitFor(ts, "the namespace's init", 10*time.Second, func() (bool, string) {
		pid = nsInit(r)
		return pid > 0, "no child of unshare yet"
	})
	ts.Check(syscall.Kill(pid, sig))
}

// run-wait <name> <exit code> [timeout]: tend run (through unshare) exits with the code.
func cmdRunWait(ts *testscript.TestScript, neg bool, args []string) {
	r := nsGet(ts, args[0])
	want, _ := strconv.Atoi(args[1])
	select {
	case <-r.done:
	case <-time.After(timeoutArg(ts, args, 2)):
		ts.Fatalf("tend run %s did not exit", args[0])
	}
	if r.code != want {
		ts.Fatalf("tend run %s exited with %d, want %d", args[0], r.code, want)
	}
}

// ns-zombies <name> [timeout]: within the timeout, no process of the
// namespace is a zombie (an orphan the kernel gave to PID 1 was reaped).
func cmdNSZombies(ts *testscript.TestScript, neg bool, args []string) {
	r := nsGet(ts, args[0])
	init := nsInit(r)
	if init == 0 {
		ts.Fatalf("tend run %s is not running", args[0])
	}
	ns, err := os.Readlink("/proc/" + strconv.Itoa(init) + "/ns/pid")
	ts.Check(err)
	inNS := func(pid int) bool {
		l, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/ns/pid")
		return err == nil && l == ns
	}
	waitFor(ts, "no zombie in the namespace", timeoutArg(ts, args, 1), func() (bool, string) {
		var z []string
		for _, pid := range allPids() {
			// a zombie's own namespace links are gone: its parent tells
			if ppid, st := procStat(pid); st == 'Z' && inNS(ppid) {
				z = append(z, strconv.Itoa(pid)+" (parent "+strconv.Itoa(ppid)+")")
			}
		}
		return len(z) == 0, "zombies: " + strings.Join(z, ", ")
	})
}
