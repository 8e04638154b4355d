// Package export translates resolved apps (config.App, the model the daemon
// runs) into the manifests of the engines teams move to when one machine is
// no longer enough: Kubernetes, Amazon ECS, Docker Compose, systemd and
// Nomad. Those engines, not tend, then run the apps. What an engine cannot
// carry over is reported as a Note; what it cannot express at all is an
// *Error naming the app and the option.
package export

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tend-dev/tend/internal/config"
)

// Engines are the targets of Export, in the order the CLI lists them.
var Engines = []string{"kubernetes", "ecs", "compose", "systemd", "nomad"}

// Options shape an export.
type Options struct {
	// Project names what holds the apps: the compose project, the Nomad job,
	// the ECS task family, the systemd unit prefix, the shared Secret. ""
	// means the base name of BaseDir.
	Project string
	// Image is the container image every app runs from (it holds the apps,
	// as built by the project's Dockerfile). "" means <project>:latest.
	Image string
	// BaseDir is the folder on this machine that becomes Workdir on the
	// target: every path under it is rewritten.
	BaseDir string
	// Workdir is where BaseDir lives on the target; "" means /app for the
	// container engines and /opt/<project> for systemd.
	Workdir string
}

// File is one output file (one object, unit or document).
type File struct {
	Name string
	Data []byte
}

// Note is something an export could not carry over, and why.
type Note struct {
	App    string
	Option string
	Why    string
}

func (n Note) String() string {
	if n.App == "" {
		return n.Option + ": " + n.Why
	}
	return fmt.Sprintf("app %s: %s: %s", n.App, n.Option, n.Why)
}

// Result is an export: its files, in order, and its notes.
type Result struct {
	Engine string
	Files  []File
	Notes  []Note
	// Stream is what goes to stdout without --out: every file in one stream
	// (a YAML stream for kubernetes, the one compose file, the units one after
	// the other).
	Stream []byte
}

// ErrUnsupported is matched (errors.Is) by every *Error.
var ErrUnsupported = errors.New("cannot be expressed by the engine")

// Error is an app option an engine cannot express.
type Error struct {
	Engine string
	App    string
	Option string
	Why    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s export: app %q: %s: %s", e.Engine, e.App, e.Option, e.Why)
}

func (e *Error) Is(target error) bool { return target == ErrUnsupported }

// ResolveOptions are what Resolve needs beyond the ecosystem file.
type ResolveOptions struct {
	// BaseDir is where relative paths resolve (the CLI's working directory).
	BaseDir string
	// EnvName selects env_<name>.
	EnvName string
	// PATH finds commands named by scripts ("" means $PATH).
	PATH string
	// NumCPU resolves instances: "max" (0 means runtime.NumCPU()).
	NumCPU int
	// Only keeps these apps and what they depend on.
	Only []string
}

// Resolve turns an ecosystem file's apps into what Export takes: the apps as
// the daemon would run them, except that the CLI's own environment is left
// out (only PATH is used, to find commands), an env_file is kept as a file
// rather than merged (it may hold secrets), and a script that is not built
// yet on this machine is taken as the path the image will have.
func Resolve(eco *config.Ecosystem, o ResolveOptions) ([]config.App, error) {
	path := o.PATH
	if path == "" {
		path = os.Getenv("PATH")
	}
	numCPU := o.NumCPU
	if numCPU <= 0 {
		numCPU = runtime.NumCPU()
	}
	var apps []config.App
	var errs []error
	for _, m := range eco.Apps {
		c := make(map[string]any, len(m))
		for k, v := range m {
			c[k] = v
		}
		envFile, _ := c["env_file"].(string)
		delete(c, "env_file")
		a, err := config.Resolve(c, config.ResolveOptions{
			Home: "/tend-home", BaseDir: o.BaseDir, CLIEnv: map[string]string{"PATH": path},
			EnvName: o.EnvName, NumCPU: numCPU, ConfigFile: eco.Path, Deploy: eco.Deploy,
			ScriptMayBeMissing: true,
		})
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if !ownsVar(m, "PATH", o.EnvName) {
			delete(a.Env, "PATH")
		}
		if envFile != "" {
			if filepath.IsAbs(envFile) {
				a.EnvFile = envFile
			} else {
				a.EnvFile = filepath.Join(a.Cwd, envFile)
			}
		}
		a.ConfigFile = eco.Path
		apps = append(apps, *a)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(o.Only) > 0 {
		names := map[string]bool{}
		for _, a := range apps {
			names[a.Name] = true
		}
		for _, n := range o.Only {
			if !names[n] {
				return nil, fmt.Errorf("--only %s: no app named %q in %s", strings.Join(o.Only, ","), n, eco.Path)
			}
		}
		keep := config.DependencyClosure(apps, o.Only)
		var kept []config.App
		for _, a := range apps {
			if keep[a.Name] {
				kept = append(kept, a)
			}
		}
		apps = kept
	}
	if len(apps) == 0 {
		return nil, fmt.Errorf("%s declares no app to export", eco.Path)
	}
	if err := config.CheckDependencies(apps, nil); err != nil {
		return nil, fmt.Errorf("%s: %w", eco.Path, err)
	}
	return apps, nil
}

// ownsVar reports whether the app's own env (or env_<name>) sets key.
func ownsVar(m map[string]any, key, envName string) bool {
	for _, k := range []string{"env", "env_" + envName} {
		if e, ok := m[k].(map[string]any); ok {
			if _, ok := e[key]; ok {
				return true
			}
		}
	}
	return false
}

// Export translates apps for engine.
func Export(engine string, apps []config.App, o Options) (*Result, error) {
	x, err := newExporter(engine, apps, o)
	if err != nil {
		return nil, err
	}
	switch engine {
	case "kubernetes", "k8s":
		x.engine = "kubernetes"
		err = x.kubernetes()
	case "compose":
		err = x.compose()
	case "ecs":
		err = x.ecs()
	case "systemd":
		err = x.systemd()
	case "nomad":
		err = x.nomad()
	default:
		return nil, fmt.Errorf("unknown engine %q: use one of %s", engine, strings.Join(Engines, ", "))
	}
	if err != nil {
		return nil, err
	}
	x.res.Engine = x.engine
	return &x.res, nil
}

// app is one app as an engine sees it: paths rewritten for the target.
type app struct {
	*config.App
	id      string            // DNS-1123 label
	argv    []string          // entrypoint: interpreter, its args, script
	args    []string          // the app's args
	cwd     string            // working directory on the target
	env     map[string]string // plain variables (no secrets, no PATH/PWD)
	secrets []string          // required_env: references only
	data    []string          // data folders on the target
	envFile string            // env_file on the target ("" = none)
	ports   []int
	// oneShot: autorestart false, a task that runs to its end.
	oneShot bool
	// folded: a one-shot run only as a step before its dependents (each of
	// which depends on it with condition completed).
	folded bool
}

type exporter struct {
	engine  string
	o       Options
	apps    []*app
	byName  map[string]*app
	portOf  map[int]*app
	res     Result
	base    string
	workdir string
	volumes map[string]string // data folder → volume name
}

func newExporter(engine string, list []config.App, o Options) (*exporter, error) {
	if len(list) == 0 {
		return nil, errors.New("no app to export")
	}
	x := &exporter{engine: engine, o: o, byName: map[string]*app{}, portOf: map[int]*app{}}
	x.base = filepath.Clean(o.BaseDir)
	if o.BaseDir == "" {
		x.base, _ = os.Getwd()
	}
	if x.o.Project == "" {
		x.o.Project = filepath.Base(x.base)
	}
	x.o.Project = dnsLabel(x.o.Project)
	if x.o.Image == "" {
		x.o.Image = x.o.Project + ":latest"
		if engine != "systemd" {
			x.note("", "--image", fmt.Sprintf("no image named: the manifests use %s (build it with the project's Dockerfile, or pass --image)", x.o.Image))
		}
	}
	x.workdir = o.Workdir
	if x.workdir == "" {
		x.workdir = "/app"
		if engine == "systemd" {
			x.workdir = "/opt/" + x.o.Project
		}
	}
	ids := map[string]bool{}
	for i := range list {
		a := &app{App: &list[i], id: dnsLabel(list[i].Name)}
		if ids[a.id] {
			// PM2 runs two apps of one name side by side; an engine needs two names.
			base := a.id
			for n := 2; ids[a.id]; n++ {
				a.id = fmt.Sprintf("%s-%d", strings.TrimRight(base[:min(len(base), 60)], "-"), n)
			}
			x.note(a.Name, "name", fmt.Sprintf("another app has the same name: this one is %s", a.id))
		}
		ids[a.id] = true
		x.apps = append(x.apps, a)
		if _, ok := x.byName[a.Name]; !ok {
			x.byName[a.Name] = a
		}
	}
	for _, a := range x.apps {
		x.prepare(a)
	}
	// A one-shot every dependent waits for with condition completed runs as a
	// step of those dependents (an init container, a prestart task).
	for _, a := range x.apps {
		if !a.oneShot {
			continue
		}
		n, all := 0, true
		for _, b := range x.apps {
			for _, d := range b.DependsOn {
				if d.Name == a.Name {
					n++
					all = all && d.Condition == config.CondCompleted
				}
			}
		}
		a.folded = n > 0 && all
	}
	return x, nil
}

func (x *exporter) note(app, option, why string) {
	x.res.Notes = append(x.res.Notes, Note{App: app, Option: option, Why: why})
}

func (x *exporter) fail(a *app, option, why string) error {
	return &Error{Engine: x.engine, App: a.Name, Option: option, Why: why}
}

// path rewrites a path of this machine for the target.
func (x *exporter) path(p string) string {
	if p == x.base {
		return x.workdir
	}
	if rest, ok := strings.CutPrefix(p, x.base+"/"); ok {
		return x.workdir + "/" + rest
	}
	return p
}

// text rewrites every path under BaseDir inside s.
func (x *exporter) text(s string) string {
	if !strings.Contains(s, x.base) {
		return s
	}
	s = strings.ReplaceAll(s, x.base+"/", x.workdir+"/")
	if strings.HasSuffix(s, x.base) || strings.Contains(s, x.base+" ") || strings.Contains(s, x.base+":") {
		s = strings.ReplaceAll(s, x.base, x.workdir)
	}
	return s
}

func (x *exporter) prepare(a *app) {
	a.cwd = x.path(a.Cwd)
	script := x.path(a.ScriptPath)
	switch a.Interpreter {
	case "", "none":
		a.argv = []string{script}
	default:
		a.argv = append([]string{a.Interpreter}, a.InterpreterArgs...)
		a.argv = append(a.argv, script)
	}
	for _, s := range a.Args {
		a.args = append(a.args, x.text(s))
	}
	secret := map[string]bool{}
	for _, s := range a.RequiredEnv {
		secret[s] = true
		a.secrets = append(a.secrets, s)
	}
	a.env = map[string]string{}
	for k, v := range a.Env {
		if secret[k] || k == "PWD" {
			continue
		}
		a.env[k] = x.text(v)
	}
	for _, d := range a.Data {
		a.data = append(a.data, x.path(d))
	}
	if a.EnvFile != "" {
		a.envFile = x.path(a.EnvFile)
	}
	a.ports = append(a.ports, a.Ports...)
	if a.ListenFromPort {
		for _, l := range a.Listen {
			if p := listenPort(l); p > 0 && !containsInt(a.ports, p) {
				a.ports = append(a.ports, p)
			}
		}
	}
	for _, p := range a.ports {
		if _, ok := x.portOf[p]; !ok {
			x.portOf[p] = a
		}
	}
	a.oneShot = !a.Autorestart
}

// common notes what no engine carries over, the same for every engine.
func (x *exporter) common(a *app) {
	if a.WatchEnabled {
		x.note(a.Name, "watch", "not carried over: an engine runs a built image, there is no source tree to watch (rebuild and roll out instead)")
	}
	if a.CronRestart != "" && x.engine != "kubernetes" {
		x.note(a.Name, "cron_restart", fmt.Sprintf("not carried over: %s has no periodic restart of a running app (%q)", x.engine, a.CronRestart))
	}
	if a.ExpBackoffRestartDelay > 0 {
		x.note(a.Name, "exp_backoff_restart_delay", "not carried over: the engine's own restart back-off applies")
	}
	if a.WaitReady || a.ListenTimeout > 0 {
		x.note(a.Name, "wait_ready/listen_timeout", "not carried over: PM2's process.send('ready') has no channel here; use readiness")
	}
	if a.ExecMode == "cluster_mode" && a.Instances > 1 {
		if x.engine == "systemd" {
			x.note(a.Name, "exec_mode", "cluster mode becomes one unit per instance on the same machine: they no longer share one port as Node's cluster module did (give each its own port, or use listen for a socket unit)")
		} else {
			x.note(a.Name, "exec_mode", "cluster mode becomes separate copies of the app, one per instance, each with its own address")
		}
	}
	if a.IncrementVar != "" && a.Instances > 1 {
		x.note(a.Name, "increment_var", fmt.Sprintf("not carried over: every copy gets the same %s", a.IncrementVar))
	}
	if a.Instances > 1 && x.engine != "systemd" {
		x.note(a.Name, "instance_var", fmt.Sprintf("%s is not set: copies of an app are alike under %s", a.InstanceVar, x.engine))
	}
	var logOpts []string
	for _, k := range []string{"out_file", "error_file", "log_file", "log_date_format", "time", "log_max_size", "log_rotate_interval", "pid_file"} {
		if _, ok := a.PM2[k]; ok {
			logOpts = append(logOpts, k)
		}
	}
	if len(logOpts) > 0 {
		x.note(a.Name, strings.Join(logOpts, ", "), "not carried over: the engine collects the app's stdout and stderr itself")
	}
	var pm2Only []string
	for _, k := range pm2OnlyOptions {
		v, ok := a.PM2[k]
		if !ok {
			continue
		}
		if def, has := pm2Defaults[k]; has && fmt.Sprint(v) == fmt.Sprint(def) {
			continue // PM2's default, not the file's choice
		}
		pm2Only = append(pm2Only, k)
	}
	if len(pm2Only) > 0 {
		x.note(a.Name, strings.Join(pm2Only, ", "), "not carried over: PM2's own (PM2.io, its Node agent, its deploy and update hooks), meaningless to "+x.engine)
	}
	if !a.Treekill {
		x.note(a.Name, "treekill", "not carried over: the engine stops the app's whole container or unit")
	}
	if _, ok := a.PM2["filter_env"]; ok {
		x.note(a.Name, "filter_env", "nothing to filter: the shell's environment is never exported")
	}
	for _, p := range []*config.Probe{a.Readiness, a.Liveness} {
		if p != nil && p.HTTP != "" && p.Status != "" && p.Status != "200-399" {
			x.note(a.Name, "readiness/liveness.status", fmt.Sprintf("the engine accepts its own status range, not %s", p.Status))
		}
	}
}

// volume names the volume of a data folder: apps that declare the same
// folder share it (a one-shot that initialises a database's folder and the
// database).
func (x *exporter) volume(a *app, path string) string {
	if x.volumes == nil {
		x.volumes = map[string]string{}
	}
	if v, ok := x.volumes[path]; ok {
		return v
	}
	n := 0
	for _, v := range x.volumes {
		if strings.HasPrefix(v, a.id+"-data-") {
			n++
		}
	}
	v := fmt.Sprintf("%s-data-%d", a.id, n)
	x.volumes[path] = v
	return v
}

// pm2OnlyOptions mean something only to PM2 itself (docs/configuration.md,
// "Accepted and ignored"); pm2Defaults are the values PM2's normalization
// puts in every app, which say nothing about the file.
var (
	pm2OnlyOptions = []string{"vizion", "pmx", "automation", "source_map_support", "disable_source_map_support",
		"post_update", "v8", "event_loop_inspector", "trace", "deep_monitoring", "windowsHide", "kill_retry_time",
		"install_url", "append_env_to_name", "force", "io", "shutdown_with_message"}
	pm2Defaults = map[string]any{"vizion": true, "pmx": true, "automation": true, "windowsHide": true, "kill_retry_time": 100.0}
)

// sortedKeys returns m's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

var nonLabel = regexp.MustCompile(`[^a-z0-9-]+`)

// dnsLabel makes s an RFC 1123 label (Kubernetes names, compose services).
func dnsLabel(s string) string {
	s = nonLabel.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		s = "app"
	}
	if s[0] >= '0' && s[0] <= '9' {
		s = "app-" + s
	}
	return s
}

func listenPort(l string) int {
	if strings.HasPrefix(l, "unix:") {
		return 0
	}
	i := strings.LastIndex(l, ":")
	p, _ := strconv.Atoi(l[i+1:])
	return p
}

func containsInt(l []int, v int) bool {
	for _, e := range l {
		if e == v {
			return true
		}
	}
	return false
}

// seconds rounds d up to whole seconds, at least min.
func seconds(d time.Duration, min int) int {
	s := int((d + time.Second - 1) / time.Second)
	if s < min {
		return min
	}
	return s
}

// localRef finds "localhost:<port>" or "127.0.0.1:<port>" in env values.
var localRef = regexp.MustCompile(`\b(localhost|127\.0\.0\.1|0\.0\.0\.0)(:([0-9]{1,5}))\b`)

// networked rewrites, in a's environment, the loopback addresses of ports
// another exported app listens on to that app's service name: on a cluster
// each app has its own address.
func (x *exporter) networked(a *app, host func(*app) string) {
	if len(a.ports) > 0 && len(x.dependents(a)) > 0 {
		for _, s := range a.args {
			if s == "127.0.0.1" || s == "localhost" {
				x.note(a.Name, "args", "the app is told to listen on "+s+": in a container of its own, the apps that depend on it cannot reach it (listen on 0.0.0.0 there)")
				break
			}
		}
	}
	for _, k := range sortedKeys(a.env) {
		v := a.env[k]
		nv := localRef.ReplaceAllStringFunc(v, func(m string) string {
			sub := localRef.FindStringSubmatch(m)
			p, _ := strconv.Atoi(sub[3])
			owner, ok := x.portOf[p]
			if !ok || owner == a {
				return m
			}
			return host(owner) + sub[2]
		})
		if nv != v {
			a.env[k] = nv
			x.note(a.Name, "env."+k, fmt.Sprintf("loopback address of another app rewritten to its service name (%s)", nv))
		}
	}
}

// probeCommand is a shell command that performs p (for engines whose checks
// are commands: compose, ECS).
func probeCommand(p *config.Probe) string {
	switch p.Kind() {
	case "http":
		return fmt.Sprintf("curl -fsS -o /dev/null %s || wget -q -O /dev/null %s", shq(p.HTTP), shq(p.HTTP))
	case "tcp":
		h, port := splitHostPort(p.TCP)
		return fmt.Sprintf("nc -z %s %s", shq(h), port)
	}
	return p.Exec
}

func splitHostPort(hp string) (string, string) {
	i := strings.LastIndex(hp, ":")
	if i < 0 {
		return "127.0.0.1", hp
	}
	h := strings.Trim(hp[:i], "[]")
	if h == "" {
		h = "127.0.0.1"
	}
	return h, hp[i+1:]
}

// shq quotes s for sh when it needs it.
func shq(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>*?()[]{}!#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// memMiB is a memory limit in MiB, rounded up.
func memMiB(b int64) int64 { return (b + (1<<20 - 1)) >> 20 }

// dependents lists the apps that depend on a.
func (x *exporter) dependents(a *app) []*app {
	var out []*app
	for _, b := range x.apps {
		for _, d := range b.DependsOn {
			if d.Name == a.Name {
				out = append(out, b)
			}
		}
	}
	return out
}

// joinStream joins files with a separator line between them.
func joinStream(files []File, sep func(File) string) []byte {
	var b strings.Builder
	for _, f := range files {
		b.WriteString(sep(f))
		b.Write(f.Data)
	}
	return []byte(b.String())
}
