//go:build linux

package main

// Custom testscript commands for logs, rotation, metrics and monit.

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/logs"
)

// scriptEnv is the environment testscript gives the commands it runs.
func scriptEnv(ts *testscript.TestScript) []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "WORK", "TEND_HOME", "NO_COLOR", "FORCE_COLOR", "TEND_METRICS_ADDR", "GORACE", "GOCOVERDIR"} {
		if v := ts.Getenv(k); v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

type follower struct {
	cmd  *exec.Cmd
	done chan error
}

var (
	followersMu sync.Mutex
	followers   = map[*testscript.TestScript]map[string]*follower{}
)

// follow-start <name> <tend args...>: runs `tend <args>` in the background,
// its stdout in $WORK/<name>.out and its stderr in $WORK/<name>.err (files,
// so wait-file can wait on them while it runs).
func cmdFollowStart(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) < 2 {
		ts.Fatalf("usage: follow-start name tend-args...")
	}
	name := args[0]
	out, err := os.Create(ts.MkAbs(name + ".out"))
	ts.Check(err)
	errf, err := os.Create(ts.MkAbs(name + ".err"))
	ts.Check(err)
	cmd := exec.Command("tend", args[1:]...)
	cmd.Path = lookPathIn("tend", ts.Getenv("PATH"))
	cmd.Env = scriptEnv(ts)
	cmd.Dir = ts.Getenv("WORK")
	cmd.Stdout, cmd.Stderr = out, errf
	ts.Check(cmd.Start())
	out.Close()
	errf.Close()
	f := &follower{cmd: cmd, done: make(chan error, 1)}
	go func() { f.done <- cmd.Wait() }()
	followersMu.Lock()
	if followers[ts] == nil {
		followers[ts] = map[string]*follower{}
		ts.Defer(func() {
			followersMu.Lock()
			defer followersMu.Unlock()
			for _, f := range followers[ts] {
				f.cmd.Process.Kill()
				<-f.done
			}
			delete(followers, ts)
		})
	}
	followers[ts][name] = f
	followersMu.Unlock()
}

// follow-stop <name>: sends SIGINT to a follower and checks it exits with 0.
func cmdFollowStop(ts *testscript.TestScript, neg bool, args []string) {
	followersMu.Lock()
	f := followers[ts][args[0]]
	delete(followers[ts], args[0])
	followersMu.Unlock()
	if f == nil {
		ts.Fatalf("no follower %s", args[0])
	}
	f.cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-f.done:
		if err != nil && !neg {
			ts.Fatalf("follower %s: %v", args[0], err)
		}
	case <-time.After(10 * time.Second):
		f.cmd.Process.Kill()
		<-f.done
		ts.Fatalf("follower %s did not stop on SIGINT", args[0])
	}
}

func lookPathIn(name, path string) string {
	for _, dir := range filepath.SplitList(path) {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	return name
}

// slow-follow <app> <total> <go-file>: the slow reader. It follows app with
// `tend logs app --raw` but stops reading its output once the follower has
// printed "ready"; then it creates go-file, which makes the app write total
// numbered lines (tend-writer), and waits, still not reading, until the app
// has written them all and stopped: a follower that reads nothing must not
// slow the app. Then it reads everything, and checks that the lines it got
// are in order and that the follower was told how many it missed.
func cmdSlowFollow(ts *testscript.TestScript, neg bool, args []string) {
	app, gofile := args[0], ts.MkAbs(args[2])
	total, _ := strconv.Atoi(args[1])
	cmd := exec.Command("tend", "logs", app, "--raw", "--out", "--lines", "1")
	cmd.Path = lookPathIn("tend", ts.Getenv("PATH"))
	cmd.Env = scriptEnv(ts)
	cmd.Dir = ts.Getenv("WORK")
	stdout, err := cmd.StdoutPipe()
	ts.Check(err)
	var stderr bytes.Buffer
	var errMu sync.Mutex
	cmd.Stderr = writerFunc(func(p []byte) (int, error) { errMu.Lock(); defer errMu.Unlock(); return stderr.Write(p) })
	ts.Check(cmd.Start())
	defer cmd.Process.Kill()
	br := bufio.NewReaderSize(stdout, 4096)
	first, err := br.ReadString('\n')
	if err != nil || strings.TrimSpace(first) != "ready" {
		ts.Fatalf("follower printed %q first (%v), want ready", first, err)
	}
	ts.Check(os.WriteFile(gofile, nil, 0o644))
	waitFor(ts, app+" to write every line while nobody reads", 120*time.Second, func() (bool, string) {
		for _, p := range list(ts) {
			if p.Name == app {
				return p.PM2Env.Status == "stopped", p.PM2Env.Status
			}
		}
		return false, "no app"
	})
	// Now read it all; the notice comes once the follower has caught up.
	var seen atomic.Int64
	last := -1
	readDone := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(br)
		for sc.Scan() {
			var n int
			if _, err := fmt.Sscanf(sc.Text(), "%d ", &n); err != nil {
				readDone <- fmt.Errorf("not a writer line: %q", sc.Text())
				return
			}
			if n <= last {
				readDone <- fmt.Errorf("line %d after line %d", n, last)
				return
			}
			last = n
			seen.Add(1)
		}
		readDone <- sc.Err()
	}()
	missedRe := regexp.MustCompile(`(\d+) log lines or events were not shown`)
	var missed int
	waitFor(ts, "the follower to be told what it missed", 60*time.Second, func() (bool, string) {
		errMu.Lock()
		defer errMu.Unlock()
		ms := missedRe.FindAllStringSubmatch(stderr.String(), -1)
		missed = 0
		for _, m := range ms {
			n, _ := strconv.Atoi(m[1])
			missed += n
		}
		select {
		case err := <-readDone: // the follower's output ended or went wrong: no use waiting
			if err == nil {
				err = errors.New("its output ended")
			}
			ts.Fatalf("follower: %v (saw %d lines, told of %d missed; stderr %q)", err, seen.Load(), missed, stderr.String())
		default:
		}
		return missed > 0 && missed+int(seen.Load()) >= total, fmt.Sprintf("missed %d, saw %d; stderr %q", missed, seen.Load(), stderr.String())
	})
	cmd.Process.Signal(os.Interrupt)
	if err := <-readDone; err != nil {
		ts.Fatalf("%v", err)
	}
	if err := cmd.Wait(); err != nil {
		ts.Fatalf("follower: %v", err)
	}
	// Dropped process events (stopping, stopped) count as missed too.
	seenN := int(seen.Load())
	if seenN+missed < total || seenN+missed > total+10 {
		ts.Fatalf("saw %d lines and was told of %d missed, for %d written", seenN, missed, total)
	}
	if seenN == total {
		ts.Fatalf("the follower missed nothing: this test did not make it slow")
	}
	fmt.Fprintf(ts.Stdout(), "saw %d lines, told of %d missed, of %d\n", seenN, missed, total)
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// check-rotated <file> <n> [gz] [max-bytes]: the file and its rotated
// copies hold tend-writer's lines 0..n-1 exactly once, whole and in order;
// there are at least two rotated copies; with gz, every copy is compressed
// (waiting for the background compression); with max-bytes, no uncompressed
// copy is larger.
func cmdCheckRotated(ts *testscript.TestScript, neg bool, args []string) {
	path := ts.MkAbs(args[0])
	n, _ := strconv.Atoi(args[1])
	gz := len(args) > 2 && args[2] == "gz"
	var maxBytes int64
	if len(args) > 3 {
		maxBytes, _ = strconv.ParseInt(args[3], 10, 64)
	}
	var rotated []string
	waitFor(ts, "rotated copies of "+args[0], 30*time.Second, func() (bool, string) {
		rotated = logs.Rotated(path)
		plain := 0
		for _, r := range rotated {
			if !strings.HasSuffix(r, ".gz") {
				plain++
			}
		}
		return len(rotated) >= 2 && (!gz || plain == 0), fmt.Sprintf("%d copies, %d not compressed", len(rotated), plain)
	})
	pad := strings.Repeat("x", 70)
	i := 0
	for _, name := range append(rotated, path) {
		f, err := os.Open(name)
		ts.Check(err)
		var r io.Reader = f
		if strings.HasSuffix(name, ".gz") {
			zr, err := gzip.NewReader(f)
			ts.Check(err)
			r = zr
		} else if maxBytes > 0 && name != path {
			// Rotation happens before a write that would pass the limit,
			// except that a partial line flushed after a quiet spell is
			// finished in its file: only the last line may cross it.
			b, err := os.ReadFile(name)
			ts.Check(err)
			body := bytes.TrimSuffix(b, []byte("\n"))
			if n := int64(bytes.LastIndexByte(body, '\n') + 1); n > maxBytes {
				ts.Fatalf("%s is %d bytes, %d before its last line, more than %d", name, len(b), n, maxBytes)
			}
		}
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			if want := fmt.Sprintf("%010d %s", i, pad); sc.Text() != want {
				ts.Fatalf("%s: got %q, want line %d", filepath.Base(name), sc.Text(), i)
			}
			i++
		}
		ts.Check(sc.Err())
		f.Close()
	}
	if i != n {
		ts.Fatalf("got %d lines in %d files, want %d", i, len(rotated)+1, n)
	}
	fmt.Fprintf(ts.Stdout(), "%d lines in %d rotated files and the current one\n", n, len(rotated))
}

// scrape: prints the daemon's /metrics (the address comes from tend ping's
// API answer, so a random port works).
func cmdScrape(ts *testscript.TestScript, neg bool, args []string) {
	body, err := scrape(ts)
	if neg {
		if err == nil {
			ts.Fatalf("the daemon serves metrics")
		}
		return
	}
	ts.Check(err)
	fmt.Fprint(ts.Stdout(), body)
}

func scrape(ts *testscript.TestScript) (string, error) {
	c := client.New(ts.Getenv("TEND_HOME"))
	p, err := c.Ping(context.Background())
	if err != nil {
		return "", err
	}
	if p.MetricsAddr == "" {
		return "", fmt.Errorf("the daemon serves no metrics")
	}
	resp, err := http.Get("http://" + p.MetricsAddr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return "", fmt.Errorf("scrape: %s", resp.Status)
	}
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// tmux-start <session> <cols> <rows> <command...>: runs a command in a
// detached tmux session of that size (a private tmux server per script).
func cmdTmuxStart(ts *testscript.TestScript, neg bool, args []string) {
	sock := ts.MkAbs("tmux.sock")
	targs := append([]string{"-S", sock, "-f", "/dev/null", "new-session", "-d", "-s", args[0], "-x", args[1], "-y", args[2]}, args[3:]...)
	cmd := exec.Command("tmux", targs...)
	cmd.Env = append(scriptEnv(ts), "TERM=xterm-256color")
	cmd.Dir = ts.Getenv("WORK")
	if out, err := cmd.CombinedOutput(); err != nil {
		ts.Fatalf("tmux: %v: %s", err, out)
	}
	ts.Defer(func() { exec.Command("tmux", "-S", sock, "kill-server").Run() })
}

// tmux-keys <session> <keys...>: tmux send-keys.
func cmdTmuxKeys(ts *testscript.TestScript, neg bool, args []string) {
	out, err := exec.Command("tmux", append([]string{"-S", ts.MkAbs("tmux.sock"), "send-keys", "-t", args[0]}, args[1:]...)...).CombinedOutput()
	if err != nil {
		ts.Fatalf("tmux send-keys: %v: %s", err, out)
	}
}

// screen <session> <regexp> [timeout]: waits until the session's screen
// matches (with ! until it no longer does), then prints the screen.
func cmdScreen(ts *testscript.TestScript, neg bool, args []string) {
	re, err := regexp.Compile(args[1])
	ts.Check(err)
	var screen string
	waitFor(ts, fmt.Sprintf("screen %s to match %q (neg=%v)", args[0], args[1], neg), timeoutArg(ts, args, 2), func() (bool, string) {
		out, err := exec.Command("tmux", "-S", ts.MkAbs("tmux.sock"), "capture-pane", "-p", "-t", args[0]).CombinedOutput()
		if err != nil {
			return false, fmt.Sprintf("%v: %s", err, out)
		}
		screen = string(out)
		return re.MatchString(screen) != neg, "\n" + screen
	})
	fmt.Fprint(ts.Stdout(), screen)
}

// tmux-gone <session> [timeout]: waits until the session has ended (its
// command exited).
func cmdTmuxGone(ts *testscript.TestScript, neg bool, args []string) {
	waitFor(ts, "tmux session "+args[0]+" to end", timeoutArg(ts, args, 1), func() (bool, string) {
		err := exec.Command("tmux", "-S", ts.MkAbs("tmux.sock"), "has-session", "-t", args[0]).Run()
		return err != nil, "still there"
	})
}

// proc-cpu <command> <max-percent> <seconds>: the CPU a process whose command
// line starts with command (program base name and arguments) used over that many seconds stays under max-percent
// of one core (for a dashboard that must be cheap while idle).
func cmdProcCPU(ts *testscript.TestScript, neg bool, args []string) {
	maxPct, _ := strconv.ParseFloat(args[1], 64)
	secs, _ := strconv.ParseFloat(args[2], 64)
	pid := 0
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		n, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n))
		argv := strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
		argv[0] = filepath.Base(argv[0])
		if strings.HasPrefix(strings.Join(argv, " "), args[0]) {
			pid = n
		}
	}
	if pid == 0 {
		ts.Fatalf("no process runs %q", args[0])
	}
	ticks := func() float64 {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		ts.Check(err)
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
		u, _ := strconv.ParseFloat(f[11], 64)
		s, _ := strconv.ParseFloat(f[12], 64)
		return u + s
	}
	t0, c0 := time.Now(), ticks()
	time.Sleep(time.Duration(secs * float64(time.Second))) // measuring over a period, not waiting for an event
	pct := (ticks() - c0) / 100 / time.Since(t0).Seconds() * 100
	fmt.Fprintf(ts.Stdout(), "%s used %.1f%% CPU over %gs\n", args[0], pct, secs)
	if pct > maxPct {
		ts.Fatalf("%s used %.1f%% CPU while idle, more than %g%%", args[0], pct, maxPct)
	}
}

// json-lines <file> <min> key=value...: every line of the file is a JSON
// object, and at least min of them have all the given values.
func cmdJSONLines(ts *testscript.TestScript, neg bool, args []string) {
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	want, _ := strconv.Atoi(args[1])
	n := 0
	for i, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			ts.Fatalf("line %d is not a JSON object: %q: %v", i+1, line, err)
		}
		ok := true
		for _, kv := range args[2:] {
			k, v, _ := strings.Cut(kv, "=")
			if fmt.Sprint(m[k]) != v {
				ok = false
			}
		}
		if ok {
			n++
		}
	}
	if (n >= want) == neg {
		ts.Fatalf("%d lines have %v, want at least %d", n, args[2:], want)
	}
}
