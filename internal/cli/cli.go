// Package cli is tend's command line: PM2's verbs, flags and targets, as a
// client of the daemon's API.
package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/execshim"
	"github.com/tend-dev/tend/internal/homedir"
	"github.com/tend-dev/tend/internal/procstat"
)

// Main runs the CLI with args (without the program name) and returns the exit code.
func Main(args []string) int {
	if len(args) > 0 && args[0] == execshim.Arg {
		execshim.Run(args[1:]) // an app that receives listening sockets; never returns
	}
	a := &app{stdout: os.Stdout, stderr: os.Stderr}
	errOut := a.stderr // errors are printed even with --silent
	root := a.root()
	root.SetArgs(optionalFlagValues(args))
	defer a.sayVersionSkew(root, args)
	if err := root.Execute(); err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			if ee.msg != "" {
				fmt.Fprintln(errOut, ee.msg)
			}
			return ee.code
		}
		fmt.Fprintf(errOut, "[tend][ERROR] %v\n", err)
		return 1
	}
	return 0
}

// sayVersionSkew tells, once, that the daemon this command talked to is
// another tend than this binary (PM2 says "In-memory PM2 is out-of-date").
// Not after the commands that end or replace the daemon.
func (a *app) sayVersionSkew(root *cobra.Command, args []string) {
	d, ok := client.VersionSkew()
	if !ok || a.pf.silent {
		return
	}
	if cmd, _, err := root.Find(args); err == nil {
		switch cmd.Name() {
		case "update", "kill", "daemon":
			return
		}
	}
	fmt.Fprintf(a.stderr, "[tend] the daemon is tend %s and this command is tend %s: `tend update` replaces the daemon with this binary, the apps keep running\n", d, version())
}

type exitError struct {
	code int
	msg  string
}

func (e exitError) Error() string { return e.msg }

type app struct {
	stdout, stderr io.Writer
	home           string
	pf             pm2Flags // PM2's global options, accepted on every verb
}

// Home returns TEND_HOME, default ~/.tend.
func Home() string {
	if h := os.Getenv("TEND_HOME"); h != "" {
		if abs, err := filepath.Abs(h); err == nil {
			return abs
		}
		return h
	}
	if hd, err := os.UserHomeDir(); err == nil {
		return filepath.Join(hd, ".tend")
	}
	return ".tend"
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:           "tend",
		Short:         "tend — a process manager that is a drop-in replacement for PM2",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version(),
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			v, _ := cmd.Flags().GetBool("version")
			if V, _ := cmd.Flags().GetBool("V"); v || V {
				fmt.Fprintln(a.stdout, version()) // PM2: -v before any "--" prints the version, whatever the verb
				return exitError{code: 0}
			}
			a.home = Home()
			if a.pf.noColor {
				os.Setenv("NO_COLOR", "1")
			}
			if a.pf.silent {
				a.stderr = io.Discard
			}
			for _, n := range a.notices(func(name string) bool { return cmd.Flags().Changed(name) }) {
				fmt.Fprintf(a.stderr, "[tend][NOTICE] %s\n", n)
			}
			if (cmd.Name() == "restart" || cmd.Name() == "reload") && cmd.Flags().Changed("watch") {
				fmt.Fprintln(a.stderr, "[tend][NOTICE] --watch: ignored by "+cmd.Name()+": tend stop <app> --watch stops watching (the app keeps running), tend start <app> watches again")
			}
			return nil
		},
	}
	// `tend -V` prints the version (PersistentPreRunE, as for every verb);
	// `tend` alone prints the help and exits 1, as PM2 does.
	root.RunE = func(cmd *cobra.Command, args []string) error {
		cmd.SetOut(a.stdout)
		cmd.Help()
		return exitError{code: 1}
	}
	root.SetVersionTemplate("{{.Version}}\n")
	root.PersistentFlags().BoolP("version", "v", false, "print tend's version")
	root.PersistentFlags().BoolP("V", "V", false, "print tend's version (PM2's commander also takes -V)")
	root.PersistentFlags().Lookup("V").Hidden = true
	a.addPM2Flags(root.PersistentFlags())
	root.AddCommand(a.refusedCmds()...)
	root.CompletionOptions.DisableDefaultCmd = true
	root.AddCommand(
		a.startCmd(), a.actionCmd("stop", nil, api.ActionStop, "Stop processes (they stay in the list)"),
		a.actionCmd("restart", nil, api.ActionRestart, "Restart processes"),
		a.actionCmd("reload", nil, api.ActionReload, "Replace processes without downtime: start the new instance, stop the old once the new one is ready"),
		a.actionCmd("delete", []string{"del"}, api.ActionDelete, "Stop processes and remove them from the list"),
		a.actionCmd("reset", nil, api.ActionReset, "Reset restart counters"),
		a.actionCmd("flush", nil, api.ActionFlush, "Empty log files"),
		a.listCmd(), a.jlistCmd(), a.describeCmd(), a.envCmd(), a.pingCmd(), a.pidCmd(),
		a.killCmd(), a.updateCmd(), a.saveCmd(), a.resurrectCmd(), a.startupCmd(), a.unstartupCmd(), a.configCmd(), a.daemonCmd(), a.logsCmd(), a.reloadLogsCmd(),
		a.scaleCmd(), a.checkCmd(), a.triggerCmd(),
		a.monitCmd(), a.versionCmd(), a.prettylistCmd(), a.idCmd(), a.sendSignalCmd(), a.sendCmd(), a.ecosystemCmd(),
		a.installCmd(), a.uninstallCmd(), a.setCmd(), a.multisetCmd(), a.unsetCmd(), a.getCmd("get"), a.getCmd("conf"),
		a.cleardumpCmd(), a.attachCmd(), a.examplesCmd(), a.reportCmd(), a.serveCmd(), a.serveProcCmd(), a.deployCmd(),
		a.startOrCmd("startOrRestart", false), a.startOrCmd("startOrReload", true), a.startOrCmd("startOrGracefulReload", true),
		a.exportCmd(), a.runCmd(), a.webCmd(),
	)
	return root
}

// ctx is the context of one CLI call.
func (a *app) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), 5*time.Minute)
}

// call makes a request to the daemon with fn, starting a daemon only when
// none runs: the request goes first, so a running daemon costs one round trip
// (not a ping, then the request). When the client reports that nothing
// answers on the socket (client.ErrNoDaemon, returned only when it cannot
// connect, so the request never reached a daemon), call starts one and calls
// fn again.
func (a *app) call(ctx context.Context, fn func(*client.Client) error) (*client.Client, error) {
	c := client.New(a.home)
	err := fn(c)
	if !errors.Is(err, client.ErrNoDaemon) {
		return c, err
	}
	if err := a.spawnDaemon(ctx); err != nil {
		return nil, err
	}
	return c, fn(c)
}

// list is the daemon's process list (PM2's jlist), starting a daemon if
// none answers, as PM2's list does.
func (a *app) list(ctx context.Context) ([]api.Process, error) {
	var ps []api.Process
	_, err := a.call(ctx, func(c *client.Client) (err error) { ps, err = c.List(ctx); return err })
	return ps, err
}

// connect returns a client of a live daemon, starting one if none answers a
// ping.
func (a *app) connect(ctx context.Context) (*client.Client, error) {
	return a.call(ctx, func(c *client.Client) error {
		_, err := c.Ping(ctx)
		return err
	})
}

// spawnDaemon starts `tend daemon` in the background and waits until it
// serves. When two CLIs race, the loser's daemon exits on the lock and its CLI
// waits for the winner's socket.
func (a *app) spawnDaemon(ctx context.Context) error {
	// The daemon checks the home too; checked here, the refusal reaches the
	// user instead of tend.log.
	home, err := homedir.Open(a.home)
	if err != nil {
		return err
	}
	defer home.Close()
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := home.OpenFile("tend.log", os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("open daemon log: %w", err)
	}
	defer logf.Close()
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	defer pr.Close()
	cmd := exec.Command(exe, "daemon")
	// Not the run marker of an app this CLI may run in: the daemon's
	// processes carry only the markers it gives them.
	env := slices.DeleteFunc(os.Environ(), func(kv string) bool { return strings.HasPrefix(kv, "TEND_RUN=") })
	cmd.Env = append(env, "TEND_HOME="+a.home, "TEND_READY_FD=3")
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.ExtraFiles = []*os.File{pw}
	cmd.Dir = "/"
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	pw.Close()
	if err != nil {
		return fmt.Errorf("start daemon: %w", err)
	}
	fmt.Fprintf(a.stderr, "[tend] Spawning tend daemon with TEND_HOME=%s\n", a.home)
	go cmd.Wait() // reap it if it exits at once
	pr.SetReadDeadline(time.Now().Add(10 * time.Second))
	line, _ := bufio.NewReader(pr).ReadString('\n')
	if line == "ready\n" {
		return nil
	}
	if msg, ok := strings.CutPrefix(line, "error: "); ok {
		return fmt.Errorf("the tend daemon did not start: %s (its log: %s)", strings.TrimSpace(msg), filepath.Join(a.home, "tend.log"))
	}
	// Another daemon won the lock (or ours failed): wait for whichever serves.
	c := client.New(a.home)
	deadline := time.Now().Add(10 * time.Second)
	for wait := time.Millisecond; time.Now().Before(deadline); wait = min(wait*2, 100*time.Millisecond) {
		if _, err := c.Ping(ctx); err == nil {
			return nil
		}
		if err := lockFree(a.home); err == nil {
			break // nobody holds the lock: no daemon is coming
		}
		time.Sleep(wait)
	}
	return fmt.Errorf("the tend daemon did not start; see %s", filepath.Join(a.home, "tend.log"))
}

// hasState reports whether TEND_HOME holds state records (of a daemon
// that died, if none runs).
func hasState(home string) bool {
	ents, _ := os.ReadDir(filepath.Join(home, "state"))
	return len(ents) > 0
}

// lockFree returns nil when no daemon holds TEND_HOME's lock.
func lockFree(home string) error {
	f, err := openLock(home)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return err
	}
	unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return nil
}

// openLock opens TEND_HOME's daemon.lock, never through a link.
func openLock(home string) (*os.File, error) {
	return os.OpenFile(filepath.Join(home, "daemon.lock"), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
}

// waitLockFree waits until the daemon holding TEND_HOME's lock has exited.
func waitLockFree(ctx context.Context, home string) error {
	f, err := openLock(home)
	if err != nil {
		return err
	}
	defer f.Close()
	done := make(chan error, 1)
	go func() { done <- unix.Flock(int(f.Fd()), unix.LOCK_EX) }()
	select {
	case err := <-done:
		if err == nil {
			unix.Flock(int(f.Fd()), unix.LOCK_UN)
		}
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// waitGone waits until process pid has exited (or is a zombie), at most
// until ctx ends or 5 s pass.
// waitDaemonGone waits until the daemon of pid has let go of the lock and
// has exited, so that "killed" or "replaced" means gone.
func waitDaemonGone(ctx context.Context, home string, pid int) error {
	if err := waitLockFree(ctx, home); err != nil {
		return err
	}
	waitGone(ctx, pid) // the lock goes with the daemon's last step
	return nil
}

func waitGone(ctx context.Context, pid int) {
	if pid <= 0 {
		return
	}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if p, ok := procstat.ReadProc(pid); !ok || p.Zombie() {
			return
		}
		time.Sleep(2 * time.Millisecond)
	}
}
