package cli

import (
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/spf13/pflag"

	tendversion "github.com/tend-dev/tend/internal/version"
)

// pm2Flags are PM2's global options: PM2's parser accepts every one of them
// on every verb, so tend does too. Each is either used with PM2's meaning by
// the verbs it concerns, or accepted with a notice saying what tend does
// instead (notices).
type pm2Flags struct {
	startFlags
	silent, noColor, miniList, attach, write, noDaemon bool
	sort                                               string
	user, hp, serviceName                              string
	waitIP                                             bool
	// Accepted for PM2's sake; notices says what tend does instead.
	noTreekill, noVizion, noPmx, noAutomation, shutdownWithMessage bool
	sourceMap, noSourceMap, trace, noTrace, v8, eventLoop, deep    bool
	container, dist, fresh, dockerDaemon, daemonMode               bool
	imageName, nodeVersion, logType                                string
}

// watchValue is PM2's `--watch [paths]`: bare, it watches the app's folder;
// with a value (`--watch src`, again for more), those paths.
type watchValue struct {
	on    bool
	paths []string
}

const watchBare = "true" // the value of an optional-valued flag given bare

func (w *watchValue) String() string { return strings.Join(w.paths, ",") }
func (w *watchValue) Type() string   { return "paths" }
func (w *watchValue) Set(v string) error {
	switch v {
	case watchBare:
		w.on = true
	case "false":
		w.on, w.paths = false, nil
	default:
		w.on = true
		w.paths = append(w.paths, v)
	}
	return nil
}

// addPM2Flags registers PM2's global options on fs.
func (a *app) addPM2Flags(fs *pflag.FlagSet) {
	f := &a.pf
	fs.StringVarP(&f.name, "name", "n", "", "app name")
	fs.StringVarP(&f.instances, "instances", "i", "", "number of instances (max, 0 or -1 for the CPU count)")
	fs.StringVar(&f.maxMem, "max-memory-restart", "", "restart when the app's memory passes this (300M, 1G)")
	fs.StringVar(&f.envName, "env", "", "use env_<name> of the ecosystem file")
	fs.StringVar(&f.only, "only", "", "only these apps of the ecosystem file (a,b)")
	fs.StringVar(&f.interpreter, "interpreter", "", "interpreter (node, python3, bash, none)")
	fs.StringVar(&f.interpArgs, "interpreter-args", "", "arguments for the interpreter")
	fs.StringVar(&f.interpArgs, "node-args", "", "arguments for node (alias of --interpreter-args)")
	fs.StringVar(&f.cwd, "cwd", "", "working directory")
	fs.StringVarP(&f.killTimeout, "kill-timeout", "k", "", "how long to wait after the stop signal before SIGKILL (ms)")
	fs.StringVar(&f.listenTimeout, "listen-timeout", "", "how long to wait for a ready signal before the app counts as up (ms)")
	fs.BoolVar(&f.waitReady, "wait-ready", false, "the app is up only once it sends process.send('ready') (or READY=1)")
	fs.StringVar(&f.restartDelay, "restart-delay", "", "delay between a crash and the next start (ms)")
	fs.StringVar(&f.minUptime, "min-uptime", "", "a run shorter than this is unstable (ms or 10s)")
	fs.StringVar(&f.maxRestarts, "max-restarts", "", "unstable restarts before errored")
	fs.Lookup("max-restarts").NoOptDefVal = watchBare // PM2's [count]: bare, the default
	fs.StringVar(&f.logDate, "log-date-format", "", "timestamp format for log lines (YYYY-MM-DD HH:mm:ss)")
	fs.BoolVar(&f.time, "time", false, "prefix every log line with a timestamp")
	fs.BoolVar(&f.mergeLogs, "merge-logs", false, "one log file for all instances")
	fs.StringVarP(&f.out, "output", "o", "", "stdout log file")
	fs.StringVarP(&f.errf, "error", "e", "", "stderr log file")
	fs.StringVarP(&f.logf, "log", "l", "", "combined log file")
	fs.Lookup("log").NoOptDefVal = watchBare // PM2's -l [path]: bare, the default path
	fs.BoolVar(&f.disableLogs, "disable-logs", false, "write no log files (output goes to /dev/null)")
	fs.StringVarP(&f.pidFile, "pid", "p", "", "pid file")
	fs.StringVar(&f.namespace, "namespace", "", "namespace")
	fs.StringVarP(&f.cron, "cron-restart", "c", "", "restart on this cron schedule")
	fs.StringVar(&f.cron, "cron", "", "alias of --cron-restart")
	fs.StringVar(&f.expBackoff, "exp-backoff-restart-delay", "", "first delay of exponential backoff restarts (ms)")
	fs.StringVar(&f.stopExitCodes, "stop-exit-codes", "", "exit codes that do not trigger a restart (0,3)")
	fs.StringVar(&f.killSignal, "kill-signal", "", "stop signal (SIGINT)")
	fs.StringVar(&f.incVar, "increment-var", "", "variable increased by one per instance (PORT)")
	fs.StringVar(&f.instanceVar, "instance-var", "", "variable holding the instance number (default NODE_APP_INSTANCE)")
	fs.StringVar(&f.uid, "uid", "", "run the app as this user (name or number; the daemon must run as root)")
	fs.StringVar(&f.gid, "gid", "", "run the app with this group (name or number)")
	fs.StringArrayVar(&f.filterEnv, "filter-env", nil, "leave out of the app's environment the shell variables whose names contain this (bare: all)")
	fs.Lookup("filter-env").NoOptDefVal = watchBare
	fs.BoolVar(&f.noAutorestart, "no-autorestart", false, "do not restart the app when it exits")
	fs.BoolVar(&f.noAutostart, "no-autostart", false, "add the app to the list without starting it")
	fs.BoolVarP(&f.updateEnv, "update-env", "a", false, "refresh the environment of apps already running")
	fs.Var(&f.watch, "watch", "restart on file changes: the app's folder, or these paths (--watch src --watch lib)")
	fs.Lookup("watch").NoOptDefVal = watchBare
	fs.StringSliceVar(&f.ignoreWatch, "ignore-watch", nil, "paths or globs not to watch (replaces the default: dotfiles, node_modules)")
	fs.StringVar(&f.watchDelay, "watch-delay", "", "wait this long after a change before restarting (4 = 4 s, or 4000ms)")
	fs.StringVar(&f.ext, "ext", "", "with --watch, only changes to files with these extensions (js,json)")
	fs.BoolVarP(&f.force, "force", "f", false, "start a script again even if it already runs")
	fs.BoolVarP(&f.execCmd, "execute-command", "x", false, "fork mode, even with -i")
	fs.IntVar(&f.parallel, "parallel", 1, "instances of one app handled at once (reload)")
	fs.BoolVar(&f.noPreflight, "no-preflight", false, "skip the checks that run before anything starts")

	fs.BoolVarP(&a.pf.silent, "silent", "s", false, "print only answers and errors: no progress messages, no table")
	fs.BoolVar(&a.pf.noColor, "no-color", false, "no colours (as NO_COLOR)")
	fs.BoolVarP(&a.pf.miniList, "mini-list", "m", false, "print the process list as plain key : value blocks")
	fs.StringVar(&a.pf.sort, "sort", "", "order of the process list: name, namespace, id, pid, cpu, memory, uptime or status, then :asc or :desc")
	fs.BoolVar(&a.pf.attach, "attach", false, "after the action, follow the apps' logs (Ctrl-C to leave; the apps keep running)")
	fs.StringVarP(&a.pf.user, "user", "u", "", "startup: the user the daemon runs as")
	fs.StringVar(&a.pf.hp, "hp", "", "startup: that user's home folder")
	fs.StringVar(&a.pf.serviceName, "service-name", "", "startup: the unit's name")
	fs.BoolVar(&a.pf.waitIP, "wait-ip", false, "startup: start the daemon once the network is online")
	fs.BoolVarP(&a.pf.write, "write", "w", false, "start: also write the app's options to <name>-pm2.json")
	fs.BoolVar(&a.pf.noDaemon, "no-daemon", false, "PM2's foreground daemon (see the notice)")
	fs.StringVar(&a.pf.logType, "log-type", "", "PM2's log line format: raw (default) or json")

	fs.BoolVar(&a.pf.noTreekill, "no-treekill", false, "PM2: kill only the main process (see the notice)")
	fs.BoolVar(&a.pf.noVizion, "no-vizion", false, "PM2: no version-control metadata (tend collects none)")
	fs.BoolVar(&a.pf.noPmx, "no-pmx", false, "PM2: no pmx agent (tend injects none)")
	fs.BoolVar(&a.pf.noAutomation, "no-automation", false, "PM2: no pmx agent (tend injects none)")
	fs.BoolVar(&a.pf.shutdownWithMessage, "shutdown-with-message", false, "PM2: stop with process.send('shutdown') (see the notice)")
	fs.BoolVar(&a.pf.sourceMap, "source-map-support", false, "PM2: source map support (see the notice)")
	fs.BoolVar(&a.pf.noSourceMap, "disable-source-map-support", false, "PM2: no source map support")
	fs.BoolVar(&a.pf.trace, "trace", false, "PM2 Plus transaction tracing (not in tend)")
	fs.BoolVar(&a.pf.noTrace, "disable-trace", false, "PM2 Plus transaction tracing (not in tend)")
	fs.BoolVar(&a.pf.v8, "v8", false, "PM2 Plus v8 data (not in tend)")
	fs.BoolVar(&a.pf.eventLoop, "event-loop-inspector", false, "PM2 Plus event loop dumps (not in tend)")
	fs.BoolVar(&a.pf.deep, "deep-monitoring", false, "PM2 Plus monitoring (not in tend)")
	fs.BoolVar(&a.pf.container, "container", false, "PM2's Docker mode (not in tend)")
	fs.BoolVar(&a.pf.dist, "dist", false, "PM2's Docker mode (not in tend)")
	fs.BoolVar(&a.pf.fresh, "fresh", false, "PM2's Docker mode (not in tend)")
	fs.BoolVar(&a.pf.dockerDaemon, "dockerdaemon", false, "PM2's Docker mode (not in tend)")
	fs.BoolVar(&a.pf.daemonMode, "daemon", false, "PM2's Docker mode (not in tend)")
	fs.StringVar(&a.pf.imageName, "image-name", "", "PM2's Docker mode (not in tend)")
	fs.Lookup("image-name").NoOptDefVal = watchBare
	fs.StringVar(&a.pf.nodeVersion, "node-version", "", "PM2's Docker mode (not in tend)")
	fs.Lookup("node-version").NoOptDefVal = watchBare
	for _, n := range []string{"no-vizion", "no-pmx", "no-automation", "source-map-support", "disable-source-map-support",
		"trace", "disable-trace", "v8", "event-loop-inspector", "deep-monitoring", "container", "dist", "fresh",
		"dockerdaemon", "daemon", "image-name", "node-version"} {
		fs.MarkHidden(n)
	}
}

// notices returns one line for each PM2 option given that tend accepts but
// does not follow, saying what it does instead and why
// (docs/pm2-differences.md lists them).
func (a *app) notices(set func(string) bool) []string {
	var out []string
	add := func(flag, msg string) {
		if set(flag) {
			out = append(out, "--"+flag+": "+msg)
		}
	}
	add("no-treekill", "ignored: tend always stops the app's whole process tree, so a stop leaves no orphan")
	add("shutdown-with-message", "ignored: tend stops apps with kill_signal (SIGINT by default); handle that signal instead")
	add("no-vizion", "nothing to turn off: tend collects no version-control metadata")
	add("no-pmx", "nothing to turn off: tend injects no pmx agent")
	add("no-automation", "nothing to turn off: tend injects no pmx agent")
	add("source-map-support", "ignored: tend injects nothing into the app; use node --enable-source-maps (--node-args)")
	add("disable-source-map-support", "nothing to turn off: tend injects nothing into the app")
	for _, f := range []string{"trace", "disable-trace", "v8", "event-loop-inspector", "deep-monitoring"} {
		add(f, "ignored: PM2 Plus monitoring is not part of tend (tend serves Prometheus metrics: --metrics-addr)")
	}
	for _, f := range []string{"container", "dist", "fresh", "dockerdaemon", "daemon", "image-name", "node-version"} {
		add(f, "ignored: tend has no Docker mode; the app starts as a process")
	}
	add("no-daemon", "ignored: the daemon runs in the background as usual (run it in the foreground with: tend daemon)")
	if set("log-type") && a.pf.logType != "raw" {
		out = append(out, "--log-type "+a.pf.logType+": ignored: tend writes log files as plain lines; tend logs --json prints them as JSON")
	}
	add("wait-ip", "ignored: the unit starts after network.target")
	add("service-name", "ignored: the unit is named tend-<user>.service")
	return out
}

// version is tend's version (package version).
func version() string { return tendversion.String() }

// optionalValued are PM2's options of start with an optional value
// ([value] in commander: `--watch [paths]`, `-l [path]`...): as in PM2, the
// word after one is its value, unless it is an option.
var optionalValued = map[string]bool{"--watch": true, "--filter-env": true, "--log": true, "-l": true,
	"--max-restarts": true, "--image-name": true, "--node-version": true, "--monitor": true}

// startVerbs take the optionalValued options.
var startVerbs = map[string]bool{"start": true, "startOrRestart": true, "startOrReload": true, "startOrGracefulReload": true,
	"serve": true, "expose": true}

// optionalValues rewrites `--watch src` into `--watch=src` (and
// --filter-env) for the start verbs, as PM2's parser reads an optional value
// from the next word (pflag takes it only after "="). Nothing after "--"
// changes.
func optionalFlagValues(args []string) []string {
	verb := ""
	for _, a := range args {
		if a == "--" {
			break
		}
		if !strings.HasPrefix(a, "-") {
			verb = a
			break
		}
	}
	if !startVerbs[verb] {
		return args
	}
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		if args[i] == "--" {
			out = append(out, args[i:]...)
			break
		}
		if optionalValued[args[i]] && i+1 < len(args) && args[i+1] != "--" && !strings.HasPrefix(args[i+1], "-") {
			out = append(out, args[i]+"="+args[i+1])
			i++
			continue
		}
		// PM2's --stop-exit-codes takes several values (<codes...>): the
		// numbers after it are its values, "0 3" as "0,3".
		if codes, ok := strings.CutPrefix(args[i], "--stop-exit-codes"); ok && (codes == "" || codes[0] == '=') {
			codes = strings.TrimPrefix(codes, "=")
			j := i + 1
			if codes == "" && j < len(args) {
				codes, j = args[j], j+1
			}
			for ; j < len(args) && isInt(args[j]); j++ {
				codes += "," + args[j]
			}
			out = append(out, "--stop-exit-codes="+codes)
			i = j - 1
			continue
		}
		out = append(out, args[i])
	}
	return out
}

// isInt reports whether s is a whole number, such as an exit code.
func isInt(s string) bool {
	_, err := strconv.Atoi(s)
	return err == nil
}

// otherFiles is PM2's --ext: the files under dir (outside node_modules)
// whose names do not end with one of exts, relative to dir, to be ignored by
// the watcher. As in PM2, files created later are watched whatever their
// extension.
func otherFiles(dir string, exts []string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.IsDir() {
			if d.Name() == "node_modules" {
				return filepath.SkipDir
			}
			return nil
		}
		for _, e := range exts {
			if strings.HasSuffix(d.Name(), "."+strings.TrimPrefix(e, ".")) {
				return nil
			}
		}
		if rel, err := filepath.Rel(dir, p); err == nil {
			out = append(out, filepath.ToSlash(rel))
		}
		if len(out) >= 100000 {
			return filepath.SkipAll
		}
		return nil
	})
	return out
}

// watchDelay reads PM2's --watch-delay: seconds ("4", "0.5"), or
// milliseconds with "ms" ("4000ms").
func watchDelay(v string) (float64, error) {
	if ms, ok := strings.CutSuffix(v, "ms"); ok {
		n, err := strconv.ParseFloat(strings.TrimSpace(ms), 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--watch-delay %q: give seconds (4) or milliseconds (4000ms)", v)
		}
		return float64(int64(n)), nil
	}
	n, err := strconv.ParseFloat(v, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--watch-delay %q: give seconds (4) or milliseconds (4000ms)", v)
	}
	return n * 1000, nil
}
