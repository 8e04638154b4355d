// Package api holds the wire types of tend's local API: the daemon serves
// them over HTTP+JSON on a unix socket, the CLI and the TUI read them.
package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unique"

	"github.com/tend-dev/tend/internal/spec"
)

// Prefix is the path prefix of this version of the API.
const Prefix = "/v1"

// Statuses, as PM2 names them.
const (
	StatusLaunching      = "launching"
	StatusOnline         = "online"
	StatusStopping       = "stopping"
	StatusStopped        = "stopped"
	StatusErrored        = "errored"
	StatusWaitingRestart = "waiting restart"
	StatusOneLaunch      = "one-launch-status"
	// StatusWaiting is tend's: the app waits for its depends_on.
	StatusWaiting = "waiting"
)

// Process is one entry of `tend jlist`, in PM2's shape.
type Process struct {
	PID    int    `json:"pid"`
	Name   string `json:"name"`
	PMID   int    `json:"pm_id"`
	Monit  Monit  `json:"monit"`
	PM2Env Env    `json:"pm2_env"`
}

// Monit is the resource use of the app's whole process tree.
type Monit struct {
	Memory int64   `json:"memory"` // bytes
	CPU    float64 `json:"cpu"`    // percent of one core
	// CPUSeconds is the CPU time (user + system) the live process tree has
	// used, for counters such as tend_process_cpu_seconds_total.
	CPUSeconds float64 `json:"cpu_seconds,omitempty"`
}

// Env is PM2's pm2_env: the app's options plus its runtime state. Options
// holds the PM2-normalized options; the typed fields win over it on output.
type Env struct {
	Name             string `json:"name"`
	Namespace        string `json:"namespace"`
	PMID             int    `json:"pm_id"`
	Status           string `json:"status"`
	RestartTime      int    `json:"restart_time"`
	UnstableRestarts int    `json:"unstable_restarts"`
	PMUptime         int64  `json:"pm_uptime"`  // epoch ms of the last start
	CreatedAt        int64  `json:"created_at"` // epoch ms
	ExecMode         string `json:"exec_mode"`
	Instances        int    `json:"instances"`
	PMExecPath       string `json:"pm_exec_path"`
	PMCwd            string `json:"pm_cwd"`
	PMOutLogPath     string `json:"pm_out_log_path"`
	PMErrLogPath     string `json:"pm_err_log_path"`
	PMLogPath        string `json:"pm_log_path,omitempty"`
	PMPidPath        string `json:"pm_pid_path"`
	ExitCode         *int   `json:"exit_code,omitempty"`
	Autorestart      bool   `json:"autorestart"`
	// Watch is nil when the app's options say nothing of watching (PM2
	// leaves the key out then).
	Watch            *Watch            `json:"watch,omitempty"`
	Interpreter      string            `json:"exec_interpreter"`
	InterpreterArgs  []string          `json:"node_args"`
	Args             []string          `json:"args,omitempty"` // absent when none, as PM2
	Env              map[string]string `json:"env"`
	MaxMemoryRestart int64             `json:"max_memory_restart,omitempty"`
	// InstanceIndex is written under the name InstanceVar holds
	// (NODE_APP_INSTANCE by default), as PM2 does.
	InstanceIndex int    `json:"-"`
	InstanceVar   string `json:"-"`
	Version       string `json:"version,omitempty"`
	NodeVersion   string `json:"node_version,omitempty"`
	Username      string `json:"username,omitempty"`
	UniqueID      string `json:"unique_id,omitempty"`
	// PM2's pmx data: custom metrics, options, actions. tend injects no
	// agent, so they are empty, in PM2's shape, for the tools that read them.
	AxmMonitor map[string]any `json:"axm_monitor"`
	AxmOptions map[string]any `json:"axm_options"`
	AxmActions []any          `json:"axm_actions"`
	AxmDynamic map[string]any `json:"axm_dynamic"`

	// tend's additions.
	// CronRestart is the app's cron_restart as configured (a string, or a
	// number in PM2's files); decoded from the options when not set.
	CronRestart   any    `json:"cron_restart,omitempty"`
	CronNext      int64  `json:"cron_next,omitempty"`    // epoch ms of the next cron_restart
	Health        string `json:"health,omitempty"`       // starting, healthy, unhealthy ("" without probes)
	HealthCheck   string `json:"health_check,omitempty"` // the last failed probe's message
	WaitingFor    string `json:"waiting_for,omitempty"`
	MemoryMode    string `json:"memory_mode,omitempty"`
	Watching      bool   `json:"watching"` // files are being watched right now
	ExitSignal    string `json:"exit_signal,omitempty"`
	RestartReason string `json:"restart_reason,omitempty"`
	ConfigFile    string `json:"config_file,omitempty"`
	KillSignal    string `json:"kill_signal,omitempty"`
	KillTimeout   int64  `json:"kill_timeout"` // ms
	MinUptime     int64  `json:"min_uptime"`   // ms
	MaxRestarts   int    `json:"max_restarts"`
	RestartDelay  int64  `json:"restart_delay"` // ms

	// LogLinesDropped counts the lines of the process its log files could
	// not take (a full disk); LogDropError is the last such failure and
	// LogDropAt its time (epoch ms).
	LogLinesDropped int64  `json:"log_lines_dropped,omitempty"`
	LogDropError    string `json:"log_drop_error,omitempty"`
	LogDropAt       int64  `json:"log_drop_at,omitempty"`

	// LastReload says how the last reload of the process went:
	// "zero-downtime: …", "restart: why", "failed: why", "started: …".
	LastReload string `json:"last_reload,omitempty"`

	// Options are the PM2-normalized options of the app.
	Options map[string]any `json:"-"`
	// Cache, when set, keeps the JSON of Env and Options from one encoding
	// to the next (the daemon's list); nil encodes them each time.
	Cache *EnvCache `json:"-"`
}

// MarshalJSON writes the options first and the typed fields over them, the
// way PM2's pm2_env mixes an app's options with its state. As in PM2, each of
// the app's environment variables is also a key of its own (jq
// .pm2_env.NODE_ENV), below the options and the typed fields, and the
// instance number is written under the name instance_var gives.
func (e Env) MarshalJSON() ([]byte, error) { return e.AppendJSON(nil) }

// AppendJSON appends what MarshalJSON writes to b (a list writes each
// process's pm2_env straight into its answer).
func (e Env) AppendJSON(b []byte) ([]byte, error) {
	c := e.Cache
	if c == nil {
		c = &EnvCache{}
	}
	st := c.get(e)
	typed, err := c.typed(e)
	if err != nil {
		return typed, err
	}
	keys := envKeys()
	// An option gives way to a typed field only when that field is written
	// (an empty omitempty field leaves the option's value); the instance
	// variable wins over both.
	var dyn map[string]any
	rv := reflect.ValueOf(e)
	for _, k := range st.typedOpts {
		if f := keys[k]; f.omitEmpty && rv.Field(f.index).IsZero() {
			if dyn == nil {
				dyn = map[string]any{}
			}
			dyn[k] = e.Options[k]
		}
	}
	if st.iv != "" {
		if dyn == nil {
			dyn = map[string]any{}
		}
		dyn[st.iv] = e.InstanceIndex
	}
	var members []byte
	if len(dyn) > 0 {
		b, err := json.Marshal(dyn)
		if err != nil {
			return nil, err
		}
		members = b[1 : len(b)-1]
	}
	i := bytes.Index(typed, nullEnv) // the first: every string before it is quoted
	if i < 0 {
		return nil, errors.New("pm2_env: no env field")
	}
	out := slices.Grow(b, len(typed)+len(st.env)+len(members)+len(st.rest)+2)
	out = append(out, typed[:i+len(`"env":`)]...)
	out = append(out, st.env...)
	out = append(out, typed[i+len(nullEnv):len(typed)-1]...)
	for _, m := range [][]byte{members, st.rest} {
		if len(m) > 0 {
			out = append(out, ',')
			out = append(out, m...)
		}
	}
	return append(out, '}'), nil
}

var nullEnv = []byte(`"env":null`)

// EnvCache keeps the part of an Env's JSON that changes only with the app's
// options (its variables, twice: under "env" and as keys of their own; its
// options), so that a list of a thousand apps copies those bytes instead of
// encoding a thousand maps. One per process; it is made again when the
// maps it was made from are not the Env's any more (the maps are never
// changed in place).
type EnvCache struct {
	mu    sync.Mutex
	env   map[string]string
	opts  map[string]any
	ivar  string
	state envStatic
	// typedOf is the Env whose typed fields typedJSON holds.
	typedOf   envTyped
	typedJSON []byte
}

type envStatic struct {
	env       string   // the JSON of Env.Env
	rest      []byte   // the variables and options that are not typed fields: `"k":v,…`
	typedOpts []string // the options whose name is a typed field's
	iv        string   // the name the instance number is written under ("" when a typed field's)
}

func (c *EnvCache) get(e Env) envStatic {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.state.env != "" && sameMap(c.env, e.Env) && sameMap(c.opts, e.Options) && c.ivar == e.InstanceVar {
		return c.state
	}
	keys := envKeys()
	iv := e.InstanceVar
	if iv == "" {
		iv = "NODE_APP_INSTANCE"
	}
	if _, typed := keys[iv]; typed {
		iv = ""
	}
	rest := make(map[string]any, len(e.Options)+len(e.Env))
	for k, v := range e.Env {
		if _, typed := keys[k]; !typed && k != iv {
			rest[k] = v
		}
	}
	var typedOpts []string
	for k, v := range e.Options {
		if _, typed := keys[k]; typed {
			typedOpts = append(typedOpts, k)
		} else if k != iv {
			rest[k] = v
		}
	}
	sort.Strings(typedOpts)
	st := envStatic{typedOpts: typedOpts, iv: iv}
	if b, err := json.Marshal(e.Env); err != nil {
		st.env = "null"
	} else {
		// Apps started from one shell mostly have the same variables: one
		// copy of their JSON for them all.
		st.env = unique.Make(string(b)).Value()
	}
	if b, err := json.Marshal(rest); err == nil && len(b) > 2 {
		st.rest = b[1 : len(b)-1]
	}
	c.env, c.opts, c.ivar, c.state = e.Env, e.Options, e.InstanceVar, st
	return st
}

// envTyped is Env without its MarshalJSON: the typed fields as
// encoding/json writes them.
type envTyped Env

// typed is the JSON of e's typed fields, with `"env":null` where the
// variables go. It is encoded again only when a field differs from the
// last encoding's (a thousand idle apps listed again are a thousand
// comparisons, not a thousand reflective encodings of ~50 fields).
func (c *EnvCache) typed(e Env) ([]byte, error) {
	k := envTyped(e)
	k.Env = nil                   // written from the cache: `"env":null` is spliced in
	k.Options, k.Cache = nil, nil // not encoded (json:"-")
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.typedJSON != nil && reflect.DeepEqual(c.typedOf, k) {
		return c.typedJSON, nil
	}
	b, err := json.Marshal(k)
	if err != nil {
		return nil, err
	}
	c.typedOf, c.typedJSON = k, b
	return b, nil
}

// sameMap tells whether a and b are the same map (not equal ones).
func sameMap[M any](a, b M) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// envKeys are the JSON names of Env's typed fields, found on first use (only
// the daemon encodes an Env).
var envKeys = sync.OnceValue(func() map[string]envField {
	m := map[string]envField{}
	t := reflect.TypeOf(Env{})
	for i := 0; i < t.NumField(); i++ {
		name, opts, _ := strings.Cut(t.Field(i).Tag.Get("json"), ",")
		if name != "" && name != "-" {
			m[name] = envField{index: i, omitEmpty: strings.Contains(opts, "omitempty")}
		}
	}
	return m
})

type envField struct {
	index     int
	omitEmpty bool
}

// Watch is pm2_env.watch as PM2 writes it: the list of paths the app was
// given (`--watch src`, `watch: ['src']`), else true or false.
type Watch struct {
	On    bool
	Paths []string
}

// IsOn tells whether files are watched (false for a nil Watch).
func (w *Watch) IsOn() bool { return w != nil && w.On }

// MarshalJSON writes the paths when there are some, else the boolean.
func (w Watch) MarshalJSON() ([]byte, error) {
	if w.On && len(w.Paths) > 0 {
		return json.Marshal(w.Paths)
	}
	return json.Marshal(w.On)
}

// UnmarshalJSON reads a boolean or a list of paths.
func (w *Watch) UnmarshalJSON(b []byte) error {
	var on bool
	if err := json.Unmarshal(b, &on); err == nil {
		*w = Watch{On: on}
		return nil
	}
	var paths []string
	if err := json.Unmarshal(b, &paths); err != nil {
		return err
	}
	*w = Watch{On: len(paths) > 0, Paths: paths}
	return nil
}

// Target selects processes: by name, pm_id, namespace, "all", a regular
// expression between slashes matched against names ("/^api-/"), or a list
// of those.
type Target struct {
	Names []string `json:"names"`
}

// StartRequest asks the daemon to start apps (or restart those already running
// under the same name, with the new options).
type StartRequest struct {
	Apps []spec.App `json:"apps"`
	// Reload replaces the instances of apps that already run without
	// downtime instead of restarting them (`tend reload ecosystem.config.js`).
	Reload bool `json:"reload,omitempty"`
	// Parallel is how many instances of one app reload at once (default 1).
	Parallel int `json:"parallel,omitempty"`
	// Add starts the apps next to those that already run under the same
	// name instead of restarting them (`tend start app.js -f`).
	Add bool `json:"add,omitempty"`
}

// ActionRequest applies an action to the processes a target selects.
type ActionRequest struct {
	Action Action `json:"action"`
	Target Target `json:"target"`
	// UpdateEnv replaces each app's environment with Env (restart --update-env).
	UpdateEnv bool              `json:"update_env,omitempty"`
	Env       map[string]string `json:"env,omitempty"`
	// Parallel is how many instances of one app reload at once (default 1).
	Parallel int `json:"parallel,omitempty"`
	// Signal is the signal of ActionSignal ("SIGUSR2", "USR2" or a number).
	Signal string `json:"signal,omitempty"`
	// Line is what ActionStdin writes, as it is (tend send adds a newline).
	Line string `json:"line,omitempty"`
}

// Action is what an ActionRequest does.
type Action string

// Actions.
const (
	ActionStop    Action = "stop"
	ActionRestart Action = "restart"
	ActionReload  Action = "reload"
	ActionDelete  Action = "delete"
	ActionReset   Action = "reset"
	ActionFlush   Action = "flush"
	// ActionUnwatch stops watching files, leaving the process running
	// (`tend stop app --watch`).
	ActionUnwatch Action = "unwatch"
	// ActionStart starts the processes that are stopped or errored and
	// restarts the others (`tend start <name>`, as PM2).
	ActionStart Action = "start"
	// ActionSignal sends Signal to each process's main pid (`tend sendSignal`).
	ActionSignal Action = "signal"
	// ActionStdin writes Line to each process's standard
	// input (`tend send`, PM2's sendLineToStdin).
	ActionStdin Action = "stdin"
)

// ScaleRequest sets the number of instances of an app: "3", "+2" or "-1".
type ScaleRequest struct {
	Name  string `json:"name"`
	Count string `json:"count"`
}

// SendRequest writes one message to a process's IPC channel, where Node's
// process.on('message') receives it (PM2's sendDataToProcessId).
type SendRequest struct {
	PMID int             `json:"pm_id"`
	Data json.RawMessage `json:"data"`
}

// TriggerRequest runs an action an app declared with @pm2/io (axm:action)
// in every running process the target selects, and waits for its answers.
type TriggerRequest struct {
	Target Target `json:"target"`
	Action string `json:"action"`
	// Param is passed to the action (PM2's trigger <app> <action> [param]).
	Param any `json:"param,omitempty"`
}

// TriggerReply is one process's answer to a TriggerRequest.
type TriggerReply struct {
	PMID   int    `json:"pm_id"`
	Name   string `json:"name"`
	Return any    `json:"return"`
}

// ActionResponse lists the processes the action touched, as they are after it.
type ActionResponse struct {
	Processes []Process `json:"processes"`
}

// Ping is the daemon's answer to /v1/ping.
type Ping struct {
	PID      int    `json:"pid"`
	Version  string `json:"version"`
	Home     string `json:"home"`
	UptimeMS int64  `json:"uptime_ms"`
	// MetricsAddr is where Prometheus metrics are served ("" when off).
	MetricsAddr string `json:"metrics_addr,omitempty"`
	// WebAddr is where the dashboard is served ("" when off).
	WebAddr string `json:"web_addr,omitempty"`
}

// WebRequest asks the daemon to serve the dashboard (`tend web`), or to
// stop serving it.
type WebRequest struct {
	// Addr is host:port; "" means web_addr in tend.json, else DefaultWebAddr.
	// Port 0 picks a free port.
	Addr string `json:"addr,omitempty"`
	// AllowRemote allows an address that is not loopback.
	AllowRemote bool `json:"allow_remote,omitempty"`
	Stop        bool `json:"stop,omitempty"`
}

// WebResponse says where the dashboard is served.
type WebResponse struct {
	Serving bool   `json:"serving"`
	Addr    string `json:"addr,omitempty"`
	// URL opens the dashboard: it carries the access token.
	URL string `json:"url,omitempty"`
	// Remote: the address is reachable from other machines.
	Remote bool `json:"remote,omitempty"`
}

// DefaultWebAddr is where `tend web` serves the dashboard by default.
const DefaultWebAddr = "127.0.0.1:9615"

// Event is one line of the /v1/events stream.
type Event struct {
	Type string `json:"type"` // "process" or "log"
	// Time is epoch milliseconds.
	Time int64  `json:"time"`
	PMID int    `json:"pm_id"`
	Name string `json:"name"`
	// For "process": the new status and why.
	Status string `json:"status,omitempty"`
	Reason string `json:"reason,omitempty"`
	// For "log": the stream ("out" or "err") and the text.
	Stream string `json:"stream,omitempty"`
	Data   string `json:"data,omitempty"`
	// Missed counts events dropped for a follower that read too slowly.
	Missed int64 `json:"missed,omitempty"`
}

// Event types.
const (
	EventProcess = "process"
	EventLog     = "log"
	// EventMissed carries only Missed: the follower fell behind and that many
	// events were dropped for it (it is sent as soon as it catches up).
	EventMissed = "missed"
	// EventMessage is a message an app sent over its IPC channel
	// (process.send) or NOTIFY_SOCKET, other than a readiness signal; Data
	// holds it as sent (JSON for IPC).
	EventMessage = "message"
)

// Error is the body of every non-2xx answer.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error codes.
const (
	CodeNotFound  = "not_found"
	CodeBadInput  = "bad_request"
	CodeForbidden = "forbidden"
	// CodeUnauthorized: no or a wrong access token (HTTP 401; the dashboard).
	CodeUnauthorized = "unauthorized"
	CodeInternal     = "internal"
	// CodeTooLarge: the request body is over the daemon's limit (HTTP 413).
	CodeTooLarge = "too_large"
	// CodeVersion: the client speaks another API version than the daemon
	// (HTTP 400; the Tend-API and Tend-Version headers say which).
	CodeVersion = "version_mismatch"
)

func (e *Error) Error() string { return e.Message }

// ErrNotFound is matched by errors.Is for an Error with CodeNotFound.
var ErrNotFound = errors.New("not found")

// ErrVersion is matched by errors.Is for an Error with CodeVersion.
var ErrVersion = errors.New("API version mismatch")

// Is lets errors.Is(err, ErrNotFound) match a not-found Error from the wire,
// and errors.Is(err, ErrVersion) a version mismatch.
func (e *Error) Is(target error) bool {
	return (target == ErrNotFound && e.Code == CodeNotFound) || (target == ErrVersion && e.Code == CodeVersion)
}

// NotFoundf builds a not-found Error.
func NotFoundf(format string, a ...any) *Error {
	return &Error{Code: CodeNotFound, Message: fmt.Sprintf(format, a...)}
}

// BadInputf builds a bad-request Error.
func BadInputf(format string, a ...any) *Error {
	return &Error{Code: CodeBadInput, Message: fmt.Sprintf(format, a...)}
}

// TargetRegexp reads a target written as PM2's regular expression,
// "/pattern/": ok tells whether n has that form, err whether the pattern is
// valid.
func TargetRegexp(n string) (re *regexp.Regexp, ok bool, err error) {
	if len(n) < 3 || n[0] != '/' || n[len(n)-1] != '/' {
		return nil, false, nil
	}
	re, err = regexp.Compile(n[1 : len(n)-1])
	if err != nil {
		return nil, true, fmt.Errorf("target %s: not a valid regular expression: %w", n, err)
	}
	return re, true, nil
}

// AppendList appends ps as a JSON array to b: what json.Marshal writes,
// without its second pass over each pm2_env (encoding/json checks and
// compacts what a MarshalJSON method returns: a fifth of the time of a list
// of 1,000 apps).
func AppendList(b []byte, ps []Process) ([]byte, error) {
	type head struct {
		PID   int    `json:"pid"`
		Name  string `json:"name"`
		PMID  int    `json:"pm_id"`
		Monit Monit  `json:"monit"`
	}
	b = append(b, '[')
	for i, p := range ps {
		if i > 0 {
			b = append(b, ',')
		}
		h, err := json.Marshal(head{p.PID, p.Name, p.PMID, p.Monit})
		if err != nil {
			return nil, err
		}
		b = append(b, h[:len(h)-1]...)
		b = append(b, `,"pm2_env":`...)
		if b, err = p.PM2Env.AppendJSON(b); err != nil {
			return nil, err
		}
		b = append(b, '}')
	}
	return append(b, ']'), nil
}
