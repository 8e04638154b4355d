// Package spec is tend's model of an app: what the daemon runs, what goes
// over the wire and into its state files. It knows nothing of ecosystem
// files: package config reads those (PM2's JS, JSON and YAML, with the
// Node-like runtime and PM2's normalization) into a spec.App. The
// supervisor, the API and the client need only this package.
//
// Durations are time.Duration in Go and milliseconds in JSON (as in PM2's
// files and jlist); see units.go.
package spec

import (
	"path/filepath"
	"strings"
	"time"
)

// App is the canonical, fully resolved description of one application as the
// daemon runs it. It is produced by Resolve from PM2-normalized options and is
// sent over the wire unchanged (JSON), so field names are stable.
type App struct {
	// Name is the app name (PM2 "name"); derived from the script basename when absent.
	Name string `json:"name"`
	// Namespace groups apps for targeting; "default" when absent.
	Namespace string `json:"namespace"`

	// Script is the script as written in the config (after aliasing exec/cmd/command).
	Script string `json:"script"`
	// ScriptPath is the absolute path of the script (PM2's pm_exec_path), or the bare
	// command name when it is found on PATH (e.g. "bash", "redis-server").
	ScriptPath string `json:"script_path"`
	// Args are the arguments after the script.
	Args []string `json:"args,omitempty"`
	// Interpreter runs ScriptPath ("node", "python3", "bash", ...); "" or "none" execs
	// ScriptPath directly.
	Interpreter string `json:"interpreter,omitempty"`
	// InterpreterArgs are placed between the interpreter and the script (node_args).
	InterpreterArgs []string `json:"interpreter_args,omitempty"`
	// Cwd is the absolute working directory.
	Cwd string `json:"cwd"`

	// Instances is the resolved number of copies (>= 1).
	Instances int `json:"instances"`
	// ExecMode is "fork_mode" or "cluster_mode".
	ExecMode string `json:"exec_mode"`

	// Env is the final environment the process starts with, already merged:
	// CLI environment < env_file < env < env_<name>.
	Env map[string]string `json:"env,omitempty"`
	// EnvFile is the absolute path of a dotenv file merged before Env ("" = none).
	EnvFile string `json:"env_file,omitempty"`
	// InstanceVar is the variable set to the instance index (NODE_APP_INSTANCE).
	InstanceVar string `json:"instance_var"`
	// IncrementVar, when set, is a variable whose numeric value in Env is increased by
	// the instance index (PORT 3000, 3001, ...).
	IncrementVar string `json:"increment_var,omitempty"`

	Autorestart bool `json:"autorestart"`
	Autostart   bool `json:"autostart"`
	// MaxRestarts is the number of unstable restarts before status errored (PM2 16).
	MaxRestarts int `json:"max_restarts"`
	// MinUptime: a run shorter than this counts as unstable (PM2 1000 ms).
	MinUptime time.Duration `json:"min_uptime"`
	// RestartDelay waits this long between a crash and the next start.
	RestartDelay time.Duration `json:"restart_delay"`
	// ExpBackoffRestartDelay is the first delay of the exponential backoff (0 = off).
	ExpBackoffRestartDelay time.Duration `json:"exp_backoff_restart_delay,omitempty"`
	// KillTimeout is how long stop waits after KillSignal before SIGKILL (PM2 1600 ms).
	KillTimeout time.Duration `json:"kill_timeout"`
	// KillSignal is the stop signal name, e.g. "SIGINT" (PM2's default).
	KillSignal string `json:"kill_signal"`
	// StopExitCodes are exit codes after which the app is not restarted.
	StopExitCodes []int `json:"stop_exit_codes,omitempty"`
	// Treekill: stop kills the whole process tree (PM2 default true).
	Treekill bool `json:"treekill"`
	// UID and GID, when set (PM2's uid/gid/user, resolved to numbers), are
	// who the app runs as; only a daemon running as root can use them.
	UID *int `json:"uid,omitempty"`
	GID *int `json:"gid,omitempty"`

	// MaxMemoryRestart in bytes (0 = no limit).
	MaxMemoryRestart int64 `json:"max_memory_restart,omitempty"`

	// OutFile, ErrorFile are absolute log paths ("/dev/null" when disabled); LogFile is
	// the combined log ("" = none). Per-instance "-<id>" suffixes are applied by the
	// daemon when MergeLogs is false.
	OutFile   string `json:"out_file"`
	ErrorFile string `json:"error_file"`
	LogFile   string `json:"log_file,omitempty"`
	PidFile   string `json:"pid_file,omitempty"`
	MergeLogs bool   `json:"merge_logs"`
	// LogDateFormat is PM2's moment.js format; "" means no timestamp prefix.
	// time: true yields "YYYY-MM-DDTHH:mm:ss" as in PM2.
	LogDateFormat string `json:"log_date_format,omitempty"`

	Watch         []string      `json:"watch,omitempty"` // paths; ["."] style for watch: true (cwd)
	WatchEnabled  bool          `json:"watch_enabled,omitempty"`
	IgnoreWatch   []string      `json:"ignore_watch,omitempty"`
	WatchDelay    time.Duration `json:"watch_delay,omitempty"`
	CronRestart   string        `json:"cron_restart,omitempty"`
	ListenTimeout time.Duration `json:"listen_timeout,omitempty"`
	WaitReady     bool          `json:"wait_ready,omitempty"`

	// DependsOn lists apps that must reach a condition before this one starts.
	DependsOn []Dependency `json:"depends_on,omitempty"`
	// Readiness and Liveness are health probes (Kubernetes' meanings).
	Readiness *Probe `json:"readiness,omitempty"`
	Liveness  *Probe `json:"liveness,omitempty"`
	// RequiredEnv names variables the preflight requires to be set.
	RequiredEnv []string `json:"required_env,omitempty"`
	// Ports are TCP ports the app listens on (checked free by the preflight).
	Ports []int `json:"ports,omitempty"`
	// Data are the absolute paths of folders the app keeps its state in (a
	// database's data directory). tend only records them; `tend export` gives
	// each a persistent volume (a StatefulSet's claim, a named volume).
	Data []string `json:"data,omitempty"`
	// Listen are the listening sockets tend opens once for the app and passes
	// to every instance, old and new, so a reload never closes them (systemd
	// socket activation: LISTEN_FDS). Canonical forms: "host:port", ":port",
	// "unix:/path" (see ParseListen). Unlike Ports, tend binds them itself.
	Listen []string `json:"listen,omitempty"`
	// ListenFromPort: Listen was derived from PM2's port (cluster mode, Node).
	ListenFromPort bool `json:"listen_from_port,omitempty"`
	// ReloadTimeout is how long reload waits for a new instance to be ready
	// before it stops it and keeps the old one; 0 means DefaultReloadTimeout.
	ReloadTimeout time.Duration `json:"reload_timeout,omitempty"`

	// ConfigFile is the absolute path of the ecosystem file the app came from ("" for CLI).
	ConfigFile string `json:"config_file,omitempty"`
	// EnvName is the --env name used (env_<name>), "" for none.
	EnvName string `json:"env_name,omitempty"`
	// PM2 is the PM2-normalized option object this App was resolved from (what
	// `tend config --json` prints and jlist reports in pm2_env).
	PM2 map[string]any `json:"pm2,omitempty"`

	// Built-in log rotation (tend's log_max_size, log_retain, log_compress,
	// log_rotate_interval). Unset fields fall back to the daemon's global
	// settings in $TEND_HOME/tend.json; rotation is off unless a size or an
	// interval is set somewhere.
	LogMaxSize        int64  `json:"log_max_size,omitempty"` // bytes
	LogRetain         *int   `json:"log_retain,omitempty"`   // rotated files kept (0: all)
	LogCompress       *bool  `json:"log_compress,omitempty"`
	LogRotateInterval string `json:"log_rotate_interval,omitempty"` // cron expression
}

// Dependency conditions.
const (
	CondStarted   = "started"   // the dependency is online
	CondHealthy   = "healthy"   // its readiness probe passes (online when it has none)
	CondCompleted = "completed" // it exited with status 0 (one-shot tasks such as a migration)
)

// Dependency is one entry of depends_on.
type Dependency struct {
	Name      string `json:"name"`
	Condition string `json:"condition"`
}

// Probe is a readiness or liveness check. Exactly one of HTTP, TCP and Exec
// is set.
type Probe struct {
	HTTP string `json:"http,omitempty"` // URL; success is a status in Status
	TCP  string `json:"tcp,omitempty"`  // host:port that accepts a connection
	Exec string `json:"exec,omitempty"` // command run with sh -c; success is exit 0
	// Status is the accepted HTTP status range, "200-399" by default.
	Status           string        `json:"status,omitempty"`
	Interval         time.Duration `json:"interval"`
	Timeout          time.Duration `json:"timeout"`
	StartPeriod      time.Duration `json:"start_period"`
	FailureThreshold int           `json:"failure_threshold"`
	SuccessThreshold int           `json:"success_threshold"`
}

// Kind names the probe's kind.
func (p *Probe) Kind() string {
	switch {
	case p.HTTP != "":
		return "http"
	case p.TCP != "":
		return "tcp"
	}
	return "exec"
}

// Target is what the probe checks, for messages.
func (p *Probe) Target() string {
	return p.HTTP + p.TCP + p.Exec
}

// Probe defaults: Kubernetes' period, timeout and thresholds, with a 1 s
// interval instead of 10 s because dev environments want to start fast.
const (
	DefaultProbeInterval = time.Second
	DefaultProbeTimeout  = time.Second
	DefaultProbeFailures = 3
)

// Defaults (PM2's where PM2 has the option).
const (
	DefaultMinUptime   = 1000 * time.Millisecond
	DefaultMaxRestarts = 16
	DefaultKillTimeout = 1600 * time.Millisecond
	DefaultNamespace   = "default"
	DefaultKillSignal  = "SIGINT"
	DefaultInstanceVar = "NODE_APP_INSTANCE"
)

// DefaultReloadTimeout is how long a reload waits for a new instance to be
// ready before it gives up and keeps the old one.
const DefaultReloadTimeout = 30 * time.Second

// DefaultListenTimeout is PM2's listen_timeout: without any readiness signal,
// a new instance still running after it counts as ready.
const DefaultListenTimeout = 3000 * time.Millisecond

// IsNode reports whether an interpreter is Node.js.
func IsNode(interp string) bool {
	b := filepath.Base(interp)
	return b == "node" || b == "nodejs" || strings.HasPrefix(b, "node") && strings.Trim(b[4:], "0123456789.") == ""
}
