package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config/js"
	"github.com/tend-dev/tend/internal/config/pm2"
	"github.com/tend-dev/tend/internal/lazyre"
)

// ResolveOptions give Resolve what PM2 takes from the CLI process.
type ResolveOptions struct {
	// Home is TEND_HOME: default logs go to $Home/logs/<name>-out.log and
	// <name>-error.log, the pid file to $Home/pids/<name>.pid. "" means $TEND_HOME,
	// else ~/.tend.
	Home string
	// BaseDir is the directory relative cwd, script and log paths resolve against
	// (the directory of the ecosystem file, or the CLI's working directory). ""
	// means the current directory.
	BaseDir string
	// CLIEnv is the environment of the CLI, the lowest layer of the app's
	// environment (nil: none). Its PATH is used to find commands.
	CLIEnv map[string]string
	// EnvName selects env_<EnvName> (pm2 start file --env <EnvName>).
	EnvName string
	// NumCPU is what instances 0/"max" and negative counts are relative to;
	// 0 means runtime.NumCPU().
	NumCPU int
	// ConfigFile is the ecosystem file the app comes from (App.ConfigFile, errors).
	ConfigFile string
	// ScriptMayBeMissing resolves an app whose script is not on this machine
	// (yet) as if it were the file relative to cwd: `tend export` describes apps
	// for an image that is built elsewhere.
	ScriptMayBeMissing bool
	// Deploy is the file's deploy section (Ecosystem.Deploy): with EnvName,
	// deploy.<EnvName>.env is merged below everything else, as PM2 does.
	Deploy any
}

// interpreterByExt is PM2's table of interpreters chosen from the script extension.
var interpreterByExt = map[string]string{
	".sh":     "bash",
	".py":     "python",
	".rb":     "ruby",
	".php":    "php",
	".pl":     "perl",
	".js":     "node",
	".coffee": "coffee",
	".ls":     "lsc",
	".ts":     "bun",
	".tsx":    "bun",
}

// Resolve turns one normalized app (an element of Ecosystem.Apps, or of Normalize's
// result) into the App the daemon runs: absolute paths, interpreter, merged
// environment, instance count, durations and PM2's defaults.
func Resolve(app map[string]any, opts ResolveOptions) (*App, error) {
	m, _ := js.FromGo(app).(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	a := &App{
		Namespace:   DefaultNamespace,
		KillSignal:  DefaultKillSignal,
		InstanceVar: DefaultInstanceVar,
		ConfigFile:  opts.ConfigFile,
		EnvName:     opts.EnvName,
		PM2:         js.Finalize(m).(map[string]any),
	}
	str := func(k string) string { return strOf(m, k) }

	script, ok := m["script"].(string)
	a.Name = str("name")
	if a.Name == "" && ok && script != "" {
		a.Name = js.NodeBasename(script, "")
		if dot := strings.LastIndex(a.Name, "."); dot > 0 {
			a.Name = a.Name[:dot]
		}
	}
	fail := func(err error) (*App, error) {
		return nil, &LoadError{File: opts.ConfigFile, App: a.Name, Err: err}
	}
	if !ok || script == "" {
		return fail(errors.New("No script path - aborting"))
	}
	a.Script = script
	if ns := str("namespace"); ns != "" {
		a.Namespace = ns
	}

	base := opts.BaseDir
	if base == "" {
		base, _ = os.Getwd()
	} else if !filepath.IsAbs(base) {
		base, _ = filepath.Abs(base)
	}
	a.Cwd = base
	if c := str("cwd"); c != "" {
		a.Cwd = js.NodeResolve(base, c)
	}
	home := opts.Home
	if home == "" {
		home = os.Getenv("TEND_HOME")
	}
	if home == "" {
		h, _ := os.UserHomeDir()
		home = filepath.Join(h, ".tend")
	}
	userHome := opts.CLIEnv["HOME"]
	if userHome == "" {
		userHome, _ = os.UserHomeDir()
	}
	expandHome := func(p string) string {
		if strings.HasPrefix(p, "~") {
			return js.NodeJoin(userHome, p[1:])
		}
		return p
	}

	env, err := resolveEnv(m, a, opts, expandHome)
	if err != nil {
		return nil, err
	}

	if err := resolveScript(m, a, opts, script, env); err != nil {
		return nil, err
	}
	if opts.EnvName != "" {
		mergeEnvValues(env, m["env_"+opts.EnvName])
	}
	a.Env = env

	a.Args = stringList(m["args"])
	a.InterpreterArgs = stringList(m["node_args"])

	resolveInstances(m, a, opts.NumCPU)

	if s := str("instance_var"); s != "" {
		a.InstanceVar = s
	}
	a.IncrementVar = str("increment_var")

	boolOr := func(k string, def bool) bool {
		if b, ok := m[k].(bool); ok {
			return b
		}
		return def
	}
	a.Autorestart = boolOr("autorestart", true)
	a.Autostart = boolOr("autostart", true)
	a.Treekill = boolOr("treekill", true)
	a.WaitReady = js.Truthy(m["wait_ready"])
	a.MergeLogs = js.Truthy(m["merge_logs"])

	a.MinUptime = msOr(m["min_uptime"], DefaultMinUptime)
	a.KillTimeout = msOr(m["kill_timeout"], DefaultKillTimeout)
	if ks := str("kill_signal"); ks != "" {
		a.KillSignal = strings.ToUpper(ks)
		if !strings.HasPrefix(a.KillSignal, "SIG") && (a.KillSignal[0] < '0' || a.KillSignal[0] > '9') {
			a.KillSignal = "SIG" + a.KillSignal
		}
	}
	if js.Truthy(m["uid"]) || js.Truthy(m["gid"]) { // numbers after Normalize (resolveUser)
		uid, gid := int(js.ParseInt(m["uid"])), int(js.ParseInt(m["gid"]))
		a.UID, a.GID = &uid, &gid
	}
	a.RestartDelay = msOr(m["restart_delay"], 0)
	a.ExpBackoffRestartDelay = msOr(m["exp_backoff_restart_delay"], 0)
	a.ListenTimeout = msOr(m["listen_timeout"], 0)
	a.WatchDelay = msOr(m["watch_delay"], 0)
	if err := resolveHealth(m, a); err != nil {
		return nil, err
	}
	if err := resolveListen(m, a); err != nil {
		return nil, err
	}

	resolveLimits(m, a)

	resolveWatch(m, a)
	a.LogDateFormat = str("log_date_format")

	resolveLogs(m, a, home, expandHome)
	return a, nil
}

// resolveEnv merges the app's environment, lowest first: the deploy
// section's env, the CLI's (filter_env applied), env_file, env, port.
// env_<name> goes on top later, after the interpreter is known.
func resolveEnv(m map[string]any, a *App, opts ResolveOptions, expandHome func(string) string) (map[string]string, error) {
	env := map[string]string{}
	if opts.EnvName != "" {
		if d, ok := js.FromGo(opts.Deploy).(map[string]any); ok {
			if de, ok := d[opts.EnvName].(map[string]any); ok {
				mergeEnvValues(env, de["env"])
			}
		}
	}
	for k, v := range filterEnv(opts.CLIEnv, m["filter_env"]) {
		env[k] = v
	}
	if ef := strOf(m, "env_file"); ef != "" {
		p := js.NodeResolve(a.Cwd, expandHome(ef))
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, &EnvFileError{Path: p, App: a.Name, Err: err}
		}
		a.EnvFile = p
		for k, v := range js.ParseDotenv(string(b)) {
			env[k] = v
		}
	}
	mergeEnvValues(env, m["env"])
	if js.Truthy(m["port"]) {
		env["PORT"] = js.ToString(m["port"])
	}
	if strOf(m, "cwd") != "" {
		env["PWD"] = a.Cwd
	}
	return env, nil
}

// resolveScript finds the script (a file relative to cwd, else a command on
// PATH) and its interpreter.
func resolveScript(m map[string]any, a *App, opts ResolveOptions, script string, env map[string]string) error {
	scriptAbs := js.NodeResolve(a.Cwd, script)
	found := scriptAbs
	onPath := false
	if _, err := os.Stat(scriptAbs); err != nil {
		pathEnv := env["PATH"]
		if ep, ok := m["env_"+opts.EnvName].(map[string]any); ok && opts.EnvName != "" {
			if p, ok := ep["PATH"]; ok {
				pathEnv = js.ToString(p)
			}
		}
		if p := js.LookPathIn(script, pathEnv); p != "" {
			found, onPath = p, true
		} else if !opts.ScriptMayBeMissing {
			return &ScriptNotFoundError{Path: scriptAbs, App: a.Name}
		}
	}

	// Interpreter.
	interp := strOf(m, "exec_interpreter")
	if interp == "" {
		if it, ok := interpreterByExt[js.NodeExtname(found)]; ok {
			interp = it
			if it == "python" && js.LookPathIn("python", env["PATH"]) == "" && js.LookPathIn("python3", env["PATH"]) != "" {
				interp = "python3"
			}
		} else if runsDirectly(found) {
			interp = "none"
		} else {
			interp = "node"
		}
	}
	a.Interpreter = interp
	if onPath && interp == "none" {
		a.ScriptPath = script
	} else {
		a.ScriptPath = found
	}
	if strings.Contains(interp, "python") {
		env["PYTHONUNBUFFERED"] = "1"
	}
	return nil
}

// resolveInstances sets the instance count and exec mode (PM2's
// God.prepare and determineExecMode).
func resolveInstances(m map[string]any, a *App, numCPU int) {
	if numCPU <= 0 {
		numCPU = runtime.NumCPU()
	}
	rawInst, hasInst := js.NumberValue(m["instances"])
	a.Instances = 1
	if hasInst && !math.IsNaN(rawInst) && !math.IsInf(rawInst, 0) {
		n := int(min(rawInst, math.MaxInt32)) // 1e30 stays huge, for the limit to refuse
		switch {
		case n == 0:
			n = numCPU
		case n < 0:
			n += numCPU
		}
		if n > 0 {
			a.Instances = n
		}
	}
	if em := strOf(m, "exec_mode"); em != "" {
		a.ExecMode = pm2.ExecModeShort().ReplaceAllString(em, "${1}_mode")
	} else {
		ib := filepath.Base(a.Interpreter)
		if hasInst && (rawInst >= 1 || rawInst == 0 || rawInst == -1) && (strings.HasSuffix(ib, "node") || strings.HasSuffix(ib, "bun")) {
			a.ExecMode = "cluster_mode"
		} else {
			a.ExecMode = "fork_mode"
		}
	}
}

// resolveLimits sets max_restarts, max_memory_restart and stop_exit_codes.
func resolveLimits(m map[string]any, a *App) {
	a.MaxRestarts = DefaultMaxRestarts
	if f, ok := js.NumberValue(m["max_restarts"]); ok && !math.IsNaN(f) {
		if math.IsInf(f, 1) || f > math.MaxInt32 {
			a.MaxRestarts = math.MaxInt32
		} else if f >= 0 {
			a.MaxRestarts = int(f)
		}
	}
	switch v := m["max_memory_restart"].(type) {
	case float64:
		if !math.IsNaN(v) && !math.IsInf(v, 0) && v > 0 {
			a.MaxMemoryRestart = int64(v)
		}
	case string:
		if n, err := ParseBytes(v); err == nil {
			a.MaxMemoryRestart = n
		}
	}
	switch v := m["stop_exit_codes"].(type) {
	case float64:
		if !math.IsNaN(v) {
			a.StopExitCodes = []int{int(v)}
		}
	case []any:
		for _, e := range v {
			if f := js.ToNumber(e); !math.IsNaN(f) {
				a.StopExitCodes = append(a.StopExitCodes, int(f))
			}
		}
	}
}

// resolveWatch sets watch, ignore_watch and cron_restart.
func resolveWatch(m map[string]any, a *App) {
	if w := m["watch"]; js.Truthy(w) {
		a.WatchEnabled = true
		switch x := w.(type) {
		case []any:
			a.Watch = stringList(x)
		case string:
			a.Watch = []string{x}
		}
		if len(a.Watch) == 0 {
			a.Watch = []string{"."}
		}
	}
	switch x := m["ignore_watch"].(type) {
	case []any:
		a.IgnoreWatch = stringList(x)
	case string:
		a.IgnoreWatch = []string{x}
	}
	if cr := m["cron_restart"]; js.Truthy(cr) && !js.LooseEquals(cr, 0.0) && !js.LooseEquals(cr, "0") {
		a.CronRestart = js.ToString(cr)
	}
}

// resolveLogs sets the log and pid files (PM2's prepareAppConf) and tend's
// log rotation (docs/configuration.md, "Log options").
func resolveLogs(m map[string]any, a *App, home string, expandHome func(string) string) {
	fname := logNameRe().ReplaceAllString(a.Name, "-")
	file := func(v any, def string) string {
		af, _ := v.(string)
		if af != "" {
			af = expandHome(af)
		}
		switch {
		case af == "":
			return def
		case af == "NULL" || af == "/dev/null":
			return "/dev/null"
		}
		return js.NodeResolve(a.Cwd, af)
	}
	a.OutFile = file(m["out_file"], filepath.Join(home, "logs", fname+"-out.log"))
	a.ErrorFile = file(m["error_file"], filepath.Join(home, "logs", fname+"-error.log"))
	a.PidFile = file(m["pid_file"], filepath.Join(home, "pids", fname+".pid"))
	switch lf := m["log_file"].(type) {
	case bool:
		if lf {
			a.LogFile = filepath.Join(home, "logs", fname+".log")
		}
	case string:
		if lf != "" {
			a.LogFile = file(lf, "")
		}
	}
	if js.Truthy(m["disable_logs"]) {
		a.OutFile, a.ErrorFile, a.LogFile = "/dev/null", "/dev/null", ""
	}

	// tend's built-in log rotation (docs/configuration.md, "Log options").
	if f, ok := m["log_max_size"].(float64); ok && f > 0 && !math.IsInf(f, 0) {
		a.LogMaxSize = int64(f)
	}
	if f, ok := m["log_retain"].(float64); ok && f >= 0 {
		n := int(min(f, math.MaxInt32))
		a.LogRetain = &n
	}
	if b, ok := m["log_compress"].(bool); ok {
		a.LogCompress = &b
	}
	a.LogRotateInterval = strings.TrimSpace(strOf(m, "log_rotate_interval"))
}

// strOf is m[k] when it is a string, else "".
func strOf(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

// logNameRe: characters PM2 replaces by "-" in log file names (it keeps letters,
// digits, dots, dashes and backslashes).
var logNameRe = lazyre.New(`[^a-zA-Z0-9\\.\-]`)

// envString converts an env value to the string the process receives: numbers and
// booleans as JavaScript prints them, objects and arrays as JSON.
func envString(v any) string {
	switch v.(type) {
	case map[string]any, []any, js.FrozenMap:
		return js.JSONStringify(v)
	}
	return js.ToString(v)
}

func mergeEnvValues(dst map[string]string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		return
	}
	for k, e := range m {
		dst[k] = envString(e)
	}
}

// filterEnv applies filter_env to the CLI environment: true drops it all, a string
// drops that variable, a list drops every variable whose name contains one of the
// strings.
func filterEnv(env map[string]string, filter any) map[string]string {
	out := map[string]string{}
	switch f := filter.(type) {
	case bool:
		if f {
			return out
		}
	case string:
		for k, v := range env {
			if k != f {
				out[k] = v
			}
		}
		return out
	case []any:
		if len(f) > 0 {
		next:
			for k, v := range env {
				for _, s := range f {
					if strings.Contains(k, js.ToString(s)) {
						continue next
					}
				}
				out[k] = v
			}
			return out
		}
	}
	for k, v := range env {
		out[k] = v
	}
	return out
}

func stringList(v any) []string {
	switch x := v.(type) {
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if e == nil {
				out = append(out, "")
				continue
			}
			out = append(out, js.ToString(e))
		}
		return out
	case string:
		var out []string
		for _, e := range pm2.SplitArgs(x) {
			out = append(out, e.(string))
		}
		return out
	}
	return nil
}

func msOr(v any, def time.Duration) time.Duration {
	switch x := v.(type) {
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return def
		}
		return time.Duration(x * float64(time.Millisecond))
	case string:
		if d, err := ParseDuration(x); err == nil {
			return d
		}
	}
	return def
}

// runsDirectly tells whether a script without a known extension is executed as it
// is rather than with node: binaries (PM2's rule), and text files whose #! line
// names another interpreter than node (tend's addition; PM2 would run them with
// node).
func runsDirectly(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	buf := make([]byte, 512)
	n, _ := f.Read(buf)
	buf = buf[:n]
	if isBinary(buf) {
		return true
	}
	if bytes.HasPrefix(buf, []byte("#!")) {
		line, _, _ := bytes.Cut(buf, []byte("\n"))
		return !bytes.Contains(line, []byte("node")) && !bytes.Contains(line, []byte("bun"))
	}
	return false
}

// isBinary guesses whether the first bytes of a file are binary: NUL bytes or many
// control characters.
func isBinary(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	if bytes.HasPrefix(b, []byte{0xef, 0xbb, 0xbf}) {
		return false
	}
	suspicious := 0
	for _, c := range b {
		if c == 0 {
			return true
		}
		if (c < 7 || (c > 14 && c < 32)) && c != 27 {
			suspicious++
		}
	}
	return suspicious*10 > len(b)
}

// ParseBytes parses a memory size as PM2 does for max_memory_restart: a number of
// bytes, or a number followed by K, M or G (powers of 1024).
func ParseBytes(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if !bytesRe().MatchString(s) {
		return 0, fmt.Errorf("invalid memory size %q: expected a number of bytes or a number followed by K, M or G (e.g. 300M)", s)
	}
	if s[len(s)-1] >= '0' && s[len(s)-1] <= '9' {
		return int64(js.ParseFloat(s)), nil
	}
	return int64(pm2.UnitValue(s, "bytes")), nil
}

// ParseDuration parses a duration as PM2 does for min_uptime: a number of
// milliseconds, or a number followed by s, m or h.
func ParseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if !durationRe().MatchString(s) {
		return 0, fmt.Errorf("invalid duration %q: expected milliseconds or a number followed by s, m or h (e.g. 10s)", s)
	}
	var ms float64
	if s[len(s)-1] >= '0' && s[len(s)-1] <= '9' {
		ms = js.ParseFloat(s)
	} else {
		ms = pm2.UnitValue(s, "time")
	}
	return time.Duration(ms * float64(time.Millisecond)), nil
}

var (
	bytesRe    = lazyre.New(`^\d+(G|M|K)?$`)
	durationRe = lazyre.New(`^\d+(h|m|s)?$`)
)
