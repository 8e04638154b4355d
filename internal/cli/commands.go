package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sys/unix"

	"github.com/tend-dev/tend/internal/api"
	"github.com/tend-dev/tend/internal/client"
	"github.com/tend-dev/tend/internal/config"
	"github.com/tend-dev/tend/internal/daemon"
	"github.com/tend-dev/tend/internal/display"
	"github.com/tend-dev/tend/internal/preflight"
)

type startFlags struct {
	name, instances, maxMem, envName, only, interpreter, interpArgs, cwd string
	killTimeout, restartDelay, minUptime, logDate, out, errf, logf       string
	namespace, cron, expBackoff, stopExitCodes, killSignal, incVar       string
	maxRestarts, listenTimeout, watchDelay, ext, pidFile, instanceVar    string
	uid, gid                                                             string
	filterEnv                                                            []string
	env                                                                  map[string]string // set by verbs that start tend's own programs (serve)
	noAutorestart, noAutostart, time, mergeLogs, updateEnv, force        bool
	noPreflight, waitReady, disableLogs, execCmd                         bool
	watch                                                                watchValue
	ignoreWatch                                                          []string
	reload                                                               bool // reload apps that run (tend reload file)
	parallel                                                             int  // instances of one app reloaded at once
}

func (a *app) startCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "start [ecosystem file | script | name | id] [-- args...]",
		Short: "Start apps from an ecosystem file, a script or a command, or start a stopped app",
		RunE: func(cmd *cobra.Command, args []string) error {
			var extra []string
			if d := cmd.ArgsLenAtDash(); d >= 0 {
				extra, args = args[d:], args[:d]
			}
			return a.start(cmd, args, extra, &a.pf.startFlags)
		},
	}
}

func (a *app) start(cmd *cobra.Command, args, extra []string, f *startFlags) error {
	ctx, cancel := a.ctx()
	defer cancel()
	o := loadOptions{home: a.home, envName: f.envName, only: splitList(f.only)}
	var l *loaded
	var err error
	adhoc := false // a script or a command from the command line
	switch {
	case len(args) == 0:
		path, err := defaultConfig()
		if err != nil {
			return err
		}
		if l, err = loadFile(path, o); err != nil {
			return err
		}
	case isConfigFile(args[0]):
		if l, err = loadFile(args[0], o); err != nil {
			return err
		}
	default:
		if _, statErr := os.Stat(args[0]); statErr != nil && !strings.Contains(args[0], " ") {
			// Not a file: maybe an app that exists (PM2 starts a stopped app by name or id).
			c := client.New(a.home)
			ps, err := c.Act(ctx, api.ActionRequest{Action: api.ActionStart, Target: api.Target{Names: args}})
			switch {
			case err == nil:
				return a.done(ctx, c, ps)
			case errors.Is(err, client.ErrNoDaemon), errors.Is(err, api.ErrNotFound):
				// no daemon, or no such app: a script or a command
			default:
				return err
			}
		}
		if l, err = a.adhoc(args[0], append(args[1:], extra...), f, o); err != nil {
			return err
		}
		adhoc = true
	}
	for _, w := range l.warns {
		fmt.Fprintf(a.stderr, "[tend][WARN] %s\n", w)
	}
	for i := range l.apps {
		if _, own := l.apps[i].PM2["namespace"]; !adhoc && f.namespace != "" && !own {
			l.apps[i].Namespace = f.namespace // PM2: for the apps without a namespace of their own
		}
		if f.watch.on && len(f.watch.paths) == 0 && !l.apps[i].WatchEnabled {
			l.apps[i].WatchEnabled = true // PM2: a bare --watch turns on watching of a file's apps
		}
		if len(f.ignoreWatch) > 0 {
			l.apps[i].IgnoreWatch = f.ignoreWatch
		}
	}
	running, listErr := a.runningApps(ctx)
	if err := config.CheckDependencies(l.apps, func(n string) bool { _, ok := running[n]; return ok }); err != nil {
		return err
	}
	if f.noPreflight {
		if len(l.problems) > 0 {
			return l.problems[0]
		}
	} else if rep := preflight.Check(l.apps, l.problems, preflight.Options{Running: online(running)}); !rep.OK() {
		return exitError{code: 1, msg: "[tend][ERROR] " + rep.Error()}
	}
	c := client.New(a.home)
	if listErr != nil {
		// No daemon answered the list: start one (a daemon that answered is
		// not asked again).
		if c, err = a.connect(ctx); err != nil {
			return err
		}
	} else if adhoc && !f.force {
		if err := alreadyRunning(ctx, c, l.apps); err != nil {
			return err
		}
	}
	for _, app := range l.apps {
		n := app.Instances
		verb := "Starting"
		if f.reload {
			verb = "Reloading" // or starting, when it does not run
		}
		fmt.Fprintf(a.stderr, "[tend] %s %s in %s (%d instance%s)\n", verb, app.ScriptPath, app.ExecMode, n, plural(n))
	}
	ps, err := c.Start(ctx, api.StartRequest{Apps: l.apps, Reload: f.reload, Parallel: f.parallel, Add: adhoc && f.force})
	if err != nil {
		return err
	}
	if f.reload {
		a.printReloads(ps)
	}
	return a.done(ctx, c, ps)
}

// alreadyRunning refuses to start a script that already runs under the same
// name, as PM2 does (exit 1); -f starts another copy. A stopped or errored
// one is started again instead.
func alreadyRunning(ctx context.Context, c *client.Client, apps []config.App) error {
	ps, err := c.List(ctx)
	if err != nil {
		return err
	}
	for _, app := range apps {
		for _, p := range ps {
			if p.Name != app.Name || p.PM2Env.PMExecPath != app.ScriptPath {
				continue
			}
			switch p.PM2Env.Status {
			case api.StatusStopped, api.StatusStopping, api.StatusErrored:
				continue
			}
			return exitError{code: 1, msg: fmt.Sprintf("[tend][ERROR] %s already runs as %s (id %d): add -f to start another copy, or use tend restart %s", app.Script, p.Name, p.PMID, p.Name)}
		}
	}
	return nil
}

// runningApps returns the status of every app the daemon knows, if one runs
// (without starting one); the error is the list's (client.ErrNoDaemon when no
// daemon runs).
func (a *app) runningApps(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	ps, err := client.New(a.home).List(ctx)
	if err != nil {
		return out, err
	}
	for _, p := range ps {
		out[p.Name] = p.PM2Env.Status
	}
	return out, nil
}

func online(status map[string]string) map[string]bool {
	out := map[string]bool{}
	for n, s := range status {
		if s == api.StatusOnline || s == api.StatusLaunching || s == api.StatusWaitingRestart {
			out[n] = true
		}
	}
	return out
}

func (a *app) checkCmd() *cobra.Command {
	var envName, only string
	cmd := &cobra.Command{
		Use:   "check [ecosystem file]",
		Short: "Run the preflight alone: scripts, build artifacts, required env, ports, interpreters",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			path := ""
			if len(args) == 1 {
				path = args[0]
			} else if p, err := defaultConfig(); err == nil {
				path = p
			} else {
				return err
			}
			l, err := loadFile(path, loadOptions{home: a.home, envName: envName, only: splitList(only)})
			if err != nil {
				return err
			}
			for _, w := range l.warns {
				fmt.Fprintf(a.stderr, "[tend][WARN] %s\n", w)
			}
			running, _ := a.runningApps(ctx)
			if err := config.CheckDependencies(l.apps, func(n string) bool { _, ok := running[n]; return ok }); err != nil {
				return err
			}
			rep := preflight.Check(l.apps, l.problems, preflight.Options{Running: online(running)})
			if !rep.OK() {
				return exitError{code: 1, msg: "[tend][ERROR] " + rep.Error()}
			}
			fmt.Fprintf(a.stdout, "✔ preflight passed for %d app%s in %s\n", rep.Checked, plural(rep.Checked), path)
			return nil
		},
	}
	cmd.Flags().StringVar(&envName, "env", "", "use env_<name>")
	cmd.Flags().StringVar(&only, "only", "", "only these apps (a,b) and what they depend on")
	return cmd
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// done prints the closing "Done" and the process list, as PM2 does after an action.
func (a *app) done(ctx context.Context, c *client.Client, touched []api.Process) error {
	failed := 0
	for _, p := range touched {
		if p.PM2Env.Status == api.StatusErrored {
			failed++
			fmt.Fprintf(a.stderr, "[tend][ERROR] %s (id %d) is errored: %s\n", p.Name, p.PMID, p.PM2Env.RestartReason)
		}
	}
	if failed == 0 {
		fmt.Fprintln(a.stderr, "[tend] Done.")
	}
	if !a.pf.silent {
		ps, err := c.ListBrief(ctx) // the table shows no variable or option
		if err != nil {
			return err
		}
		a.printTable(ps)
	}
	if a.pf.attach && len(touched) > 0 {
		// PM2's --attach: follow what the apps write from now on.
		seen := map[string]bool{}
		var names []string
		for _, p := range touched {
			if !seen[p.Name] {
				seen[p.Name] = true
				names = append(names, p.Name)
			}
		}
		return a.logs([]string{strings.Join(names, ",")}, &logsFlags{})
	}
	return nil
}

// adhoc builds an app from a script and PM2's command-line options.
func (a *app) adhoc(script string, args []string, f *startFlags, o loadOptions) (*loaded, error) {
	m := map[string]any{"script": script}
	set := func(k, v string) {
		if v != "" {
			m[k] = v
		}
	}
	set("name", f.name)
	set("instances", f.instances)
	set("max_memory_restart", f.maxMem)
	set("interpreter", f.interpreter)
	set("interpreter_args", f.interpArgs)
	set("cwd", f.cwd)
	set("kill_timeout", f.killTimeout)
	set("restart_delay", f.restartDelay)
	set("min_uptime", f.minUptime)
	set("log_date_format", f.logDate)
	set("out_file", f.out)
	set("error_file", f.errf)
	if f.logf == watchBare {
		m["log_file"] = true // bare -l: the combined log in the home's logs/
	} else {
		set("log_file", f.logf)
	}
	set("namespace", f.namespace)
	set("cron_restart", f.cron)
	set("exp_backoff_restart_delay", f.expBackoff)
	set("kill_signal", f.killSignal)
	set("increment_var", f.incVar)
	if len(f.env) > 0 {
		env := map[string]any{}
		for k, v := range f.env {
			env[k] = v
		}
		m["env"] = env
	}
	set("listen_timeout", f.listenTimeout)
	set("pid_file", f.pidFile)
	set("instance_var", f.instanceVar)
	set("uid", f.uid)
	set("gid", f.gid)
	if f.waitReady {
		m["wait_ready"] = true
	}
	if f.disableLogs {
		m["disable_logs"] = true
	}
	if f.noAutostart {
		m["autostart"] = false
	}
	if f.execCmd {
		m["exec_mode"] = "fork" // PM2's -x: fork mode, whatever -i says
	}
	if len(f.filterEnv) > 0 {
		var names []any
		for _, v := range f.filterEnv {
			if v == watchBare {
				m["filter_env"] = true // bare --filter-env: none of the shell's variables
				names = nil
				break
			}
			names = append(names, v)
		}
		if names != nil {
			m["filter_env"] = names
		}
	}
	if f.watchDelay != "" {
		d, err := watchDelay(f.watchDelay)
		if err != nil {
			return nil, err
		}
		m["watch_delay"] = d
	}
	if f.stopExitCodes != "" {
		var codes []any
		for _, s := range splitList(f.stopExitCodes) {
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, fmt.Errorf("--stop-exit-codes: %q is not a number", s)
			}
			codes = append(codes, float64(n))
		}
		m["stop_exit_codes"] = codes
	}
	if f.maxRestarts != "" && f.maxRestarts != watchBare { // bare: the default
		n, err := strconv.Atoi(f.maxRestarts)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("--max-restarts: %q is not a count (a whole number, 0 or more)", f.maxRestarts)
		}
		m["max_restarts"] = float64(n)
	}
	if f.noAutorestart {
		m["autorestart"] = false
	}
	if f.time {
		m["time"] = true
	}
	if f.mergeLogs {
		m["merge_logs"] = true
	}
	switch {
	case len(f.watch.paths) > 0:
		list := make([]any, len(f.watch.paths))
		for i, v := range f.watch.paths {
			list[i] = v
		}
		m["watch"] = list
	case f.watch.on:
		m["watch"] = true
	default:
		m["watch"] = false // PM2's command line writes it
	}
	if f.ext != "" {
		dir := f.cwd
		if dir == "" {
			dir = "."
		}
		f.ignoreWatch = append(f.ignoreWatch, otherFiles(dir, splitList(f.ext))...)
	}
	if len(f.ignoreWatch) > 0 {
		list := make([]any, len(f.ignoreWatch))
		for i, v := range f.ignoreWatch {
			list[i] = v
		}
		m["ignore_watch"] = list
	}
	if len(args) > 0 {
		list := make([]any, len(args))
		for i, s := range args {
			list[i] = s
		}
		m["args"] = list
	}
	wd, err := os.Getwd()
	if err != nil {
		return nil, err
	}
	norm, warns, err := config.Normalize([]map[string]any{m}, "")
	if err != nil {
		return nil, err
	}
	if a.pf.write && len(norm) == 1 {
		// PM2's --write: the app's options, as an ecosystem file would give them.
		b, err := json.MarshalIndent(norm[0], "", "  ")
		if err != nil {
			return nil, err
		}
		name, _ := norm[0]["name"].(string)
		dst := filepath.Join(wd, name+"-pm2.json")
		if err := os.WriteFile(dst, append(b, '\n'), 0o644); err != nil {
			return nil, fmt.Errorf("--write: %w", err)
		}
		fmt.Fprintf(a.stderr, "[tend] Wrote the options of %s to %s\n", name, dst)
	}
	l, err := resolveAll(norm, wd, "", loadOptions{home: o.home})
	if err != nil {
		return nil, err
	}
	for _, w := range warns {
		l.warns = append(l.warns, w.String())
	}
	return l, nil
}

// targets turns CLI arguments into names: an ecosystem file stands for its apps.
func targets(args []string, only []string) ([]string, error) {
	var names []string
	for _, arg := range args {
		if isConfigFile(arg) {
			if _, err := os.Stat(arg); err == nil {
				ns, err := appNames(arg, only)
				if err != nil {
					return nil, err
				}
				names = append(names, ns...)
				continue
			}
		}
		names = append(names, arg)
	}
	if len(only) > 0 && len(names) == 0 {
		names = only
	}
	return names, nil
}

func (a *app) actionCmd(use string, aliases []string, action api.Action, short string) *cobra.Command {
	var watch bool
	cmd := &cobra.Command{
		Use:     use + " <name|id|namespace|all|ecosystem file>...",
		Aliases: aliases,
		Short:   short,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && action != api.ActionFlush {
				return fmt.Errorf("%s needs a target: a name, an id, a namespace, all, or an ecosystem file (e.g. tend %s all)", use, use)
			}
			if len(args) == 0 {
				args = []string{"all"}
			}
			ctx, cancel := a.ctx()
			defer cancel()
			only, envName, updateEnv, parallel := a.pf.only, a.pf.envName, a.pf.updateEnv, a.pf.parallel
			// restart/reload of an ecosystem file starts it with its new options (PM2's startOrRestart).
			if (action == api.ActionRestart || action == api.ActionReload) && len(args) == 1 && isConfigFile(args[0]) {
				f := startFlags{envName: envName, only: only, updateEnv: updateEnv, reload: action == api.ActionReload, parallel: parallel}
				return a.start(cmd, args, nil, &f)
			}
			names, err := targets(args, splitList(only))
			if err != nil {
				return err
			}
			c := client.New(a.home)
			req := api.ActionRequest{Action: action, Target: api.Target{Names: names}}
			if action == api.ActionStop && watch {
				req.Action = api.ActionUnwatch // PM2: stop --watch stops watching, the app keeps running
			}
			if updateEnv {
				req.UpdateEnv, req.Env = true, environ()
			}
			req.Parallel = parallel
			ps, err := c.Act(ctx, req)
			if err != nil {
				if errors.Is(err, client.ErrNoDaemon) && action == api.ActionFlush {
					fmt.Fprintf(a.stderr, "[tend][WARN] no tend daemon is running (TEND_HOME=%s): nothing flushed\n", a.home) // PM2 exits 0
					return nil
				}
				if errors.Is(err, client.ErrNoDaemon) {
					return fmt.Errorf("no tend daemon is running (TEND_HOME=%s), so there is nothing to %s; start apps with: tend start ecosystem.config.js", a.home, use)
				}
				if errors.Is(err, api.ErrNotFound) {
					if action == api.ActionFlush {
						fmt.Fprintf(a.stderr, "[tend][WARN] %v: nothing flushed\n", err) // PM2 exits 0
						return nil
					}
					return fmt.Errorf("%v (see `tend ls`)", err)
				}
				return err
			}
			if action == api.ActionReload {
				a.printReloads(ps)
				return a.done(ctx, c, ps)
			}
			for _, p := range ps {
				fmt.Fprintf(a.stderr, "[tend] %s %s (id %d) ✓\n", capitalize(string(action)), p.Name, p.PMID)
			}
			return a.done(ctx, c, ps)
		},
	}
	if action == api.ActionStop {
		cmd.Flags().BoolVar(&watch, "watch", false, "stop watching files; the app keeps running")
	}
	return cmd
}

func (a *app) listCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls", "l", "ps", "status"},
		Short:   "List processes",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			var ps []api.Process
			// The table shows no variable or option: the brief list (a
			// tenth of the full one's bytes for 1,000 apps).
			_, err := a.call(ctx, func(c *client.Client) (err error) { ps, err = c.ListBrief(ctx); return err })
			if err != nil {
				return err
			}
			a.printTable(ps)
			return nil
		},
	}
}

func (a *app) jlistCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "jlist",
		Short: "List processes as JSON, in PM2's shape",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			var b []byte
			if _, err := a.call(ctx, func(c *client.Client) (err error) { b, err = c.ListRaw(ctx); return err }); err != nil {
				return err
			}
			a.stdout.Write(append(b, '\n')) // megabytes for 1,000 apps: not copied through fmt
			return nil
		},
	}
}

func (a *app) describeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "describe <name|id>",
		Aliases: []string{"desc", "info", "show"},
		Short:   "Show everything about a process",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			ps, err := a.list(ctx)
			if err != nil {
				return err
			}
			var sel []api.Process
			for _, p := range ps {
				if args[0] != "all" && matches(p, args[0]) {
					sel = append(sel, p)
				}
			}
			if len(sel) == 0 {
				return fmt.Errorf("process or namespace %s not found (see `tend ls`)", args[0])
			}
			for _, p := range sel {
				a.printDescribe(p)
			}
			return nil
		},
	}
}

func (a *app) envCmd() *cobra.Command {
	var show, pm2 bool
	cmd := &cobra.Command{
		Use:   "env <id> | env --pm2",
		Short: "Show the environment a process runs with (--pm2: the line that points PM2 at tend)",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if pm2 {
				if len(args) > 0 {
					return fmt.Errorf("tend env --pm2 takes no process: it prints the export line for this TEND_HOME")
				}
				// PM2's client (require('pm2'), the pm2 CLI) finds tend's
				// rpc.sock and pub.sock in PM2_HOME.
				fmt.Fprintf(a.stdout, "export PM2_HOME=%s\n", config.ShellQuote(a.home))
				return nil
			}
			if len(args) != 1 {
				return fmt.Errorf("usage: tend env <id|name>, or tend env --pm2")
			}
			ctx, cancel := a.ctx()
			defer cancel()
			var c *client.Client // set once a daemon answered
			id, err := strconv.Atoi(args[0])
			if err != nil {
				var ps []api.Process
				if c, err = a.call(ctx, func(c *client.Client) (err error) { ps, err = c.List(ctx); return err }); err != nil {
					return err
				}
				id = -1
				for _, p := range ps {
					if p.Name == args[0] {
						id = p.PMID
						break
					}
				}
				if id < 0 {
					return fmt.Errorf("process %s not found (see `tend ls`)", args[0])
				}
			}
			var env map[string]string
			if c == nil {
				_, err = a.call(ctx, func(c *client.Client) (err error) { env, err = c.Env(ctx, id); return err })
			} else {
				env, err = c.Env(ctx, id)
			}
			if err != nil {
				return err
			}
			keys := make([]string, 0, len(env))
			for k := range env {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				v := env[k]
				if !show {
					v = maskSecret(k, v)
				}
				fmt.Fprintf(a.stdout, "%s: %s\n", k, v)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&show, "show-secrets", false, "print secret-looking values in full")
	cmd.Flags().BoolVar(&pm2, "pm2", false, "print `export PM2_HOME=...`: require('pm2') and the pm2 CLI then drive this daemon")
	return cmd
}

func (a *app) pingCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "ping",
		Short: "Ensure the daemon runs and answers",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			if _, err := a.call(ctx, func(c *client.Client) (err error) { _, err = c.Ping(ctx); return err }); err != nil {
				return err
			}
			fmt.Fprintln(a.stdout, "{ msg: 'pong' }") // PM2's answer, word for word
			return nil
		},
	}
}

func (a *app) pidCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "pid [name|id]",
		Short: "Print the pid of processes",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			ps, err := a.list(ctx)
			if err != nil {
				return err
			}
			for _, p := range ps {
				if len(args) == 0 || matches(p, args[0]) {
					fmt.Fprintln(a.stdout, p.PID)
				}
			}
			return nil
		},
	}
}

func (a *app) killCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "kill",
		Short: "Stop every app, then the daemon",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			c := client.New(a.home)
			ping, err := c.Ping(ctx) // for the pid to wait for
			if errors.Is(err, client.ErrNoDaemon) {
				if !hasState(a.home) {
					fmt.Fprintln(a.stderr, "[tend] No daemon is running.")
					return nil
				}
				// A daemon died and left apps recorded, perhaps running:
				// a new one takes them over, then stops them.
				fmt.Fprintln(a.stderr, "[tend] No daemon is running, but the last one left apps behind: taking them over to stop them.")
				if err := a.spawnDaemon(ctx); err != nil {
					return err
				}
				ping, err = c.Ping(ctx)
			}
			if err != nil {
				return err
			}
			if err := c.Kill(ctx); err != nil {
				return err
			}
			if err := waitDaemonGone(ctx, a.home, ping.PID); err != nil {
				return err
			}
			fmt.Fprintln(a.stderr, "[tend] Every app stopped; daemon killed.")
			return nil
		},
	}
}

func (a *app) configCmd() *cobra.Command {
	var asJSON bool
	var envName, only string
	cmd := &cobra.Command{
		Use:   "config [ecosystem file]",
		Short: "Print the apps of an ecosystem file as tend understands them, without starting anything",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			abs, eco, err := a.loadEcosystem(args)
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(a.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(eco.Apps)
			}
			wd, err := os.Getwd()
			if err != nil {
				return err
			}
			l, err := resolveAll(eco.Apps, wd, abs, loadOptions{home: a.home, envName: envName, only: splitList(only)})
			if err != nil {
				return err
			}
			for _, app := range l.apps {
				a.printApp(app)
			}
			if len(l.problems) > 0 {
				return l.problems[0]
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print PM2's normalized options as JSON")
	cmd.Flags().StringVar(&envName, "env", "", "use env_<name>")
	cmd.Flags().StringVar(&only, "only", "", "only these apps (a,b)")
	return cmd
}

func (a *app) daemonCmd() *cobra.Command {
	var metricsAddr string
	var resurrect bool
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the daemon in the foreground",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := daemon.Options{Home: a.home, AllowUID: -1, MetricsAddr: metricsAddr, Resurrect: resurrect}
			if fd := os.Getenv("TEND_READY_FD"); fd != "" {
				n, _ := strconv.Atoi(fd)
				unix.CloseOnExec(n) // no app inherits it
				opts.Ready = os.NewFile(uintptr(n), "ready")
				os.Unsetenv("TEND_READY_FD")
			}
			err := daemon.Run(context.Background(), opts)
			if errors.Is(err, daemon.ErrRunning) {
				return exitError{code: 0, msg: "[tend] " + err.Error()}
			}
			if err != nil && opts.Ready != nil {
				// Into tend.log first, then to the CLI that started this
				// daemon, which says why it did not start.
				fmt.Fprintf(a.stderr, "[tend][ERROR] %v\n", err)
				fmt.Fprintf(opts.Ready, "error: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
				opts.Ready.Close()
				return exitError{code: 1}
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&resurrect, "resurrect", false, "start the apps of tend save ($TEND_HOME/"+daemon.DumpFile+") that are not running (what tend startup's unit does)")
	cmd.Flags().StringVar(&metricsAddr, "metrics-addr", "", "serve Prometheus metrics on this loopback address (127.0.0.1:9209); also TEND_METRICS_ADDR or metrics_addr in $TEND_HOME/tend.json")
	return cmd
}

func (a *app) reloadLogsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "reloadLogs",
		Aliases: []string{"reload-logs"},
		Short:   "Reopen every log file (after an external logrotate)",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, cancel := a.ctx()
			defer cancel()
			if _, err := a.call(ctx, func(c *client.Client) error { return c.ReloadLogs(ctx) }); err != nil {
				return err
			}
			fmt.Fprintln(a.stderr, "[tend] Log files reopened.")
			return nil
		},
	}
}

// fmtDuration formats an uptime as PM2 does: 12s, 5m, 3h, 2D.
func fmtDuration(d time.Duration) string { return display.Uptime(d) }

// fmtBytes formats memory as PM2 does: 41.2mb.
func fmtBytes(b int64) string { return display.Bytes(b) }

// capitalize upper-cases the first letter of an ASCII verb ("stop" → "Stop").
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
