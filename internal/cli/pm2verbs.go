package cli

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
)

// refusedVerbs are PM2's verbs that tend does not have, each with what tend
// offers instead: they exit 1 with that, never "unknown command"; those
// marked noop only change PM2 Plus settings or remove what tend never
// installs, so they print that and exit 0, as PM2 does there.
var refusedVerbs = []struct {
	use, instead string
	noop         bool
}{
	{"inspect <name>", "start the app with Node's inspector instead: tend start app.js --node-args=--inspect", false},
	{"profile:mem [time]", "start the app with --node-args=--heapsnapshot-signal=SIGUSR2, then tend sendSignal SIGUSR2 <app>", false},
	{"profile:cpu [time]", "start the app with --node-args=--cpu-prof; the profile is written when it exits", false},
	{"slist", "tend monit shows every app's CPU and memory; Prometheus metrics: tend daemon --metrics-addr", false},
	{"sysinfos", "tend monit shows every app's CPU and memory; Prometheus metrics: tend daemon --metrics-addr", false},
	{"imonit", "use tend monit", false},
	{"pull <name> [commit_id]", "tend keeps no version-control state of apps; pull in your deploy step, then tend reload <app>", false},
	{"forward <name>", "tend keeps no version-control state of apps; check out the commit, then tend reload <app>", false},
	{"backward <name>", "tend keeps no version-control state of apps; check out the commit, then tend reload <app>", false},
	{"deepUpdate", "install the new tend binary, then tend update", false},
	{"logrotate", "log rotation is built in (log_max_size, log_rotate_interval; or tend install pm2-logrotate); an external logrotate can signal tend reloadLogs", false},
	{"create", "tend ecosystem writes a sample ecosystem file", false},
	{"autoinstall", "tend runs no PM2 modules", false},
	{"module:update <module>", "tend runs no PM2 modules", false},
	{"module:generate [app_name]", "tend runs no PM2 modules", false},
	{"package [target]", "tend runs no PM2 modules", false},
	{"publish [folder]", "tend runs no PM2 modules", false},
	{"install-otel", "tend serves Prometheus metrics (tend daemon --metrics-addr), no OpenTelemetry collector", false},
	{"uninstall-otel", "tend serves Prometheus metrics (tend daemon --metrics-addr), no OpenTelemetry collector", true},
	{"link [secret] [public] [name]", "PM2 Plus (app.pm2.io) is not part of tend; Prometheus metrics: tend daemon --metrics-addr", false},
	{"unlink", "PM2 Plus (app.pm2.io) is not part of tend", true},
	{"monitor [name]", "PM2 Plus (app.pm2.io) is not part of tend", true},
	{"unmonitor [name]", "PM2 Plus (app.pm2.io) is not part of tend", true},
	{"open", "PM2 Plus (app.pm2.io) is not part of tend", false},
	{"plus [command] [option]", "PM2 Plus (app.pm2.io) is not part of tend", false},
	{"register", "PM2 Plus (app.pm2.io) is not part of tend", false},
	{"login", "PM2 Plus (app.pm2.io) is not part of tend", false},
	{"logout", "PM2 Plus (app.pm2.io) is not part of tend", false},
}

func (a *app) refusedCmds() []*cobra.Command {
	var out []*cobra.Command
	for _, v := range refusedVerbs {
		name, _, _ := strings.Cut(v.use, " ")
		instead, noop := v.instead, v.noop
		out = append(out, &cobra.Command{
			Use:                v.use,
			Short:              "PM2's " + name + ": not in tend (" + instead + ")",
			Hidden:             true,
			DisableFlagParsing: true,
			RunE: func(cmd *cobra.Command, args []string) error {
				if noop && strings.Contains(v.use, "[name]") && len(args) == 0 {
					return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] %s needs an app name (and %s)", name, instead)}
				}
				if noop {
					fmt.Fprintf(a.stderr, "[tend][NOTICE] %s: nothing to do: %s\n", name, instead)
					return nil
				}
				return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] %s: not in tend: %s", name, instead)}
			},
		})
	}
	return out
}

// cleardumpCmd is PM2's cleardump: an empty dump, so resurrect starts nothing.
func (a *app) cleardumpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "cleardump",
		Short: "Empty $TEND_HOME/" + dumpFile + " (tend resurrect then starts nothing)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := os.MkdirAll(a.home, 0o700); err != nil {
				return err
			}
			if err := writeDump(a.home, []byte("[]\n")); err != nil {
				return err
			}
			fmt.Fprintf(a.stderr, "[tend] %s emptied\n", filepath.Join(a.home, dumpFile))
			return nil
		},
	}
}

// attachCmd is PM2's attach: the app's output is followed, and each line
// read from tend's standard input goes to the app's (with the separator,
// a newline by default), until that input ends.
func (a *app) attachCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "attach <name|id> [command separator]",
		Short: "Follow an app's output and send it the lines typed (Ctrl-D leaves)",
		Args:  cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sep := "\n"
			if len(args) == 2 {
				sep = args[1]
			}
			go func() { _ = a.logs(args[:1], &logsFlags{}) }()
			sc := bufio.NewScanner(cmd.InOrStdin())
			for sc.Scan() {
				ctx, cancel := a.ctx()
				_, err := client.New(a.home).Act(ctx, api.ActionRequest{Action: api.ActionStdin, Line: sc.Text() + sep, Target: api.Target{Names: args[:1]}})
				cancel()
				if err != nil {
					return err
				}
			}
			return sc.Err()
		},
	}
}

func (a *app) examplesCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "examples",
		Short: "Show everyday commands",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprint(a.stdout, `tend start app.js --name api -i 2      # a script, two instances
tend start ecosystem.config.js --env production
tend ls                                 # the process list (jlist: JSON)
tend logs api --lines 100               # last lines, then follow
tend restart api --update-env           # with the shell's environment
tend reload all                         # replace every app without downtime
tend stop api && tend delete api
tend save && tend startup               # start the same apps at boot
tend monit                              # live dashboard
`)
			return nil
		},
	}
}

// reportCmd is PM2's report: what a bug report needs about this tend.
func (a *app) reportCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "report",
		Short: "Print what a bug report needs: versions, the daemon, the apps, the daemon's last log lines",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			w := a.stdout
			fmt.Fprintf(w, "===============================================================================\n--- tend report ---------------------------------------------------------------\n")
			fmt.Fprintf(w, "tend version    : %s\nos / arch       : %s / %s\ngo              : %s\nTEND_HOME       : %s\nuser            : uid %d\n",
				version(), runtime.GOOS, runtime.GOARCH, runtime.Version(), a.home, os.Getuid())
			c := client.New(a.home)
			ping, err := c.Ping(ctx)
			switch {
			case errors.Is(err, client.ErrNoDaemon):
				fmt.Fprintln(w, "daemon          : not running")
			case err != nil:
				fmt.Fprintf(w, "daemon          : %v\n", err)
			default:
				fmt.Fprintf(w, "daemon          : pid %d, version %s, up %s\n", ping.PID, ping.Version, fmtDuration(msDuration(ping.UptimeMS)))
				var ps []api.Process
				if ps, err = c.List(ctx); err == nil {
					fmt.Fprintf(w, "--- apps (%d) -------------------------------------------------------------------\n", len(ps))
					a.printTable(ps)
				}
			}
			if b, err := os.ReadFile(filepath.Join(a.home, "tend.log")); err == nil {
				lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
				fmt.Fprintf(w, "--- last lines of %s ---\n%s\n", filepath.Join(a.home, "tend.log"), strings.Join(lines[max(0, len(lines)-25):], "\n"))
			}
			fmt.Fprintln(w, "===============================================================================")
			return nil
		},
	}
}

func msDuration(ms int64) time.Duration { return time.Duration(ms) * time.Millisecond }
