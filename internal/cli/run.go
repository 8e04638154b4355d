package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/daemon"
	"github.com/tend-dev/tend/internal/logs"
	"github.com/tend-dev/tend/internal/preflight"
)

// runChildEnv marks the process that runs the supervision core under the
// reaper of `tend run` (see runReaper).
const runChildEnv = "TEND_RUN_SUPERVISOR"

type runFlags struct {
	envName, only, name, instances string
	json, raw, format, noAutoExit  bool
}

func (a *app) runCmd() *cobra.Command {
	var f runFlags
	cmd := &cobra.Command{
		Use:   "run [ecosystem file | script] [-- args...]",
		Short: "Run apps in the foreground, as a container's entrypoint (PM2's pm2-runtime): no daemon, logs on stdout",
		Long: `Run the apps of an ecosystem file (or one script) in the foreground with the
whole supervision core (restarts, health checks, depends_on, memory limits,
cron), without a background daemon. Every app's output goes to stdout and
stderr with the app's name in front (or JSON lines with --json). The API is
still served on $TEND_HOME/tend.sock, so tend ls, logs and describe work from
a second shell (docker exec).

As PID 1 (a container's entrypoint) it reaps every orphan; otherwise it makes
itself the subreaper of everything it starts. SIGHUP reloads every app (as
tend reload all does). SIGTERM, SIGINT and SIGQUIT stop
every app gracefully, dependents first; it exits when all have stopped: 0, or
1 when an app failed (errored, or a one-shot that exited non-zero). It also
exits by itself once every app has stopped for good, unless --no-auto-exit.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			var extra []string
			if d := cmd.ArgsLenAtDash(); d >= 0 {
				extra, args = args[d:], args[:d]
			}
			if os.Getenv(runChildEnv) == "" {
				return a.runReaper()
			}
			return a.runSupervisor(args, extra, &f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.envName, "env", "", "use env_<name> of the ecosystem file")
	fl.StringVar(&f.only, "only", "", "only these apps (a,b) and what they depend on")
	fl.StringVarP(&f.name, "name", "n", "", "app name (for a script)")
	fl.StringVarP(&f.instances, "instances", "i", "", "number of instances (for a script)")
	fl.BoolVar(&f.json, "json", false, "app output and process events as JSON lines on stdout")
	fl.BoolVar(&f.raw, "raw", false, "app output without a prefix")
	fl.BoolVar(&f.format, "format", false, "app output as key=value lines (PM2's --format)")
	fl.BoolVar(&f.noAutoExit, "no-auto-exit", false, "keep running when every app has stopped for good")
	return cmd
}

// runReaper is the process `tend run` starts as: PID 1 of a container, or a
// subreaper. It starts the supervision core as its one child, forwards the
// stop signals to it, reaps every process that ends up its child (orphans
// of the apps), and exits with the core's exit code. The core is a separate
// process because the supervisor waits for each app's pid by itself: a
// wait for any child in the same process would take exits it waits for.
func (a *app) runReaper() error {
	if os.Getpid() != 1 {
		if err := becomeSubreaper(); err != nil {
			fmt.Fprintf(a.stderr, "[tend][WARN] cannot become a subreaper (%v): orphans of the apps go to init\n", err)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("find the tend binary: %w", err)
	}
	sigs := make(chan os.Signal, 16)
	signal.Notify(sigs, syscall.SIGCHLD, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1, syscall.SIGUSR2)
	defer signal.Stop(sigs)
	child, err := os.StartProcess(exe, os.Args, &os.ProcAttr{
		Env:   append(os.Environ(), runChildEnv+"=1"),
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
	})
	if err != nil {
		return fmt.Errorf("start the supervisor: %w", err)
	}
	tick := time.NewTicker(5 * time.Second) // a SIGCHLD is never lost, but may be merged
	defer tick.Stop()
	for {
		select {
		case s := <-sigs:
			if s != syscall.SIGCHLD {
				child.Signal(s)
				continue
			}
		case <-tick.C:
		}
		for {
			var ws unix.WaitStatus
			pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
			if pid == child.Pid {
				code := ws.ExitStatus()
				if ws.Signaled() {
					code = 128 + int(ws.Signal())
				}
				reapAll()
				if code == 0 {
					return nil
				}
				return exitError{code: code}
			}
		}
	}
}

// reapAll reaps what is left without waiting.
func reapAll() {
	for {
		var ws unix.WaitStatus
		if pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil); pid <= 0 || err != nil {
			return
		}
	}
}

// runSupervisor runs the daemon in this process, starts the apps through its
// socket, prints their output and decides when to stop and with what code.
func (a *app) runSupervisor(args, extra []string, f *runFlags) error {
	o := loadOptions{home: a.home, envName: f.envName, only: splitList(f.only)}
	var l *loaded
	var err error
	switch {
	case len(args) == 0:
		path, err := defaultConfig()
		if err != nil {
			return err
		}
		l, err = loadFile(path, o)
		if err != nil {
			return err
		}
	case isConfigFile(args[0]):
		if l, err = loadFile(args[0], o); err != nil {
			return err
		}
	default:
		if l, err = a.adhoc(args[0], append(args[1:], extra...), &startFlags{name: f.name, instances: f.instances}, o); err != nil {
			return err
		}
	}
	for _, w := range l.warns {
		fmt.Fprintf(a.stderr, "[tend][WARN] %s\n", w)
	}
	if err := config.CheckDependencies(l.apps, nil); err != nil {
		return err
	}
	if rep := preflight.Check(l.apps, l.problems, preflight.Options{}); !rep.OK() {
		return exitError{code: 1, msg: "[tend][ERROR] " + rep.Error()}
	}

	// The stop signals are ours: the daemon in this process leaves them to us.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	hup := make(chan os.Signal, 1) // SIGHUP: reload every app (and reopen the log files)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	ready, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer ready.Close()
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- daemon.Run(ctx, daemon.Options{Home: a.home, Ready: readyW, Log: prefixWriter(a.stderr, "[tend] "), AllowUID: -1, Foreground: true})
	}()
	if _, err := bufio.NewReader(ready).ReadString('\n'); err != nil {
		if derr := <-done; errors.Is(derr, daemon.ErrRunning) {
			return fmt.Errorf("%w: tend run needs a TEND_HOME of its own (%s); set TEND_HOME, or stop that daemon with tend kill", derr, a.home)
		} else if derr != nil {
			return derr
		}
		return fmt.Errorf("the supervisor did not start: %w", err)
	}

	c := client.New(a.home)
	// The stream outlives ctx: it carries the stops that ending ctx causes.
	events, err := c.Events(context.Background(), true)
	if err != nil {
		stop()
		<-done
		return err
	}
	evc := make(chan api.Event, 1024)
	go func() {
		defer close(evc)
		for {
			ev, err := events.Next()
			if err != nil {
				return
			}
			evc <- ev
		}
	}()
	pr := newRunPrinter(a, f, l.apps)
	defer pr.flush()
	for _, app := range l.apps {
		fmt.Fprintf(a.stderr, "[tend] Starting %s in %s (%d instance%s)\n", app.ScriptPath, app.ExecMode, app.Instances, plural(app.Instances))
	}
	if _, err := c.Start(ctx, api.StartRequest{Apps: l.apps}); err != nil {
		stop()
		<-done
		return err
	}

	failed := []string(nil)
	decided, autoExit := false, false
	decide := func(ps []api.Process) {
		if !decided {
			decided, failed = true, failures(ps)
		}
	}
	for {
		select {
		case ev, ok := <-evc:
			if !ok {
				evc = nil
				continue
			}
			pr.event(ev)
			if ev.Type != api.EventProcess || f.noAutoExit || decided {
				continue
			}
			lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			ps, err := c.List(lctx)
			cancel()
			if err == nil && allStopped(ps) {
				decide(ps)
				autoExit = true
				stop()
			}
		case <-hup:
			if ctx.Err() == nil {
				fmt.Fprintf(a.stderr, "[tend] received hangup: reloading every app\n")
				go func() {
					rctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
					defer cancel()
					if _, err := c.Act(rctx, api.ActionRequest{Action: api.ActionReload, Target: api.Target{Names: []string{"all"}}}); err != nil && rctx.Err() == nil {
						fmt.Fprintf(a.stderr, "[tend] reload: %v\n", err)
					}
				}()
			}
		case s := <-sigs:
			if ctx.Err() != nil {
				continue // already stopping
			}
			if !decided {
				lctx, cancel := context.WithTimeout(ctx, 5*time.Second)
				ps, _ := c.List(lctx)
				cancel()
				decide(ps)
			}
			fmt.Fprintf(a.stderr, "[tend] received %v: stopping every app, dependents first\n", s)
			stop()
		case err := <-done:
			for evc != nil { // what was said before the socket closed
				ev, ok := <-evc
				if !ok {
					break
				}
				pr.event(ev)
			}
			events.Close()
			pr.flush()
			if autoExit {
				fmt.Fprintf(a.stderr, "[tend] every app has stopped for good (--no-auto-exit keeps tend run running)\n")
			}
			if err != nil {
				return err
			}
			if len(failed) > 0 {
				return exitError{code: 1, msg: "[tend] failed: " + strings.Join(failed, ", ")}
			}
			return nil
		}
	}
}

// allStopped: every process has stopped for good (stopped or errored).
func allStopped(ps []api.Process) bool {
	if len(ps) == 0 {
		return false
	}
	for _, p := range ps {
		switch p.PM2Env.Status {
		case api.StatusStopped, api.StatusErrored:
		default:
			return false
		}
	}
	return true
}

// failures names the apps that failed: errored, or a one-shot (no
// autorestart) that exited non-zero.
func failures(ps []api.Process) []string {
	var out []string
	for _, p := range ps {
		e := p.PM2Env
		switch {
		case e.Status == api.StatusErrored:
			out = append(out, fmt.Sprintf("%s (errored)", p.Name))
		case e.Status == api.StatusStopped && !e.Autorestart && e.ExitCode != nil && *e.ExitCode != 0:
			out = append(out, fmt.Sprintf("%s (exit code %d)", p.Name, *e.ExitCode))
		}
	}
	sort.Strings(out)
	return out
}

// runPrinter writes the apps' output: "name | line" on stdout or stderr
// (the app's own stream), or through the logs printer for --json, --raw and
// --format. Process events go to stderr (or into the JSON stream).
type runPrinter struct {
	a      *app
	lp     *logPrinter // --json, --raw, --format
	width  int
	multi  map[string]bool // apps with several instances: their pm_id too
	mu     sync.Mutex
	stdout io.Writer
	stderr io.Writer
}

func newRunPrinter(a *app, f *runFlags, apps []config.App) *runPrinter {
	p := &runPrinter{a: a, multi: map[string]bool{}, stdout: a.stdout, stderr: a.stderr}
	for _, app := range apps {
		n := len(app.Name)
		if app.Instances > 1 {
			p.multi[app.Name] = true
			n += 4
		}
		p.width = max(p.width, n)
	}
	if f.json || f.raw || f.format {
		lf := &logsFlags{json: f.json, raw: f.raw, format: f.format}
		p.lp = &logPrinter{f: lf, out: bufio.NewWriterSize(a.stdout, 64<<10), errw: bufio.NewWriterSize(a.stderr, 4<<10), width: 3, now: time.Now}
		p.lp.fstamp = logs.NewStamper(formatTimestamp)
	}
	return p
}

func (p *runPrinter) prefix(ev api.Event) string {
	n := ev.Name
	if p.multi[n] {
		n = fmt.Sprintf("%s:%d", n, ev.PMID)
	}
	return n + strings.Repeat(" ", max(0, p.width-len(n)))
}

func (p *runPrinter) event(ev api.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Missed > 0 {
		fmt.Fprintf(p.stderr, "[tend] %d log lines not shown: the output was read too slowly (they are in the log files)\n", ev.Missed)
	}
	if p.lp != nil {
		switch ev.Type {
		case api.EventLog:
			p.lp.line(ev)
		case api.EventProcess:
			p.lp.event(ev)
		}
		p.lp.flush()
		return
	}
	switch ev.Type {
	case api.EventLog:
		w := p.stdout
		if ev.Stream == "err" {
			w = p.stderr
		}
		io.WriteString(w, p.prefix(ev)+" | "+ev.Data+"\n")
	case api.EventProcess:
		msg := fmt.Sprintf("[tend] %s: %s", strings.TrimSpace(p.prefix(ev)), ev.Status)
		if ev.Reason != "" {
			msg += " (" + ev.Reason + ")"
		}
		io.WriteString(p.stderr, msg+"\n")
	}
}

func (p *runPrinter) flush() {
	if p.lp != nil {
		p.mu.Lock()
		p.lp.flush()
		p.mu.Unlock()
	}
}

// prefixWriter prefixes every line written to w (the daemon's own log).
func prefixWriter(w io.Writer, prefix string) io.Writer {
	return &linePrefixer{w: w, prefix: prefix}
}

type linePrefixer struct {
	mu     sync.Mutex
	w      io.Writer
	prefix string
}

func (l *linePrefixer) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []byte
	for _, line := range strings.SplitAfter(string(b), "\n") {
		if line != "" {
			out = append(append(out, l.prefix...), line...)
		}
	}
	if _, err := l.w.Write(out); err != nil {
		return 0, err
	}
	return len(b), nil
}
